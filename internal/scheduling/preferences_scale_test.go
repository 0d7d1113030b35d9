package scheduling

import (
	"math"
	"testing"
)

// TestPreferencesDoNotExplodeFleet plans the diverse mix with every constraint preferred (preferredDiversePods:
// soft zone and hostname spreads, preferred zone affinity, preferred hostname anti-affinity among a fifth of the
// pods) under the default Cost policy and again with preferences ignored, and checks that honouring them costs at
// most 10% more nodes and 3% more money. Under Cost a preference is honoured only on capacity the plan buys anyway,
// except soft HA, which may open a node for each of haDomains domains per group: here 8 groups (7 hostname-spread
// values and the anti-affinity fifth), at most 24 nodes on any size of batch, so the gap shrinks as the batch grows;
// 10% leaves room for that at 5,000 pods (about 70 nodes) without letting a per-pod node through, which the
// Respect policy shows (one node per pod of the anti-affinity fifth: over 1,000 nodes).
func TestPreferencesDoNotExplodeFleet(t *testing.T) {
	const n = 5000
	types := catalogTypes(t)
	plan := func(policy PreferencePolicy) *Results {
		snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
		res := solve(t, snap, preferredDiversePods(n), Options{Preferences: policy})
		if len(res.Unschedulable) > 0 {
			t.Fatalf("%s: %d pods unschedulable: %v", policy, len(res.Unschedulable), res.Unschedulable[0].Reasons)
		}
		return res
	}
	ignored, cost := plan(PreferenceIgnore), plan(PreferenceCost)
	maxNodes := int(math.Ceil(1.1 * float64(len(ignored.NodeClaims))))
	if got := len(cost.NodeClaims); got > maxNodes {
		t.Errorf("%d preferred-diverse pods: %d nodes honouring preferences, %d ignoring them; want at most %d (1.1×)", n, got, len(ignored.NodeClaims), maxNodes)
	}
	if got, base := cost.TotalPricePerHour(), ignored.TotalPricePerHour(); got > 1.03*base {
		t.Errorf("%d preferred-diverse pods: $%.3f/h honouring preferences, $%.3f/h ignoring them; want at most 1.03×", n, got, base)
	}
	t.Logf("%d pods: %d nodes ($%.3f/h) with preferences (Cost), %d ($%.3f/h) ignoring them", n, len(cost.NodeClaims), cost.TotalPricePerHour(), len(ignored.NodeClaims), ignored.TotalPricePerHour())
}
