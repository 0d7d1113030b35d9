package provisioning

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestNominationPublisher: once the node of a NodeClaim exists, the pods the plan nominated to that NodeClaim carry
// the node as status.nominatedNodeName (a pod someone else nominated elsewhere keeps its nomination); when the plan
// drops the nominations (the NodeClaim went away), the provisioner clears what it published.
func TestNominationPublisher(t *testing.T) {
	f := newFixture(t, "m6g.2xlarge")
	ctx := t.Context()
	f.nodePool("default", nil)
	pods := f.pendingPods(3, "1", nil)
	foreign := pods[2]
	foreign.Status.NominatedNodeName = "somewhere-else"
	if err := f.kube.Status().Update(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	if _, err := f.provisioner.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	claims := f.nodeClaims()
	if len(claims) != 1 {
		t.Fatalf("want one nodeclaim, got %d", len(claims))
	}
	nc := &claims[0]
	// Registration, as the lifecycle controller would record it: an instance and a node with its provider ID.
	nc.Status.ProviderID = "aws:///us-east-1a/i-publish"
	nc.Status.NodeName = "ip-10-0-0-42.ec2.internal"
	if err := f.kube.Status().Update(ctx, nc); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nc.Status.NodeName, Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
		Spec:       corev1.NodeSpec{ProviderID: nc.Status.ProviderID},
	}
	if err := f.kube.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.kube.Delete(ctx, node) })

	pub := NewNominationPublisher(f.kube, f.provisioner.cluster)
	if _, err := pub.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(node)}); err != nil {
		t.Fatal(err)
	}
	nominated := func(p *corev1.Pod) string {
		t.Helper()
		got := &corev1.Pod{}
		if err := f.kube.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			t.Fatal(err)
		}
		return got.Status.NominatedNodeName
	}
	for _, p := range pods[:2] {
		if got := nominated(p); got != node.Name {
			t.Errorf("pod %s: status.nominatedNodeName %q, want %q", p.Name, got, node.Name)
		}
	}
	if got := nominated(foreign); got != "somewhere-else" {
		t.Errorf("a nomination someone else set was overwritten: %q", got)
	}

	// The plan changes: the NodeClaim is gone, its pods are planned again and the published nominations cleared.
	if err := f.kube.Delete(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if _, err := f.provisioner.Provision(ctx); err != nil {
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
