package state

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/operator"
)

// TestNominationToAFullNode: a pod nominated to a NodeClaim whose node registered waits for the kube-scheduler while
// the node has room for it, and is planned again at once when other pods took that room, or (once the node is
// initialized) when a pod that landed there rules it out by anti-affinity (narrow unit test on the fake client: only
// Read and Prune's bookkeeping are under test).
func TestNominationToAFullNode(t *testing.T) {
	tests := []struct {
		name        string
		boundCPU    string // requests of the pod already bound to the node (allocatable 2 cpu)
		initialized bool
		antiAffine  bool // the waiting pod must not share a node with the bound one
		wantPending []string
	}{
		{name: "room left: keep waiting", boundCPU: "500m", wantPending: nil},
		{name: "room left on an initialized node: keep waiting", boundCPU: "500m", initialized: true, wantPending: nil},
		{name: "node filled by others: plan again", boundCPU: "1500m", wantPending: []string{"waiting"}},
		{name: "anti-affine pod landed on the initialized node: plan again", boundCPU: "500m", initialized: true, antiAffine: true, wantPending: []string{"waiting"}},
		// Before initialization the node may still carry startup or not-ready taints: only requests are checked.
		{name: "anti-affine pod landed on a node not yet initialized: keep waiting", boundCPU: "500m", antiAffine: true, wantPending: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme, err := operator.NewScheme()
			if err != nil {
				t.Fatal(err)
			}
			clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
			claim := &apiv1.NodeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "default-a", Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
				Status:     apiv1.NodeClaimStatus{ProviderID: "aws:///us-east-1a/i-1", NodeName: "node-a"},
			}
			if tt.initialized {
				claim.StatusConditions().Set(metav1.NewTime(clk.Now()), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
			}
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelHostname: "node-a"}},
				Spec:       corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1"},
				Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110"),
				}},
			}
			bound := pod("bound", tt.boundCPU)
			bound.Spec.NodeName = "node-a"
			bound.Labels = map[string]string{"app": "db"}
			waiting := pod("waiting", "1")
			if tt.antiAffine {
				waiting.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
						LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
						TopologyKey:   corev1.LabelHostname,
					}},
				}}
			}
			waiting.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
			kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(claim, node, bound, waiting).Build()
			c := NewCluster(clk, kube)
			if err := c.Nominations().Nominate(waiting, claim.Name); err != nil {
				t.Fatal(err)
			}

			v, err := c.Read(t.Context(), func(context.Context, *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) { return nil, nil })
			if err != nil {
				t.Fatal(err)
			}
			c.Prune(v)
			var got []string
			for _, p := range v.Pending {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(tt.wantPending, got); diff != "" {
				t.Errorf("pending pods (-want +got):\n%s", diff)
			}
			// A pod still waiting holds its room on the node it was nominated to, as the kube-scheduler holds it
			// once the nomination is published; a re-planned one does not.
			var onNode []string
			for _, n := range v.Snapshot.Nodes {
				if n.Name == "node-a" {
					for _, p := range n.Pods {
						onNode = append(onNode, p.Name)
					}
				}
			}
			wantOnNode := []string{"bound", "waiting"}
			if len(tt.wantPending) > 0 {
				wantOnNode = []string{"bound"}
			}
			if diff := cmp.Diff(wantOnNode, onNode); diff != "" {
				t.Errorf("pods counted on node-a (-want +got):\n%s", diff)
			}
			// A dead nomination is dropped; a live one is kept (the provisioner re-plans on pod binds only while some
			// nomination is outstanding).
			if want := len(tt.wantPending) == 0; c.Nominations().Any() != want {
				t.Errorf("Nominations().Any() = %v, want %v", c.Nominations().Any(), want)
			}
		})
	}
}

func pod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
	}
}

