package disruption

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// countClaimWrites makes the controller read through an informer cache, as it does in the operator, and write
// through a client that records its writes. The returned wait blocks until the cache has every NodeClaim write made
// so far.
func (f *fixture) countClaimWrites() (*testenv.Writes, func()) {
	cached, _ := env.Clients(f.t, testenv.NodeClaimProviderIDIndex)
	w := &testenv.Writes{}
	f.c.kube = w.Record(cached)
	synced := func() {
		f.t.Helper()
		ctx, cancel := context.WithTimeout(f.t.Context(), 30*time.Second)
		defer cancel()
		err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			var want, got apiv1.NodeClaimList
			if err := f.kube.List(ctx, &want); err != nil {
				return false, err
			}
			if err := cached.List(ctx, &got); err != nil {
				return false, err
			}
			seen := map[string]string{}
			for _, nc := range got.Items {
				seen[nc.Name] = nc.ResourceVersion
			}
			for _, nc := range want.Items {
				if seen[nc.Name] != nc.ResourceVersion {
					return false, nil
				}
			}
			return len(want.Items) == len(got.Items), nil
		})
		if err != nil {
			f.t.Fatalf("the informer cache did not catch up with the NodeClaims: %v", err)
		}
	}
	return w, synced
}

// TestSteadyPassWritesNothing: once a pass has recorded the conditions of an unchanged cluster (full nodes, quiet
// for consolidateAfter; an expired and a drifted node both held back by do-not-disrupt; an empty node still waiting
// out consolidateAfter), a later pass writes no NodeClaim: the conditions are written only when they change, and
// nothing in them moves with the clock (make scale: 3 PATCHes a NodeClaim a pass at 1,000 nodes).
func TestSteadyPassWritesNothing(t *testing.T) {
	f := newFixture(t)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.ConsolidateAfter = "10s"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	for i := range 4 {
		name := fmt.Sprintf("full-%d", i)
		f.claim(name, np, nil)
		for range 4 {
			f.pod(name, nil)
		}
	}
	guard := map[string]string{apiv1.DoNotDisruptAnnotationKey: apiv1.DoNotDisruptForever}
	f.claim("expired", np, func(nc *apiv1.NodeClaim) { nc.Spec.ExpireAfter = "1m" })
	f.claim("drifted", np, func(nc *apiv1.NodeClaim) { nc.Annotations[apiv1.NodePoolHashAnnotationKey] = "older" })
	for _, name := range []string{"expired", "drifted"} {
		for range 4 {
			f.pod(name, guard)
		}
	}
	// Empty, and a pod left a second ago: it waits out consolidateAfter through both passes.
	waiting := f.claim("waiting", np, nil)
	f.clk.Step(2 * time.Minute)
	waiting.Status.LastPodEventTime = metav1.NewTime(f.clk.Now().Add(-time.Second))
	if err := f.kube.Status().Update(t.Context(), waiting); err != nil {
		t.Fatal(err)
	}
	writes, synced := f.countClaimWrites()
	synced()
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("first pass disrupted %v; want nothing (full nodes, the rest held back)", got)
	}
	first := nodeClaimWrites(writes.Take())
	t.Logf("first pass: %d NodeClaim write(s): %v", len(first), first)
	synced()
	f.clk.Step(7 * time.Second)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("second pass disrupted %v; want nothing", got)
	}
	if got := nodeClaimWrites(writes.Take()); len(got) != 0 {
		t.Errorf("second pass over an unchanged cluster made %d NodeClaim write(s), want 0: %v", len(got), got)
	}
	for name, want := range map[string]string{"full-0": conditionQuiet, "expired": conditionQuiet, "waiting": conditionEmptyWaiting} {
		if c := f.exists(name).StatusConditions().Get(apiv1.ConditionTypeConsolidatable); c == nil || c.Reason != want {
			t.Errorf("%s: Consolidatable %v, want reason %s", name, c, want)
		}
	}
	if !f.exists("drifted").StatusConditions().IsTrue(apiv1.ConditionTypeDrifted) {
		t.Errorf("drifted: not marked Drifted")
	}
}

// nodeClaimWrites keeps the NodeClaim writes of those recorded.
func nodeClaimWrites(writes []string) []string {
	var out []string
	for _, w := range writes {
		if strings.Contains(w, " NodeClaim/") {
			out = append(out, w)
		}
	}
	return out
}
