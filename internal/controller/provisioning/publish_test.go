package provisioning

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// TestPublisher: once a NodeClaim's node name is known (announced at launch), the pods the plan nominated to it carry
// that name as status.nominatedNodeName, and a pod someone else nominated elsewhere keeps its nomination. A restarted
// controller takes the published nominations back instead of planning those pods again. When the plan drops the
// nominations (the NodeClaim went away), the provisioner clears what was published, and only that.
func TestPublisher(t *testing.T) {
	f := newFixture(t, "m6g.2xlarge")
	ctx := t.Context()
	f.nodePool("default", nil)
	pods := f.pendingPods(3, "1", nil)
	foreign := pods[2]
	foreign.Status.NominatedNodeName = "somewhere-else"
	if err := f.kube.Status().Update(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	const node = "ip-10-0-0-42.ec2.internal"
	nc := f.provisionOneLaunched(node, nil)
	if _, err := f.provisioner.publisher.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(nc)}); err != nil {
		t.Fatal(err)
	}
	nominated := f.nominatedNodeName
	for _, p := range pods[:2] {
		if got := nominated(p); got != node {
			t.Errorf("pod %s: status.nominatedNodeName %q, want %q", p.Name, got, node)
		}
	}
	if got := nominated(foreign); got != "somewhere-else" {
		t.Errorf("a nomination someone else set was overwritten: %q", got)
	}

	// A restarted controller: its memory is empty, the pods are still pending. The pods whose nomination names the
	// NodeClaim's node wait for it; only the foreign one is planned, onto the room the NodeClaim kept for it (its
	// requests were sized for all three): no second NodeClaim.
	restarted, err := New(f.provisioner.clk, f.kube, state.NewCluster(f.provisioner.clk, f.kube), f.cloud, f.recorder, NewBatcher(f.provisioner.clk, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	res, err := restarted.Provision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || len(res.NodeClaims) != 0 || len(res.ExistingNodes) != 1 || len(res.ExistingNodes[0].Pods) != 1 ||
		res.ExistingNodes[0].Pods[0].Name != foreign.Name {
		t.Fatalf("after a restart the plan should place only %s, on %s (the others wait for it), got %d new nodeclaims, %d placements",
			foreign.Name, nc.Name, len(res.NodeClaims), len(res.ExistingNodes))
	}

	// The plan changes: the NodeClaim is gone, its pods are planned again and the published nominations cleared.
	if err := f.kube.Delete(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods[:2] {
		if got := nominated(p); got != "" {
			t.Errorf("pod %s: status.nominatedNodeName %q left after its nomination was dropped", p.Name, got)
		}
	}
	if got := nominated(foreign); got != "somewhere-else" {
		t.Errorf("clearing touched a nomination someone else set: %q", got)
	}
}

// TestPatchNominatedNodeNameTests: changing or clearing a nomination fails, and changes nothing, when the pod's
// nomination is no longer the one expected (the kube-scheduler wrote its own meanwhile).
func TestPatchNominatedNodeNameTests(t *testing.T) {
	f := newFixture(t, "m6g.2xlarge")
	ctx := t.Context()
	p := f.pendingPods(1, "1", nil)[0]
	if err := patchNominatedNodeName(ctx, f.kube, p, "", "ours"); err != nil {
		t.Fatal(err)
	}
	if err := patchNominatedNodeName(ctx, f.kube, p, "ours", "theirs"); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"", "mine"} {
		err := patchNominatedNodeName(ctx, f.kube, p, "ours", to)
		if err == nil {
			t.Fatalf("patch from %q to %q succeeded over the value %q", "ours", to, "theirs")
		}
		// publish and ClearStale take these for "changed meanwhile", not for a failure to retry.
		if !apierrors.IsInvalid(err) && !apierrors.IsConflict(err) {
			t.Fatalf("a failed test operation gave %v, neither Invalid nor Conflict", err)
		}
		got := &corev1.Pod{}
		if err := f.kube.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			t.Fatal(err)
		}
		if got.Status.NominatedNodeName != "theirs" {
			t.Fatalf("a failed patch changed the nomination to %q", got.Status.NominatedNodeName)
		}
	}
}

