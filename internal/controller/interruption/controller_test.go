package interruption

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// holdFinalizer keeps a deleted NodeClaim around so a test can look at it, as the termination finalizer would.
const holdFinalizer = "test.tailor.sh/hold"

// recordedEvent is one Kubernetes event as the test recorder saw it.
type recordedEvent struct {
	Regarding, Related, Type, Reason string
}

// recorder is a narrow fake of events.EventRecorder that remembers which object each event is about.
type recorder struct {
	mu     sync.Mutex
	events []recordedEvent
	notes  []string
}

func (r *recorder) Eventf(regarding, related runtime.Object, eventType, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recordedEvent{Regarding: objectName(regarding), Related: objectName(related), Type: eventType, Reason: reason})
	r.notes = append(r.notes, fmt.Sprintf(note, args...))
}

func (r *recorder) take() ([]recordedEvent, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	events, notes := r.events, r.notes
	r.events, r.notes = nil, nil
	return events, notes
}

func objectName(o runtime.Object) string {
	switch o := o.(type) {
	case *apiv1.NodeClaim:
		return "NodeClaim/" + o.Name
	case *corev1.Node:
		return "Node/" + o.Name
	case nil:
		return ""
	}
	return fmt.Sprintf("%T", o)
}

// queueFunc is a Queue made of a function.
type queueFunc func(ctx context.Context, handle func(context.Context, cloudprovider.InterruptionEvent) error) error

func (f queueFunc) Run(ctx context.Context, handle func(context.Context, cloudprovider.InterruptionEvent) error) error {
	return f(ctx, handle)
}

type fixture struct {
	t        *testing.T
	kube     client.Client // reads from the informer cache, as in the controller
	direct   client.Client // reads from the API server
	clk      *clocktesting.FakeClock
	recorder *recorder
	c        *Controller
}

func newFixture(t *testing.T, queue Queue) *fixture {
	t.Helper()
	cached, direct := env.Clients(t)
	if queue == nil {
		queue = queueFunc(func(context.Context, func(context.Context, cloudprovider.InterruptionEvent) error) error { return nil })
	}
	f := &fixture{t: t, kube: cached, direct: direct, clk: clocktesting.NewFakeClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)), recorder: &recorder{}}
	var err error
	if f.c, err = New(f.clk, f.kube, queue, f.recorder); err != nil {
		t.Fatal(err)
	}
	return f
}

// claim creates a launched NodeClaim for instance i-<name> in us-east-1a, held by holdFinalizer, and (with a node)
// its registered Node <name>-node. It waits until the controller's cache has both.
func (f *fixture) claim(name string, withNode bool) *apiv1.NodeClaim {
	f.t.Helper()
	ctx := f.t.Context()
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}, Finalizers: []string{holdFinalizer}},
		Spec: apiv1.NodeClaimSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
			Resources:    apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		},
	}
	if err := f.direct.Create(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { f.forceDelete(nc.Name) })
	nc.Status.ProviderID = "aws:///us-east-1a/i-" + name
	nc.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeLaunched, metav1.ConditionTrue, "Launched", "")
	if withNode {
		nc.Status.NodeName = name + "-node"
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-node"},
			Spec:       corev1.NodeSpec{ProviderID: nc.Status.ProviderID},
		}
		if err := f.direct.Create(ctx, node); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.direct.Status().Update(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
	f.waitCached(name, func(nc *apiv1.NodeClaim) bool { return nc.Status.ProviderID != "" })
	if withNode {
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			return f.kube.Get(ctx, client.ObjectKey{Name: name + "-node"}, &corev1.Node{}) == nil, nil
		})
		if err != nil {
			f.t.Fatalf("node %s-node never reached the cache: %v", name, err)
		}
	}
	return nc
}

// waitCached waits until the cache's copy of the NodeClaim satisfies cond.
func (f *fixture) waitCached(name string, cond func(*apiv1.NodeClaim) bool) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.t.Context(), 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		nc := &apiv1.NodeClaim{}
		if err := f.kube.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return cond(nc), nil
	})
	if err != nil {
		f.t.Fatalf("nodeclaim %s never reached the cache as expected: %v", name, err)
	}
}

