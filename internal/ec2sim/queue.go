package ec2sim

import (
	"context"
	"crypto/md5" // SQS checksums message bodies with MD5; it is a checksum, not security.
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// messageRetention is how long SQS keeps a message nobody deletes, by default.
const messageRetention = 4 * 24 * time.Hour

// queue is an SQS standard queue: messages become invisible for a while when received and come back unless
// deleted.
type queue struct {
	name  string
	clock clock.Clock

	mu       sync.Mutex
	messages []*message
	seq      int64
	// changed is closed and replaced whenever a message is sent, waking long polls.
	changed chan struct{}
}

// message is one queued message. It is persisted as JSON.
type message struct {
	ID            string    `json:"id"`
	Body          string    `json:"body"`
	SentAt        time.Time `json:"sentAt"`
	VisibleAt     time.Time `json:"visibleAt"`
	ReceiveCount  int       `json:"receiveCount"`
	FirstReceived time.Time `json:"firstReceived,omitzero"`
	// Receipt is the handle of the latest receive; only it deletes the message.
	Receipt string `json:"receipt,omitempty"`
}

func newQueue(name string, clk clock.Clock) *queue {
	return &queue{name: name, clock: clk, changed: make(chan struct{})}
}

// send queues a message and returns its ID.
func (q *queue) send(body string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	now := q.clock.Now()
	m := &message{ID: messageID(q.name, q.seq, now), Body: body, SentAt: now, VisibleAt: now}
	q.messages = append(q.messages, m)
	close(q.changed)
	q.changed = make(chan struct{})
	return m.ID
}

// messageID is shaped like SQS's (a UUID) and unique per queue and sequence number.
func messageID(queue string, seq int64, t time.Time) string {
	sum := md5.Sum([]byte(fmt.Sprintf("%s/%d/%d", queue, seq, t.UnixNano())))
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// receive returns up to max visible messages, waiting up to wait for one to arrive. Each returned message stays
// invisible for visibility.
func (q *queue) receive(ctx context.Context, max int, wait, visibility time.Duration) []message {
	deadline := q.clock.Now().Add(wait)
	for {
		got, changed, nextVisible := q.take(max, visibility)
		if len(got) > 0 || !q.clock.Now().Before(deadline) {
			return got
		}
		until := deadline
		if !nextVisible.IsZero() && nextVisible.Before(until) {
			until = nextVisible
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-q.clock.After(until.Sub(q.clock.Now())):
		}
	}
}

// take receives what is visible now; it also returns the channel that signals the next send and the earliest time
// an invisible message comes back.
func (q *queue) take(max int, visibility time.Duration) ([]message, <-chan struct{}, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	q.messages = slices.DeleteFunc(q.messages, func(m *message) bool { return now.Sub(m.SentAt) > messageRetention })
	var got []message
	var nextVisible time.Time
	for _, m := range q.messages {
		if m.VisibleAt.After(now) {
			if nextVisible.IsZero() || m.VisibleAt.Before(nextVisible) {
				nextVisible = m.VisibleAt
			}
			continue
		}
		if len(got) == max {
			break
		}
		m.ReceiveCount++
		if m.FirstReceived.IsZero() {
			m.FirstReceived = now
		}
		m.VisibleAt = now.Add(visibility)
		m.Receipt = base64.RawURLEncoding.EncodeToString([]byte(q.name + "#" + m.ID + "#" + strconv.Itoa(m.ReceiveCount)))
		got = append(got, *m)
	}
	return got, q.changed, nextVisible
}

// remove deletes the message a receipt handle names. A handle of the right shape whose message is gone or was
// received again since is accepted, as SQS does; a malformed one is ReceiptHandleIsInvalid.
func (q *queue) remove(receipt string) error {
	raw, err := base64.RawURLEncoding.DecodeString(receipt)
	parts := strings.Split(string(raw), "#")
	if err != nil || len(parts) != 3 || parts[0] != q.name {
		return &apiError{Status: 400, Code: "ReceiptHandleIsInvalid", Sender: true,
			Message: fmt.Sprintf("The input receipt handle \"%s\" is not a valid receipt handle.", receipt)}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.messages {
		if m.ID == parts[1] && m.Receipt == receipt {
			q.messages = append(q.messages[:i], q.messages[i+1:]...)
			return nil
		}
	}
	return nil
}

// snapshot copies the messages for persistence and the admin API.
func (q *queue) snapshot() []message {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]message, 0, len(q.messages))
	for _, m := range q.messages {
		out = append(out, *m)
	}
	return out
}

// restore replaces the messages with persisted ones; in-flight messages become visible again.
func (q *queue) restore(msgs []message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.messages = nil
	now := q.clock.Now()
	for i := range msgs {
		m := msgs[i]
		if m.VisibleAt.After(now) {
			m.VisibleAt = now
		}
		q.messages = append(q.messages, &m)
		q.seq++
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
