package provisioning

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// Batcher collects triggers into batches: a batch opens on the first trigger and closes when no trigger came for the
// idle window, or when the max window has passed since it opened, whichever is first.
type Batcher struct {
	clk     clock.Clock
	idle    time.Duration
	max     time.Duration
	trigger chan struct{}
}

// NewBatcher returns a Batcher with the given windows.
func NewBatcher(clk clock.Clock, idle, maxWindow time.Duration) *Batcher {
	return &Batcher{clk: clk, idle: idle, max: maxWindow, trigger: make(chan struct{}, 1)}
}

// Trigger opens a batch or extends the open one. It never blocks.
func (b *Batcher) Trigger() {
	select {
	case b.trigger <- struct{}{}:
	default:
	}
}

// Wait blocks until a batch opens and closes; it returns false when ctx ends first. poll, when positive, opens a
// batch by itself after that long without a trigger, so pods that were not provisionable yet get another look.
func (b *Batcher) Wait(ctx context.Context, poll time.Duration) bool {
	var pollC <-chan time.Time
	if poll > 0 {
		t := b.clk.NewTimer(poll)
		defer t.Stop()
		pollC = t.C()
	}
	select {
	case <-ctx.Done():
		return false
	case <-b.trigger:
	case <-pollC:
		return true
	}
	maxTimer := b.clk.NewTimer(b.max)
	defer maxTimer.Stop()
	idleTimer := b.clk.NewTimer(b.idle)
	defer idleTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-b.trigger:
			if !idleTimer.Stop() {
				select {
				case <-idleTimer.C():
				default:
				}
			}
			idleTimer.Reset(b.idle)
		case <-idleTimer.C():
			return true
		case <-maxTimer.C():
			return true
		}
	}
}
