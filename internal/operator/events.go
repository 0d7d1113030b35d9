package operator

import (
	"context"
	"fmt"
	"hash/maphash"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// client-go's events broadcaster starts a goroutine for every event it is handed, and each waits its turn at the
// events client's rate limiter. A scale-up of 10,000 pods records a Nominated event for each at once: make scale
// found 20,000 such goroutines waiting, and the controller's RSS above 1 GiB, most of it their stacks and requests.
// Handed over at a pace, the broadcaster still kept a copy of every event for 6 to 12 minutes (to turn repeats into
// series): 18 MB at 10,000 pods, growing with the pods. PacedRecorder queues the events instead (a few hundred bytes
// each), drops repeats itself (Dedupe) and writes each event to the API server, no faster than a set pace, keeping
// nothing once it is written.

// Default pace of the events written, below the events client's 200 requests a second (NewEventSink).
const (
	DefaultEventsPerSecond = 150
	DefaultEventsBurst     = 300
	// DefaultEventQueue is how many events may wait: a 10,000-pod batch's Nominated events, and its NodeClaims'.
	// Beyond it an event is dropped and counted (tailor_events_dropped_total); Kubernetes events are best effort.
	DefaultEventQueue = 20000
)

var eventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "tailor_events_dropped_total",
	Help: "Events Tailor did not record, by reason: too many were waiting to be sent to the API server, or the API server refused or did not answer the write.",
}, []string{"reason"})

func init() { metrics.Registry.MustRegister(eventsDropped) }

// EventSink writes one event to the API server.
type EventSink func(ctx context.Context, e *eventsv1.Event) error

// NewEventSink writes events with a client of their own (200 requests a second), so that they never wait behind
// the controllers' requests, nor these behind them.
func NewEventSink(cfg *rest.Config) (EventSink, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.RateLimiter = 200, 300, nil
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("events client: %w", err)
	}
	return func(ctx context.Context, e *eventsv1.Event) error {
		_, err := cs.EventsV1().Events(e.Namespace).Create(ctx, e, metav1.CreateOptions{})
		return err
	}, nil
}

// PacedRecorder is an events.EventRecorder that queues events and writes them to a sink at a limited rate; Start
// runs the writing (it is a manager Runnable). What an event refers to is resolved, and its note formatted, when it
// is recorded, so a caller may change its objects afterwards.
type PacedRecorder struct {
	sink                 EventSink
	scheme               *runtime.Scheme
	limiter              flowcontrol.RateLimiter
	queue                chan *pacedEvent // pointers: 20,000 slots of 8 bytes, not of 200
	controller, instance string           // the events' reportingController and reportingInstance
	clk                  clock.Clock
	lastName             atomic.Int64 // nameSuffix's last

	// dedupe: an event alike to one recorded less than window ago is dropped (Dedupe).
	window time.Duration
	mu     sync.Mutex
	seed   maphash.Seed
	seen   map[uint64]time.Time // by eventKey's hash: the notes are not kept
	swept  time.Time
}

// eventKey is what makes two events alike: the object, the type, the reason and the note.
type eventKey struct {
	uid                     types.UID
	kind, namespace, name   string
	eventtype, reason, note string
}

type pacedEvent struct {
	regarding              corev1.ObjectReference
	related                *corev1.ObjectReference
	eventtype, reason, act string
	note                   string
	at                     time.Time
}

var _ events.EventRecorder = &PacedRecorder{}

// NewPacedRecorder paces the writing of events to sink: at most limiter's rate, with up to queue events waiting.
// The events name controller as their reportingController, and controller-hostname as the instance.
func NewPacedRecorder(sink EventSink, scheme *runtime.Scheme, controller string, limiter flowcontrol.RateLimiter, queue int) *PacedRecorder {
	host, _ := os.Hostname()
	return &PacedRecorder{sink: sink, scheme: scheme, limiter: limiter, queue: make(chan *pacedEvent, queue),
		controller: controller, instance: controller + "-" + host, clk: clock.RealClock{}}
}

