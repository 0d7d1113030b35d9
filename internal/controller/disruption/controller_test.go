package disruption

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

type fixture struct {
	t     *testing.T
	kube  client.Client
	clk   *clocktesting.FakeClock
	cloud *fake.CloudProvider
	c     *Controller
	ns    string
}

func newFixture(t *testing.T, instanceTypes ...*cloudprovider.InstanceType) *fixture {
	t.Helper()
	kube := env.DirectClient(t)
	ns := testenv.Namespace(t, kube, "disrupt")
	clk := clocktesting.NewFakeClock(time.Now())
	cloud := fake.New(instanceTypes...)
	c, err := New(clk, kube, kube, cloud, &events.FakeRecorder{}, state.NewCluster(clk, kube))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, kube: kube, clk: clk, cloud: cloud, c: c, ns: ns}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		// No kubelet or namespace controller runs here: remove the pods outright so the next test's nodes of the
		// same names start empty.
		_ = kube.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
		_ = kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
		_ = kube.DeleteAllOf(ctx, &corev1.Node{})
		_ = kube.DeleteAllOf(ctx, &apiv1.NodePool{})
	})
	return f
}

func (f *fixture) pool(mutate func(*apiv1.NodePool)) *apiv1.NodePool {
	f.t.Helper()
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		}}},
	}
	np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmpty
	np.Spec.Disruption.ConsolidateAfter = "30s"
	if mutate != nil {
		mutate(np)
	}
	if err := f.kube.Create(f.t.Context(), np); err != nil {
		f.t.Fatal(err)
	}
	return np
}

// claim makes an initialized NodeClaim of the pool with its node and machine; it was initialized "now" on the fake
// clock.
func (f *fixture) claim(name string, np *apiv1.NodePool, mutate func(*apiv1.NodeClaim)) *apiv1.NodeClaim {
	f.t.Helper()
	providerID := "fake:///us-east-1a/" + name
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{apiv1.NodePoolLabelKey: np.Name},
			Annotations: state.NodePoolHashAnnotations(np),
		},
		Spec: apiv1.NodeClaimSpec{NodeClassRef: np.Spec.Template.Spec.NodeClassRef, ExpireAfter: apiv1.Never},
	}
	if mutate != nil {
		mutate(nc)
	}
	if err := f.kube.Create(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
	nc.Status.ProviderID = providerID
	nc.Status.NodeName = name
	nc.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	if err := f.kube.Status().Update(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
	f.cloud.AddMachine(nc)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{apiv1.NodePoolLabelKey: np.Name, corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	if err := f.kube.Create(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
	// The API server taints new nodes not-ready; only kube-controller-manager (not running here) lifts it.
	node.Spec.Taints = nil
	if err := f.kube.Update(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
	return nc
}

func (f *fixture) pod(node string, annotations map[string]string) {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Namespace: f.ns, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	if err := f.kube.Create(f.t.Context(), p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) disrupt() []string {
	f.t.Helper()
	got, err := f.c.Disrupt(f.t.Context())
	if err != nil {
		f.t.Fatalf("Disrupt: %v", err)
	}
	return got
}

func (f *fixture) exists(name string) *apiv1.NodeClaim {
	nc := &apiv1.NodeClaim{}
	err := f.kube.Get(f.t.Context(), client.ObjectKey{Name: name}, nc)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return nc
}

// TestEmptyNodeRemovedAfterConsolidateAfter: an empty node is marked at once and removed only once consolidateAfter
// has passed; a node with a pod is left alone.
func TestEmptyNodeRemovedAfterConsolidateAfter(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("empty", np, nil)
	f.claim("busy", np, nil)
	f.pod("busy", nil)

	f.clk.Step(10 * time.Second)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v before consolidateAfter", got)
	}
	nc := f.exists("empty")
	cond := nc.StatusConditions().Get(apiv1.ConditionTypeConsolidatable)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != conditionEmptyWaiting {
		t.Errorf("empty node not marked while waiting: %+v", cond)
	}
	// The loop wakes when consolidateAfter runs out (about 20 s from now), not at its next 5 s poll after that.
	if d := f.c.nextDue.Sub(f.clk.Now()); d < 19*time.Second || d > 21*time.Second {
		t.Errorf("next pass due in %s, want about 20s", d)
	}
	f.clk.Step(25 * time.Second)
	if got := f.disrupt(); len(got) != 1 || got[0] != "empty" {
		t.Fatalf("disrupted %v, want [empty]", got)
	}
	if f.exists("empty") != nil {
		t.Errorf("empty nodeclaim not deleted")
	}
	if f.exists("busy") == nil {
		t.Errorf("busy nodeclaim deleted")
	}
	if !f.c.nextDue.IsZero() {
		t.Errorf("next pass due at %s with no empty node waiting", f.c.nextDue)
	}
}

// TestBudgetZeroBlocks: a budget of 0 nodes blocks all voluntary disruption.
func TestBudgetZeroBlocks(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "0"}} })
	f.claim("empty", np, nil)
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v despite a budget of 0", got)
	}
}