// TestNominationsOverflowANode: pods waiting on one registered node must fit there together (the kube-scheduler
// reserves room for every pod whose status.nominatedNodeName names the node, and if they overflow it none fits):
// the one that does not fit loses its nomination and is planned again, and its published nomination is due for
// clearing. A restarted Cluster takes back a pending pod whose status.nominatedNodeName is a NodeClaim's announced
// node name (narrow unit test on the fake client).
func TestNominationsOverflowANode(t *testing.T) {
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	claim := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "default-a", Labels: map[string]string{apiv1.NodePoolLabelKey: "default"},
			Annotations: map[string]string{apiv1.NodeNameAnnotationKey: "node-a"}},
		Status: apiv1.NodeClaimStatus{ProviderID: "aws:///us-east-1a/i-1", NodeName: "node-a"},
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelHostname: "node-a"}},
		Spec:       corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1"},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	bound := pod("bound", "500m")
	bound.Spec.NodeName = "node-a"
	unschedulable := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	first, second := pod("first", "1"), pod("second", "1")
	for _, p := range []*corev1.Pod{first, second} {
		p.Status.Conditions = unschedulable
		p.Status.NominatedNodeName = "node-a"
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(claim, node, bound, first, second).Build()
	noTypes := func(context.Context, *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) { return nil, nil }

	// A fresh Cluster (a restarted controller) adopts both published nominations, then finds only one fits.
	c := NewCluster(clk, kube)
	v, err := c.Read(t.Context(), noTypes)
	if err != nil {
		t.Fatal(err)
	}
	c.Prune(v)
	if len(v.Pending) != 1 {
		t.Fatalf("want exactly one of the two 1-cpu pods planned again (1.5 cpu free), got %d pending", len(v.Pending))
	}
	replanned := v.Pending[0]
	kept := first
	if replanned.Name == first.Name {
		kept = second
	}
	if name, ok := c.Nominations().Nomination(kept); !ok || name != claim.Name {
		t.Errorf("pod %s: nomination %q %v, want it kept on %s", kept.Name, name, ok, claim.Name)
	}
	if _, ok := c.Nominations().Nomination(replanned); ok {
		t.Errorf("pod %s kept its nomination though it no longer fits", replanned.Name)
	}
	stale := c.Nominations().Stale()
	if len(stale) != 1 || stale[0].UID != replanned.UID || stale[0].Node != "node-a" {
		t.Errorf("stale publications %+v, want the re-planned pod's on node-a", stale)
	}
	if !c.Nominations().PublishedBy(kept.UID, "node-a") || c.Nominations().PublishedBy(kept.UID, "node-b") {
		t.Errorf("the kept pod's adopted nomination is not recognised as Tailor's")
	}
}

// TestPublicationPending: a NodeClaim's nominations are pending until the publisher marks the round it read as
// published on the node; a nomination made after that round makes them pending again, and a NodeClaim without
// nominations (a restarted controller) has nothing pending.
func TestPublicationPending(t *testing.T) {
	c := NewCluster(clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)), nil)
	if c.Nominations().PublicationPending("claim", "node-a") {
		t.Error("pending with no nomination at all")
	}
	mustNominate(t, c, pod("first", "1"), "claim")
	if !c.Nominations().PublicationPending("claim", "node-a") {
		t.Fatal("not pending right after a nomination")
	}
	todo, round := c.Nominations().ToPublish("claim", "node-a")
	if len(todo) != 1 {
		t.Fatalf("ToPublish listed %d pods, want 1", len(todo))
	}
	mustNominate(t, c, pod("second", "1"), "claim") // arrives while the publisher works on the first round
	c.Nominations().MarkPublished("claim", "node-a", round)
	if !c.Nominations().PublicationPending("claim", "node-a") {
		t.Error("not pending though a nomination came after the round that was published")
	}
	_, round = c.Nominations().ToPublish("claim", "node-a")
	c.Nominations().MarkPublished("claim", "node-a", round)
	if c.Nominations().PublicationPending("claim", "node-a") {
		t.Error("still pending after the latest round was published")
	}
	if !c.Nominations().PublicationPending("claim", "node-b") {
		t.Error("not pending on another node name than the one published to")
	}
}

// TestNominationOfDeletedPod: a pod deleted while it waited for its NodeClaim loses its nomination when the next read
// is pruned, so Nominations().Any() does not stay true for ever.
func TestNominationOfDeletedPod(t *testing.T) {
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).Build()
	c := NewCluster(clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)), kube)
	gone := pod("gone", "1")
	mustNominate(t, c, gone, "claim")
	if err := c.Nominations().Publish(Publication{UID: gone.UID, Pod: types.NamespacedName{Namespace: gone.Namespace, Name: gone.Name}, Node: "node-a", NodeClaim: "claim"}); err != nil {
		t.Fatal(err)
	}
	v, err := c.Read(t.Context(), func(context.Context, *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	c.Prune(v)
	if c.Nominations().Any() {
		t.Error("the deleted pod kept its nomination")
	}
	if c.Nominations().PublishedBy(gone.UID, "node-a") {
		t.Error("the deleted pod kept its publication")
	}
}

func mustNominate(t *testing.T, c *Cluster, p *corev1.Pod, nodeClaim string) {
	t.Helper()
	if err := c.Nominations().Nominate(p, nodeClaim); err != nil {
		t.Fatal(err)
	}
}
