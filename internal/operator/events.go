package operator

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// client-go's events broadcaster starts a goroutine for every event it is handed, and each waits its turn at the
// events client's rate limiter. A scale-up of 10,000 pods records a Nominated event for each at once: make scale
// found 20,000 such goroutines waiting, and the controller's RSS above 1 GiB, most of it their stacks and requests.
// PacedRecorder queues the events instead (a few hundred bytes each) and hands them to the broadcaster no faster than
// its client sends them.

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

// Eventf queues the event, or drops and counts it when the queue is full.
func (r *PacedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	e := pacedEvent{regarding: r.ref(regarding), eventtype: eventtype, reason: reason, act: action, note: fmt.Sprintf(note, args...)}
	if related != nil {
		e.related = r.ref(related)
	}
	select {
	case r.queue <- e:
	default:
		eventsDropped.WithLabelValues(reason).Inc()
	}
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
