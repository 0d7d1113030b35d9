package disruption

import (
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestEmptySelectorPDBBlocks: in policy/v1 a PodDisruptionBudget with an empty selector ({}) covers every pod of its
// namespace. One that allows no disruption must hold consolidation back like any other; the pre-check ignored it, and
// the drain would then have stalled on evictions the budget refuses.
func TestEmptySelectorPDBBlocks(t *testing.T) {
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
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: f.ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(3)), Selector: &metav1.LabelSelector{}},
	}
	if err := f.kube.Create(t.Context(), pdb); err != nil {
		t.Fatal(err)
	}
	// No kube-controller-manager runs here: the budget's status says it allows no disruption, as it would with
	// three pods and minAvailable 3.
	f.clk.Step(31 * time.Second)
	f.disrupt()
	f.clk.Step(ValidationWindow)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v despite a PodDisruptionBudget with an empty selector that allows no disruption", got)
	}
}