// DefaultEventDedupe is how long an event is not recorded again alike (Dedupe): a provisioning pass reports every
// pod it cannot place, and a batch held back by a NodePool limit repeated one event per pod every pass.
const DefaultEventDedupe = 5 * time.Minute

// Dedupe has the recorder drop an event alike to one recorded less than window ago (the same object, type, reason
// and note); clk also dates the events.
func (r *PacedRecorder) Dedupe(clk clock.Clock, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clk, r.window, r.seed, r.seen = clk, window, maphash.MakeSeed(), map[uint64]time.Time{}
}

// Eventf queues the event, or drops and counts it when the queue is full; with Dedupe, an event alike to one
// recorded within the window is dropped. An object without a reference (not in the scheme) is logged and dropped.
func (r *PacedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		log.Log.Error(err, "not recording an event about an object without a reference", "reason", reason)
		return
	}
	e := &pacedEvent{regarding: *ref, eventtype: eventtype, reason: reason, act: action, note: fmt.Sprintf(note, args...), at: r.clk.Now()}
	if related != nil {
		if e.related, err = reference.GetReference(r.scheme, related); err != nil {
			e.related = nil // the event still stands without it
		}
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
func (r *PacedRecorder) repeat(e *pacedEvent) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		return false
	}
	k := maphash.Comparable(r.seed, eventKey{uid: e.regarding.UID, kind: e.regarding.Kind, namespace: e.regarding.Namespace,
		name: e.regarding.Name, eventtype: e.eventtype, reason: e.reason, note: e.note})
	now := e.at
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

// event is the events.k8s.io/v1 Event written for e, shaped as client-go's recorder shapes it.
func (r *PacedRecorder) event(e *pacedEvent) *eventsv1.Event {
	ns := e.regarding.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault // a cluster-scoped object's events live in default
	}
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", e.regarding.Name, r.nameSuffix()), Namespace: ns},
		EventTime:           metav1.NewMicroTime(e.at),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              e.act,
		Reason:              e.reason,
		Regarding:           e.regarding,
		Related:             e.related,
		Note:                e.note,
		Type:                e.eventtype,
	}
}

// nameSuffix is the wall clock in nanoseconds, as client-go names events, but never the same twice: two events
// about one object in the same instant (or at one fake clock's time) would otherwise collide.
func (r *PacedRecorder) nameSuffix() int64 {
	for {
		last := r.lastName.Load()
		next := max(time.Now().UnixNano(), last+1)
		if r.lastName.CompareAndSwap(last, next) {
			return next
		}
	}
}

// eventWriters is how many events are written at once: each write waits for the API server's answer, tens of
// milliseconds under a scale-up's load, so one writer alone sent about 25 events a second.
const eventWriters = 8

// Start writes the queued events until ctx ends, eventWriters at a time. A write the API server refuses is counted
// as dropped; one it did not answer is tried once more.
func (r *PacedRecorder) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("events")
	var wg sync.WaitGroup
	for range eventWriters {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-r.queue:
					if err := r.limiter.Wait(ctx); err != nil {
						return
					}
					r.write(ctx, logger, e)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

func (r *PacedRecorder) write(ctx context.Context, logger logr.Logger, e *pacedEvent) {
	ev := r.event(e)
	err := r.sink(ctx, ev)
	if err != nil && retriable(err) && ctx.Err() == nil {
		err = r.sink(ctx, ev)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
		eventsDropped.WithLabelValues(e.reason).Inc()
		logger.V(1).Info("event not recorded", "reason", e.reason, "regarding", e.regarding.Name, "error", err.Error())
	}
}

// retriable: the API server was busy or did not answer; the same write may succeed.
func retriable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) ||
		apierrors.ReasonForError(err) == metav1.StatusReasonUnknown // no answer at all (a broken connection)
}

// NeedLeaderElection: every replica records its own events (a standby records none).
func (r *PacedRecorder) NeedLeaderElection() bool { return false }