// TestPublisherReleasesSpreadPods: a zone-spread pod's published nomination holds its room until the node has been
// initialized for spreadRelease, then is cleared (the kube-scheduler would count the node's own spread nominees
// against the skew) while Tailor keeps the pod waiting for the NodeClaim and does not publish it again; a pod
// without a spread constraint keeps its nomination.
func TestPublisherReleasesSpreadPods(t *testing.T) {
	f := newFixture(t, "m6g.2xlarge")
	ctx := t.Context()
	clk := f.provisioner.clk.(*clocktesting.FakeClock)
	f.nodePool("default", nil)
	spread := f.pendingPods(1, "1", func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "spread"} // the plain pod does not count in its skew
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
		}}
	})
	plain := f.pendingPods(1, "1", nil)[0]
	const node = "ip-10-0-0-43.ec2.internal"
	nc := f.provisionOneLaunched(node, func(nc *apiv1.NodeClaim) {
		nc.Status.NodeName = node
		nc.StatusConditions().Set(metav1.NewTime(clk.Now()), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	})
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(nc)}
	nominated := f.nominatedNodeName

	res, err := f.provisioner.publisher.Reconcile(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > spreadRelease {
		t.Errorf("just initialized: RequeueAfter %v, want a look again within %v", res.RequeueAfter, spreadRelease)
	}
	for _, p := range append(spread, plain) {
		if got := nominated(p); got != node {
			t.Fatalf("pod %s: status.nominatedNodeName %q before the release, want %q", p.Name, got, node)
		}
	}

	clk.Step(spreadRelease + time.Second)
	for range 2 { // the second pass must not publish the released pods again
		if _, err := f.provisioner.publisher.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range spread {
		if got := nominated(p); got != "" {
			t.Errorf("spread pod %s: status.nominatedNodeName %q after the release, want none", p.Name, got)
		}
		if name, ok := f.provisioner.cluster.Nominations().Nomination(p); !ok || name != nc.Name {
			t.Errorf("spread pod %s: Tailor's nomination %q %v, want it still waiting for %s", p.Name, name, ok, nc.Name)
		}
	}
	if got := nominated(plain); got != node {
		t.Errorf("plain pod: status.nominatedNodeName %q, want %q kept", got, node)
	}
}

// provisionOneLaunched plans the pending pods into exactly one NodeClaim and records its launch as the lifecycle
// controller would: the node's name announced, a provider ID, and whatever status mutate adds.
func (f *fixture) provisionOneLaunched(node string, mutate func(*apiv1.NodeClaim)) *apiv1.NodeClaim {
	f.t.Helper()
	ctx := f.t.Context()
	if _, err := f.provisioner.Provision(ctx); err != nil {
		f.t.Fatal(err)
	}
	claims := f.nodeClaims()
	if len(claims) != 1 {
		var names []string
		for _, c := range claims {
			names = append(names, fmt.Sprintf("%s (deleting %v, created %s)", c.Name, !c.DeletionTimestamp.IsZero(), c.CreationTimestamp))
		}
		f.t.Fatalf("want one nodeclaim, got %v", names)
	}
	nc := &claims[0]
	nc.Annotations[apiv1.NodeNameAnnotationKey] = node
	if err := f.kube.Update(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
	nc.Status.ProviderID = "aws:///us-east-1a/i-" + strings.ReplaceAll(node, ".", "-")
	if mutate != nil {
		mutate(nc)
	}
	if err := f.kube.Status().Update(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
	return nc
}

// nominatedNodeName is the pod's status.nominatedNodeName on the API server.
func (f *fixture) nominatedNodeName(p *corev1.Pod) string {
	f.t.Helper()
	got := &corev1.Pod{}
	if err := f.kube.Get(f.t.Context(), client.ObjectKeyFromObject(p), got); err != nil {
		f.t.Fatal(err)
	}
	return got.Status.NominatedNodeName
}