// forceDelete removes a claim and its node whatever their finalizers, so tests leave nothing behind.
func (f *fixture) forceDelete(name string) {
	ctx := context.WithoutCancel(f.t.Context())
	nc := &apiv1.NodeClaim{}
	if err := f.direct.Get(ctx, client.ObjectKey{Name: name}, nc); err == nil {
		nc.Finalizers = nil
		_ = f.direct.Update(ctx, nc)
		_ = f.direct.Delete(ctx, nc)
	}
	_ = f.direct.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name + "-node"}})
}

// get reads a NodeClaim from the API server.
func (f *fixture) get(name string) *apiv1.NodeClaim {
	f.t.Helper()
	nc := &apiv1.NodeClaim{}
	if err := f.direct.Get(f.t.Context(), client.ObjectKey{Name: name}, nc); err != nil {
		f.t.Fatalf("getting nodeclaim %s: %v", name, err)
	}
	return nc
}

// claimOutcome is what a test checks about a NodeClaim after an event.
type claimOutcome struct {
	Deleting         bool
	DisruptingReason string
}

func outcome(nc *apiv1.NodeClaim) claimOutcome {
	out := claimOutcome{Deleting: !nc.DeletionTimestamp.IsZero()}
	if c := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); c != nil && c.Status == metav1.ConditionTrue {
		out.DisruptingReason = c.Reason
	}
	return out
}

