package nodeclaim

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestReconcileOfSteadyClaimWritesNothing: a registered, initialized NodeClaim whose Node already carries its labels,
// taints, owner and finalizer is reconciled again (every Node heartbeat and every condition the disruption
// controller records triggers one): no write, to the Node or the NodeClaim. An optimistic-lock patch is sent even
// when it changes nothing, so the Node must not be patched unless something differs (the likely source of make
// scale's 3,122 PATCHes a disruption pass at 1,000 nodes).
func TestReconcileOfSteadyClaimWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.claim("steady", nil)
	nc := f.reconcileUntil("steady", "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
	node := f.registerNode(nc, true)
	f.reconcileUntil("steady", "initialized", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeInitialized) })
	// Let the cache catch up with the claim and the node as the API server has them.
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, pair := range [][2]client.Object{{&apiv1.NodeClaim{}, &apiv1.NodeClaim{}}, {node.DeepCopy(), node.DeepCopy()}} {
			key := client.ObjectKey{Name: "steady"}
			if _, ok := pair[0].(*apiv1.NodeClaim); !ok {
				key = client.ObjectKeyFromObject(node)
			}
			if err := f.direct.Get(ctx, key, pair[0]); err != nil {
				return false, err
			}
			if err := f.kube.Get(ctx, key, pair[1]); err != nil {
				return false, err
			}
			if pair[0].GetResourceVersion() != pair[1].GetResourceVersion() {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the cache did not catch up: %v", err)
	}
	writes := &testenv.Writes{}
	f.c.kube = writes.Record(f.kube)
	for range 3 {
		if _, err := f.c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "steady"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := writes.Take(); len(got) != 0 {
		t.Errorf("3 reconciles of a steady NodeClaim made %d write(s), want 0: %v", len(got), got)
	}
}
