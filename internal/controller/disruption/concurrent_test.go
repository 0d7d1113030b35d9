package disruption

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestPassWritesConditionsConcurrently: when many NodeClaims' conditions change at once (a scale-up's nodes all
// turning Consolidatable consolidateAfter after their last pod), the pass writes them several at a time. One after
// another, 1,000 status patches held a pass for 7.7 s on average at 1,000 nodes in `make scale` (target < 10 s at
// 5,000).
func TestPassWritesConditionsConcurrently(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.ConsolidateAfter = "10s"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "0"}}
	})
	const claims = 24
	for i := range claims {
		name := fmt.Sprintf("full-%02d", i)
		f.claim(name, np, nil)
		for range 4 {
			f.pod(name, nil)
		}
	}
	f.clk.Step(time.Minute)
	overlap := &testenv.Overlap{Delay: 20 * time.Millisecond}
	f.c.kube = testenv.Intercept(f.c.kube, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if _, ok := obj.(*apiv1.NodeClaim); ok {
				return overlap.Do(func() error { return cl.SubResource(sub).Patch(ctx, obj, patch, opts...) })
			}
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	})
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("the pass disrupted %v; want nothing (a budget of 0)", got)
	}
	patches, most := overlap.Counts()
	if patches < claims {
		t.Fatalf("the pass patched %d NodeClaim statuses, want %d (each turns Consolidatable)", patches, claims)
	}
	if most < 2 {
		t.Errorf("the pass wrote %d NodeClaims' conditions one at a time (at most %d in flight), want several at once", patches, most)
	}
	for i := range claims {
		name := fmt.Sprintf("full-%02d", i)
		if c := f.exists(name).StatusConditions().Get(apiv1.ConditionTypeConsolidatable); c == nil || c.Reason != conditionQuiet {
			t.Errorf("%s: Consolidatable %v, want reason %s", name, c, conditionQuiet)
		}
	}
}
