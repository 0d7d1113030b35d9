package provisioning

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// callOrder is a client that records NodeClaim creations and pod status patches, in order.
type callOrder struct {
	client.Client
	calls *[]string
}

func (c callOrder) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if _, ok := obj.(*apiv1.NodeClaim); ok {
		*c.calls = append(*c.calls, "create nodeclaim")
	}
	return c.Client.Create(ctx, obj, opts...)
}

func (c callOrder) Status() client.SubResourceWriter { return statusOrder{c.Client.Status(), c.calls} }

type statusOrder struct {
	client.SubResourceWriter
	calls *[]string
}

func (s statusOrder) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if _, ok := obj.(*corev1.Pod); ok {
		*s.calls = append(*s.calls, "patch pod status")
	}
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// TestStaleNominationsClearedAfterThePlan: clearing the status.nominatedNodeName Tailor published for nominations it
// dropped costs one API call a pod. At 5,000 pods the kube-scheduler filled nominated nodes with other pods and a
// batch spent 26 s clearing 3,386 of them before it planned anything (`make scale`); the plan and its launches come
// first now, the clearing after.
func TestStaleNominationsClearedAfterThePlan(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge")
	f.nodePool("default", nil)
	pod := f.pendingPods(1, "1", nil)[0]
	// Published once for a NodeClaim that has gone since: stale.
	pod.Status.NominatedNodeName = "gone-node"
	if err := f.kube.Status().Update(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	// No live nomination: Publish records the value written and refuses the transition, so the value is stale.
	if err := f.provisioner.cluster.Nominations().Publish(state.Publication{UID: pod.UID, Pod: client.ObjectKeyFromObject(pod), Node: "gone-node", NodeClaim: "gone-claim"}); !state.IsTransitionError(err) {
		t.Fatalf("publishing for a gone NodeClaim: %v, want a TransitionError", err)
	}
	var calls []string
	f.provisioner.kube = callOrder{Client: f.kube, calls: &calls}

	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	created, patched := slices.Index(calls, "create nodeclaim"), slices.Index(calls, "patch pod status")
	if created < 0 || patched < 0 {
		t.Fatalf("calls %v: want a nodeclaim created and the stale nomination cleared", calls)
	}
	if patched < created {
		t.Errorf("calls %v: the stale nomination was cleared before the plan's nodeclaim was created", calls)
	}
	got := &corev1.Pod{}
	if err := f.kube.Get(t.Context(), client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.NominatedNodeName == "gone-node" {
		t.Errorf("status.nominatedNodeName still names the gone node")
	}
}

// overlapping is a client whose pod status patches wait, up to a second, for a second patch to be in flight at the
// same time, and closes met when one is.
type overlapping struct {
	client.Client
	inFlight *atomic.Int32
	once     *sync.Once
	met      chan struct{}
}

func (c overlapping) Status() client.SubResourceWriter { return overlapStatus{c.Client.Status(), c} }

type overlapStatus struct {
	client.SubResourceWriter
	c overlapping
}

func (s overlapStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if s.c.inFlight.Add(1) >= 2 {
		s.c.once.Do(func() { close(s.c.met) })
	}
	select {
	case <-s.c.met:
	case <-time.After(time.Second):
	}
	s.c.inFlight.Add(-1)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// TestClearStaleConcurrent: stale nominations are cleared several at a time; one after another, 5,000 of them on a
// busy API server took five minutes (`make scale`).
func TestClearStaleConcurrent(t *testing.T) {
	f := newFixture(t)
	nominations := f.provisioner.cluster.Nominations()
	for _, pod := range f.pendingPods(6, "1", nil) {
		pod.Status.NominatedNodeName = "gone-node"
		if err := f.kube.Status().Update(t.Context(), pod); err != nil {
			t.Fatal(err)
		}
		if err := nominations.Publish(state.Publication{UID: pod.UID, Pod: client.ObjectKeyFromObject(pod), Node: "gone-node", NodeClaim: "gone-claim"}); !state.IsTransitionError(err) {
			t.Fatalf("publishing for a gone NodeClaim: %v, want a TransitionError", err)
		}
	}
	kube := overlapping{Client: f.kube, inFlight: &atomic.Int32{}, once: &sync.Once{}, met: make(chan struct{})}
	if err := ClearStale(t.Context(), kube, nominations); err != nil {
		t.Fatal(err)
	}
	select {
	case <-kube.met:
	default:
		t.Error("ClearStale patched the pods one at a time")
	}
	if n := len(nominations.Stale()); n != 0 {
		t.Errorf("%d publications still stale after ClearStale", n)
	}
}