func counterValue(t *testing.T, vec *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := vec.WithLabelValues(labels...).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func latencySample(t *testing.T) (count uint64, sum float64) {
	t.Helper()
	m := &dto.Metric{}
	if err := messageLatency.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// actionCounts reads tailor_interruption_actions_total for a kind, for every action.
func actionCounts(t *testing.T, kind cloudprovider.InterruptionKind) map[Action]float64 {
	t.Helper()
	out := map[Action]float64{}
	for _, a := range []Action{ActionDisrupt, ActionRecord, ActionIgnore, ActionAlreadyDeleting, ActionNoNodeClaim} {
		out[a] = counterValue(t, actionsTaken, string(kind), string(a))
	}
	return out
}

func delta(before, after map[Action]float64) map[Action]float64 {
	out := map[Action]float64{}
	for a, v := range after {
		if d := v - before[a]; d != 0 {
			out[a] = d
		}
	}
	return out
}

func TestHandle(t *testing.T) {
	f := newFixture(t, nil)
	// Each case works on its own NodeClaims (names prefixed by the case's prefix); instance i-<claim> is the claim's.
	cases := []struct {
		name   string
		prefix string
		// claims are created first; the bool says whether the claim has a Node.
		claims map[string]bool
		// deleted are claims deleted before the event.
		deleted     []string
		event       cloudprovider.InterruptionEvent
		wantActions map[Action]float64
		wantClaims  map[string]claimOutcome
		wantEvents  []recordedEvent
		// wantNote is a piece of every event's note.
		wantNote string
	}{{
		name:        "spot interruption disrupts the claim",
		prefix:      "spot",
		claims:      map[string]bool{"spot-a": true, "spot-b": true},
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionSpot, ID: "ev-1", InstanceIDs: []string{"i-spot-a"}, Action: "terminate"},
		wantActions: map[Action]float64{ActionDisrupt: 1},
		wantClaims: map[string]claimOutcome{
			"spot-a": {Deleting: true, DisruptingReason: ReasonInterrupted},
			"spot-b": {},
		},
		wantEvents: []recordedEvent{
			{Regarding: "NodeClaim/spot-a", Related: "Node/spot-a-node", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
			{Regarding: "Node/spot-a-node", Related: "NodeClaim/spot-a", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
		},
		wantNote: "spot interruption warning (instance action terminate) for instance i-spot-a (event ev-1)",
	}, {
		name:   "scheduled change disrupts every affected claim, with or without a node",
		prefix: "sched",
		claims: map[string]bool{"sched-a": true, "sched-b": false},
		event: cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionScheduledChange, ID: "ev-2", InstanceIDs: []string{"i-sched-b", "i-sched-a", "i-sched-a"},
			EventTypeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"},
		wantActions: map[Action]float64{ActionDisrupt: 2},
		wantClaims: map[string]claimOutcome{
			"sched-a": {Deleting: true, DisruptingReason: ReasonInterrupted},
			"sched-b": {Deleting: true, DisruptingReason: ReasonInterrupted},
		},
		wantEvents: []recordedEvent{
			{Regarding: "NodeClaim/sched-a", Related: "Node/sched-a-node", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
			{Regarding: "Node/sched-a-node", Related: "NodeClaim/sched-a", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
			{Regarding: "NodeClaim/sched-b", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
		},
		wantNote: "scheduled change AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED for instance i-sched-",
	}, {
		name:        "state change to stopping disrupts",
		prefix:      "stop",
		claims:      map[string]bool{"stop-a": true},
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionStateChange, ID: "ev-3", InstanceIDs: []string{"i-stop-a"}, State: "stopping"},
		wantActions: map[Action]float64{ActionDisrupt: 1},
		wantClaims:  map[string]claimOutcome{"stop-a": {Deleting: true, DisruptingReason: ReasonInterrupted}},
		wantEvents: []recordedEvent{
			{Regarding: "NodeClaim/stop-a", Related: "Node/stop-a-node", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
			{Regarding: "Node/stop-a-node", Related: "NodeClaim/stop-a", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted},
		},
		wantNote: "state change to stopping for instance i-stop-a",
	}, {
		name:        "state change to running is ignored",
		prefix:      "run",
		claims:      map[string]bool{"run-a": true},
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionStateChange, ID: "ev-4", InstanceIDs: []string{"i-run-a"}, State: "running"},
		wantActions: map[Action]float64{ActionIgnore: 1},
		wantClaims:  map[string]claimOutcome{"run-a": {}},
	}, {
		name:        "rebalance recommendation only records events",
		prefix:      "rebal",
		claims:      map[string]bool{"rebal-a": true},
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionRebalance, ID: "ev-5", InstanceIDs: []string{"i-rebal-a"}},
		wantActions: map[Action]float64{ActionRecord: 1},
		wantClaims:  map[string]claimOutcome{"rebal-a": {}},
		wantEvents: []recordedEvent{
			{Regarding: "NodeClaim/rebal-a", Related: "Node/rebal-a-node", Type: corev1.EventTypeNormal, Reason: ReasonRebalanceRecommended},
			{Regarding: "Node/rebal-a-node", Related: "NodeClaim/rebal-a", Type: corev1.EventTypeNormal, Reason: ReasonRebalanceRecommended},
		},
		wantNote: "rebalance recommendation for instance i-rebal-a",
	}, {
		name:        "an unknown instance is dropped",
		prefix:      "unknown",
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionSpot, ID: "ev-6", InstanceIDs: []string{"i-nobody"}, Action: "terminate"},
		wantActions: map[Action]float64{ActionNoNodeClaim: 1},
	}, {
		name:        "a claim already being deleted is left alone (Tailor's own termination, a redelivery)",
		prefix:      "gone",
		claims:      map[string]bool{"gone-a": true},
		deleted:     []string{"gone-a"},
		event:       cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionStateChange, ID: "ev-7", InstanceIDs: []string{"i-gone-a"}, State: "shutting-down"},
		wantActions: map[Action]float64{ActionAlreadyDeleting: 1},
		wantClaims:  map[string]claimOutcome{"gone-a": {Deleting: true}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for name, withNode := range tc.claims {
				f.claim(name, withNode)
			}
			for _, name := range tc.deleted {
				if err := f.direct.Delete(t.Context(), &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
					t.Fatal(err)
				}
				f.waitCached(name, func(nc *apiv1.NodeClaim) bool { return !nc.DeletionTimestamp.IsZero() })
			}
			_, _ = f.recorder.take()
			before := actionCounts(t, tc.event.Kind)
			received := counterValue(t, receivedMessages, string(tc.event.Kind))

			if err := f.c.Handle(t.Context(), tc.event); err != nil {
				t.Fatalf("Handle: %v", err)
			}

			if diff := cmp.Diff(tc.wantActions, delta(before, actionCounts(t, tc.event.Kind))); diff != "" {
				t.Errorf("tailor_interruption_actions_total{kind=%s} increments (-want +got):\n%s", tc.event.Kind, diff)
			}
			if got := counterValue(t, receivedMessages, string(tc.event.Kind)) - received; got != 1 {
				t.Errorf("tailor_interruption_received_messages_total{kind=%s} went up by %v, want 1", tc.event.Kind, got)
			}
			gotClaims := map[string]claimOutcome{}
			for name := range tc.claims {
				gotClaims[name] = outcome(f.get(name))
			}
			if diff := cmp.Diff(tc.wantClaims, gotClaims, cmpEmptyMap); diff != "" {
				t.Errorf("nodeclaims (-want +got):\n%s", diff)
			}
			for name, want := range tc.wantClaims {
				if want.DisruptingReason == "" {
					continue
				}
				msg := f.get(name).StatusConditions().Get(apiv1.ConditionTypeDisrupting).Message
				if !strings.Contains(msg, tc.wantNote) || !strings.Contains(msg, "i-"+name) || !strings.Contains(msg, tc.event.ID) {
					t.Errorf("Disrupting message of %s = %q, want it to name the event (%q, i-%s, %s)", name, msg, tc.wantNote, name, tc.event.ID)
				}
			}
			gotEvents, notes := f.recorder.take()
			sortEvents(gotEvents)
			if diff := cmp.Diff(tc.wantEvents, gotEvents); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			for _, n := range notes {
				if !strings.Contains(n, tc.wantNote) {
					t.Errorf("event note %q does not contain %q", n, tc.wantNote)
				}
			}
		})
	}
}

// cmpEmptyMap treats a nil and an empty map alike.
var cmpEmptyMap = cmp.FilterValues(func(a, b map[string]claimOutcome) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// sortEvents orders events by object name: a claim's event, then its node's (<claim>-node).
func sortEvents(evs []recordedEvent) {
	slices.SortFunc(evs, func(a, b recordedEvent) int {
		return strings.Compare(a.Regarding[strings.Index(a.Regarding, "/")+1:], b.Regarding[strings.Index(b.Regarding, "/")+1:])
	})
}

// TestHandleRedeliveryIsHarmless handles one spot warning twice, as SQS may deliver it: the claim is disrupted once.
func TestHandleRedeliveryIsHarmless(t *testing.T) {
	f := newFixture(t, nil)
	f.claim("twice", true)
	ev := cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionSpot, ID: "ev-twice", InstanceIDs: []string{"i-twice"}, Action: "terminate"}
	before := actionCounts(t, ev.Kind)
	if err := f.c.Handle(t.Context(), ev); err != nil {
		t.Fatalf("first Handle: %v", err)
	}
	first := f.get("twice").StatusConditions().Get(apiv1.ConditionTypeDisrupting)
	f.waitCached("twice", func(nc *apiv1.NodeClaim) bool { return !nc.DeletionTimestamp.IsZero() })
	f.clk.Step(time.Minute)
	if err := f.c.Handle(t.Context(), ev); err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	want := map[Action]float64{ActionDisrupt: 1, ActionAlreadyDeleting: 1}
	if diff := cmp.Diff(want, delta(before, actionCounts(t, ev.Kind))); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	second := f.get("twice").StatusConditions().Get(apiv1.ConditionTypeDisrupting)
	if first == nil || second == nil || !first.LastTransitionTime.Equal(&second.LastTransitionTime) {
		t.Errorf("Disrupting condition changed on redelivery: first %+v, second %+v", first, second)
	}
	if evs, _ := f.recorder.take(); len(evs) != 2 {
		t.Errorf("%d events recorded, want 2 (one on the claim, one on the node, from the first delivery only): %+v", len(evs), evs)
	}
}

// TestHandleDeleteFailureRedelivers shows an event whose action fails comes back: Handle returns an error.
func TestHandleDeleteFailureRedelivers(t *testing.T) {
	f := newFixture(t, nil)
	f.claim("denied", false)
	failing := &failingDeletes{Client: f.kube}
	c, err := New(f.clk, failing, queueFunc(func(context.Context, func(context.Context, cloudprovider.InterruptionEvent) error) error { return nil }), f.recorder)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Handle(t.Context(), cloudprovider.InterruptionEvent{Kind: cloudprovider.InterruptionSpot, InstanceIDs: []string{"i-denied"}})
	if !errors.Is(err, errDenied) {
		t.Fatalf("Handle = %v, want the delete's error so the event is delivered again", err)
	}
	if outcome(f.get("denied")).Deleting {
		t.Error("nodeclaim is being deleted, want it kept by the failed delete")
	}
}

var errDenied = apierrors.NewForbidden(apiv1.GroupVersion.WithResource("nodeclaims").GroupResource(), "denied", errors.New("test"))

type failingDeletes struct{ client.Client }

func (f *failingDeletes) Delete(context.Context, client.Object, ...client.DeleteOption) error {
	return errDenied
}

// TestStartHandsEventsToHandle runs the controller as a Runnable on a queue that delivers two events and checks the
// queue got Handle's verdicts and the latency histogram the fake clock's delays.
func TestStartHandsEventsToHandle(t *testing.T) {
	var verdicts []error
	var f *fixture
	queue := queueFunc(func(ctx context.Context, handle func(context.Context, cloudprovider.InterruptionEvent) error) error {
		sent := f.clk.Now()
		f.clk.Step(3 * time.Second)
		for _, ev := range []cloudprovider.InterruptionEvent{
			{Kind: cloudprovider.InterruptionSpot, Time: sent, InstanceIDs: []string{"i-started"}, Action: "terminate"},
			{Kind: cloudprovider.InterruptionRebalance, Time: sent, InstanceIDs: []string{"i-none"}},
		} {
			verdicts = append(verdicts, handle(ctx, ev))
		}
		return nil
	})
	f = newFixture(t, queue)
	f.claim("started", true)
	count, sum := latencySample(t)
	if err := f.c.Start(t.Context()); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if diff := cmp.Diff([]error{nil, nil}, verdicts, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	if got := outcome(f.get("started")); !got.Deleting || got.DisruptingReason != ReasonInterrupted {
		t.Errorf("nodeclaim after the spot warning: %+v, want deleting with reason Interrupted", got)
	}
	gotCount, gotSum := latencySample(t)
	if gotCount-count != 2 || gotSum-sum != 6 {
		t.Errorf("latency histogram grew by %d samples summing %vs, want 2 samples of 3s", gotCount-count, gotSum-sum)
	}
}

func TestInstanceIDFromProviderID(t *testing.T) {
	for providerID, want := range map[string]string{
		"aws:///us-east-1a/i-0123456789abcdef0": "i-0123456789abcdef0",
		"aws://us-east-1a/i-0abc":               "i-0abc",
		"kwok://node-1":                         "",
		"aws:///us-east-1a/":                    "",
		"":                                      "",
	} {
		if got := instanceID(providerID); got != want {
			t.Errorf("instanceID(%q) = %q, want %q", providerID, got, want)
		}
	}
}

func TestNewRequiresEveryDependency(t *testing.T) {
	q := queueFunc(func(context.Context, func(context.Context, cloudprovider.InterruptionEvent) error) error { return nil })
	if _, err := New(nil, nil, q, &recorder{}); err == nil {
		t.Error("New without a clock or client succeeded, want an error")
	}
	if _, err := New(clocktesting.NewFakeClock(time.Time{}), &failingDeletes{}, nil, &recorder{}); err == nil {
		t.Error("New without a queue succeeded, want an error")
	}
}
