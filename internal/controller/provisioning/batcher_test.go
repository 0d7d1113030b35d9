package provisioning

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// waitResult runs Wait in the background and returns a channel with its answer.
func waitResult(t *testing.T, b *Batcher, poll time.Duration) <-chan bool {
	done := make(chan bool, 1)
	go func() { done <- b.Wait(t.Context(), poll) }()
	return done
}

// settle steps the fake clock until Wait has armed its timers.
func settle(clk *clocktesting.FakeClock, timers int) {
	for clk.Waiters() < timers {
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherClosesAfterIdleWindow(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	done := waitResult(t, b, 0)
	b.Trigger()
	settle(clk, 2) // idle + max timers
	clk.Step(500 * time.Millisecond)
	b.Trigger() // extends the idle window
	time.Sleep(10 * time.Millisecond)
	clk.Step(700 * time.Millisecond) // 1.2 s since open, 0.7 s since the last trigger: still open
	select {
	case <-done:
		t.Fatal("batch closed before the idle window passed since the last trigger")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Step(400 * time.Millisecond)
	if !<-done {
		t.Fatal("Wait returned false")
	}
}

func TestBatcherClosesAtMaxWindow(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 3*time.Second)
	done := waitResult(t, b, 0)
	b.Trigger()
	settle(clk, 2)
	for range 5 { // a trigger every 800 ms keeps the idle window open...
		clk.Step(800 * time.Millisecond)
		b.Trigger()
		time.Sleep(5 * time.Millisecond)
	}
	select { // ...but the max window (3 s) closed the batch.
	case ok := <-done:
		if !ok {
			t.Fatal("Wait returned false")
		}
	case <-time.After(time.Second):
		t.Fatal("batch still open after the max window")
	}
}

func TestBatcherPollOpensABatch(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 3*time.Second)
	done := waitResult(t, b, 30*time.Second)
	settle(clk, 1)
	clk.Step(30 * time.Second)
	if !<-done {
		t.Fatal("Wait returned false on poll")
	}
}
