package testenv

import (
	"sync"
	"time"
)

// Overlap measures how many calls run at once: tests that a controller makes its writes several at a time. Each call
// through Do is held for Delay (an API server at work), so calls made concurrently overlap.
type Overlap struct {
	Delay time.Duration

	mu             sync.Mutex
	inFlight, most int
	calls          int
}

// Do runs call, counting it in flight meanwhile.
func (o *Overlap) Do(call func() error) error {
	o.mu.Lock()
	o.inFlight++
	o.calls++
	o.most = max(o.most, o.inFlight)
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.inFlight--
		o.mu.Unlock()
	}()
	time.Sleep(o.Delay)
	return call()
}

// Counts are how many calls were made and the most that were in flight at once.
func (o *Overlap) Counts() (calls, most int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls, o.most
}
