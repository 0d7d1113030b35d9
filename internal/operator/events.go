package operator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// client-go's events broadcaster starts a goroutine for every event it is handed, and each waits its turn at the
// events client's rate limiter. A scale-up of 10,000 pods records a Nominated event for each at once: make scale
// found 20,000 such goroutines waiting, and the controller's RSS above 1 GiB, most of it their stacks and requests.
// PacedRecorder queues the events instead (a few hundred bytes each) and hands them to the broadcaster no faster than
// its client sends them, and drops repeats (Dedupe).

// Default pace of the events handed to the broadcaster, below the events client's 200 requests a second (NewManager)
// so that the updates of repeated events (series) fit as well.
const (
	DefaultEventsPerSecond = 150
	DefaultEventsBurst     = 300
	// DefaultEventQueue is how many events may wait: a 10,000-pod batch's Nominated events, and its NodeClaims'.
	// Beyond it an event is dropped and counted (tailor_events_dropped_total); Kubernetes events are best effort.
	DefaultEventQueue = 20000
)

var eventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "tailor_events_dropped_total",
	Help: "Events Tailor did not record because too many were waiting to be sent to the API server, by reason.",
}, []string{"reason"})

func init() { metrics.Registry.MustRegister(eventsDropped) }

// PacedRecorder is an events.EventRecorder that queues events and hands them to another recorder at a limited
// rate; Start runs the hand-over (it is a manager Runnable). What an event refers to is resolved, and its note
// formatted, when it is recorded, so a caller may change its objects afterwards.
type PacedRecorder struct {
	next    events.EventRecorder
	scheme  *runtime.Scheme
	limiter flowcontrol.RateLimiter
	queue   chan pacedEvent

	// dedupe: an event alike to one recorded less than window ago is dropped (Dedupe).
	clk    clock.Clock
	window time.Duration
	mu     sync.Mutex
	seen   map[eventKey]time.Time
	swept  time.Time
}

// eventKey is what makes two events alike: the object, the type, the reason and the note.
type eventKey struct {
	uid                     types.UID
	kind, namespace, name   string
	eventtype, reason, note string
}

type pacedEvent struct {
	regarding, related     runtime.Object
	eventtype, reason, act string
	note                   string
}

var _ events.EventRecorder = &PacedRecorder{}

// NewPacedRecorder paces next: at most limiter's rate, with up to queue events waiting.
func NewPacedRecorder(next events.EventRecorder, scheme *runtime.Scheme, limiter flowcontrol.RateLimiter, queue int) *PacedRecorder {
	return &PacedRecorder{next: next, scheme: scheme, limiter: limiter, queue: make(chan pacedEvent, queue)}
}

// DefaultEventDedupe is how long an event is not recorded again alike (Dedupe): a provisioning pass reports every
// pod it cannot place, and a batch held back by a NodePool limit repeated one event per pod every pass. client-go
// turns repeats into series, whose updates it sends while holding the lock every new event waits for: make scale
// found 33,881 goroutines waiting on it and the controller's RSS at 740 MiB.
const DefaultEventDedupe = 5 * time.Minute

// Dedupe has the recorder drop an event alike to one recorded less than window ago (the same object, type, reason
// and note).
func (r *PacedRecorder) Dedupe(clk clock.Clock, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clk, r.window, r.seen = clk, window, map[eventKey]time.Time{}
}

// Eventf queues the event, or drops and counts it when the queue is full; with Dedupe, an event alike to one
// recorded within the window is dropped.
func (r *PacedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	e := pacedEvent{regarding: r.ref(regarding), eventtype: eventtype, reason: reason, act: action, note: fmt.Sprintf(note, args...)}
	if related != nil {
		e.related = r.ref(related)
	}
	if r.repeat(e) {
		return
	}
	select {
	case r.queue <- e:
	default:
		eventsDropped.WithLabelValues(reason).Inc()
	}
}

// repeat tells whether an event alike was recorded within the dedupe window, and records this one otherwise.
func (r *PacedRecorder) repeat(e pacedEvent) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		return false
	}
	k := eventKey{eventtype: e.eventtype, reason: e.reason, note: e.note}
	if ref, ok := e.regarding.(*corev1.ObjectReference); ok {
		k.uid, k.kind, k.namespace, k.name = ref.UID, ref.Kind, ref.Namespace, ref.Name
	}
	now := r.clk.Now()
	if at, ok := r.seen[k]; ok && now.Sub(at) < r.window {
		return true
	}
	r.seen[k] = now
	if now.Sub(r.swept) >= r.window { // forget what has left the window, once per window
		for key, at := range r.seen {
			if now.Sub(at) >= r.window {
				delete(r.seen, key)
			}
		}
		r.swept = now
	}
	return false
}

// ref is the object's reference, which is all the broadcaster keeps of it; the object itself if it has none (the
// broadcaster then reports the error as it would have).
func (r *PacedRecorder) ref(obj runtime.Object) runtime.Object {
	ref, err := reference.GetReference(r.scheme, obj)
	if err != nil {
		return obj
	}
	return ref
}

// Start hands the queued events over until ctx ends.
func (r *PacedRecorder) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-r.queue:
			if err := r.limiter.Wait(ctx); err != nil {
				return nil
			}
			r.next.Eventf(e.regarding, e.related, e.eventtype, e.reason, e.act, "%s", e.note)
		}
	}
}

// NeedLeaderElection: every replica records its own events (a standby records none).
func (r *PacedRecorder) NeedLeaderElection() bool { return false }
