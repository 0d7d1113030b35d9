package disruption

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestStaticPoolNotConsolidated: a static NodePool's empty node is not consolidated (its count is spec.replicas),
// while an expired one is deleted without planning a replacement: the static controller launches the next node.
func TestStaticPoolNotConsolidated(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Replicas = ptr.To[int64](2)
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
	})
	f.claim("idle", np, nil)
	f.claim("old", np, func(nc *apiv1.NodeClaim) { nc.Spec.ExpireAfter = "2m" })
	f.pod("old", nil)
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v in a static NodePool before anything expired", got)
	}
	if c := f.exists("idle").StatusConditions().Get(apiv1.ConditionTypeConsolidatable); c != nil {
		t.Errorf("the empty node of a static NodePool is marked %+v", c)
	}
	f.clk.Step(2 * time.Minute)
	got := f.disrupt()
	if len(got) != 1 || got[0] != "old" {
		t.Fatalf("disrupted %v, want the expired node [old] only", got)
	}
	claims := &apiv1.NodeClaimList{}
	if err := f.kube.List(t.Context(), claims, client.MatchingLabels{apiv1.NodePoolLabelKey: np.Name}); err != nil {
		t.Fatal(err)
	}
	for _, nc := range claims.Items {
		if nc.Name != "idle" && nc.Name != "old" {
			t.Errorf("disruption created replacement %s in a static NodePool; the static controller keeps the count", nc.Name)
		}
	}
}