// TestDoNotDisrupt: the annotation on a pod keeps an expired node: "true" for ever, a duration for that long from
// the pod's start (then the node goes), and a value that is neither for ever too, with a warning event naming the
// annotation and the fix.
func TestDoNotDisrupt(t *testing.T) {
	for _, tt := range []struct {
		value     string
		goesAfter time.Duration // 0: never
		warning   bool
	}{
		{value: "true"},
		{value: "30m", goesAfter: 31 * time.Minute},
		{value: "for-ever", warning: true},
	} {
		t.Run(tt.value, func(t *testing.T) {
			f := newFixture(t)
			recorder := &events.FakeRecorder{Events: make(chan string, 100)}
			f.c.recorder = recorder
			np := f.pool(nil)
			f.claim("guarded", np, func(nc *apiv1.NodeClaim) { nc.Spec.ExpireAfter = "1m" })
			f.pod("guarded", map[string]string{apiv1.DoNotDisruptAnnotationKey: tt.value})
			f.clk.Step(5 * time.Minute)
			if got := f.disrupt(); len(got) != 0 {
				t.Fatalf("disrupted %v despite a do-not-disrupt pod (%q) 5m after it started", got, tt.value)
			}
			if tt.value == "30m" {
				if due := f.c.nextDue.Sub(f.clk.Now()); due <= 0 || due > 26*time.Minute {
					t.Errorf("next pass due in %s, want when the pod's 30m run out (about 25m)", due)
				}
			}
			warned := false
			for len(recorder.Events) > 0 {
				e := <-recorder.Events
				warned = warned || (strings.Contains(e, eventInvalidDoNotDisrupt) && strings.Contains(e, apiv1.DoNotDisruptAnnotationKey))
			}
			if warned != tt.warning {
				t.Errorf("warning event about the value = %v, want %v", warned, tt.warning)
			}
			f.clk.Step(time.Hour)
			got := f.disrupt()
			if tt.goesAfter == 0 && len(got) != 0 {
				t.Fatalf("disrupted %v despite a do-not-disrupt pod (%q)", got, tt.value)
			}
			if tt.goesAfter != 0 && len(got) != 1 {
				t.Fatalf("disrupted %v, want the expired node once the pod's %s ran out", got, tt.value)
			}
		})
	}
}

// TestExpiration: a node older than expireAfter is replaced even with pods on it.
func TestExpiration(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("old", np, func(nc *apiv1.NodeClaim) { nc.Spec.ExpireAfter = "2m" })
	f.pod("old", nil)
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v before expiry", got)
	}
	f.clk.Step(2 * time.Minute)
	if got := f.disrupt(); len(got) != 1 {
		t.Fatalf("disrupted %v, want the expired node", got)
	}
}

// TestDriftOneBudgetAtATime: changing the NodePool's template drifts its nodes; a budget of 1 replaces one per pass
// while the first is still being removed.
func TestDriftOneBudgetAtATime(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "1"}} })
	for _, name := range []string{"a", "b", "c"} {
		f.claim(name, np, func(nc *apiv1.NodeClaim) { nc.Finalizers = []string{apiv1.TerminationFinalizer} })
		f.pod(name, nil)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		for _, name := range []string{"a", "b", "c"} {
			nc := &apiv1.NodeClaim{}
			if err := f.kube.Get(ctx, client.ObjectKey{Name: name}, nc); err == nil {
				nc.Finalizers = nil
				_ = f.kube.Update(ctx, nc)
			}
		}
	})
	if err := f.kube.Get(t.Context(), client.ObjectKeyFromObject(np), np); err != nil {
		t.Fatal(err)
	}
	np.Spec.Template.ObjectMeta.Labels = map[string]string{"team": "new"}
	if err := f.kube.Update(t.Context(), np); err != nil {
		t.Fatal(err)
	}
	first := f.disrupt()
	if len(first) != 1 {
		t.Fatalf("first pass disrupted %v, want one node", first)
	}
	// The first is still terminating (its finalizer holds it): the budget is used up.
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("second pass disrupted %v while the budget is used", got)
	}
	for _, name := range []string{"a", "b", "c"} {
		nc := f.exists(name)
		if nc == nil {
			t.Fatalf("%s is gone", name)
		}
		if name != first[0] && !nc.StatusConditions().IsTrue(apiv1.ConditionTypeDrifted) {
			t.Errorf("%s not marked Drifted", name)
		}
	}
}

// TestConsolidationDeletesNodeWhosePodsFitElsewhere: two quiet, half-used nodes → the one whose pods fit on the other
// is removed after the validation window; the other stays, since its pods would fit nowhere.
func TestConsolidationDeletesNodeWhosePodsFitElsewhere(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	f.claim("a", np, nil)
	f.claim("b", np, nil)
	f.pod("a", nil)
	f.pod("b", nil)
	f.pod("b", nil)
	recorder := events.NewFakeRecorder(10)
	f.c.recorder = recorder
	f.clk.Step(31 * time.Second)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("acted at once on %v; want a validation window first", got)
	}
	f.clk.Step(ValidationWindow)
	got := f.disrupt()
	if len(got) != 1 || got[0] != "a" {
		t.Fatalf("consolidated %v, want [a] (its one pod fits on b; b's two would not fit on a after)", got)
	}
	if f.exists("b") == nil {
		t.Errorf("b deleted too")
	}
	// The move is explained on the node before it goes.
	var approved string
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, eventConsolidationApproved) {
			approved = e
		}
	}
	if !strings.Contains(approved, "delete 1 node(s)") || !strings.Contains(approved, "the NodePool requires $") || !strings.Contains(approved, "score ") {
		t.Errorf("ConsolidationApproved event %q, want the move, its saving against the requirement and its score", approved)
	}
}

// TestConsolidationRespectsWhenEmpty: with policy WhenEmpty, a quiet half-used node stays.
func TestConsolidationRespectsWhenEmpty(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}} })
	f.claim("a", np, nil)
	f.claim("b", np, nil)
	f.pod("a", nil)
	f.pod("b", nil)
	for range 3 {
		f.clk.Step(ValidationWindow + 31*time.Second)
		if got := f.disrupt(); len(got) != 0 {
			t.Fatalf("consolidated %v under policy WhenEmpty", got)
		}
	}
}
