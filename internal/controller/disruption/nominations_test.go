package disruption

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestDisruptionReadKeepsNominations: the disruption controller reads the cluster (state.Cluster.Read) to consolidate,
// and that read leaves the provisioner's nominations alone, even the ones provisioning's own Prune would end (a pod
// bound since, a pod deleted): nominations are provisioning's bookkeeping, pruned only by its reconcile.
func TestDisruptionReadKeepsNominations(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	f.claim("a", np, nil)
	f.claim("b", np, nil)
	f.pod("a", nil)
	bound := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: f.ns},
		Spec: corev1.PodSpec{NodeName: "b", Containers: []corev1.Container{{Name: "app", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	if err := f.kube.Create(t.Context(), bound); err != nil {
		t.Fatal(err)
	}
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gone", Namespace: f.ns, UID: types.UID("gone-uid")}}
	for _, p := range []*corev1.Pod{bound, gone} {
		if err := f.c.cluster.Nominations().Nominate(p, "b"); err != nil {
			t.Fatal(err)
		}
	}

	f.clk.Step(31 * time.Second) // past consolidateAfter: node a is an underutilized candidate, which needs a read
	f.disrupt()

	for _, p := range []*corev1.Pod{bound, gone} {
		if claim, ok := f.c.cluster.Nominations().Nomination(p); !ok || claim != "b" {
			t.Errorf("pod %s: nomination %q %v after a disruption read, want it left on b for provisioning to prune", p.Name, claim, ok)
		}
	}
}
