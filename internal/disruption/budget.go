package disruption

import (
	"fmt"
	"math"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// MaxUnhealthyFraction: repair stops in a NodePool while more than this share of its nodes (rounded up) is
// unhealthy. So many broken nodes at once point at something replacing nodes will not fix (a bad image, a network
// or control-plane outage), and replacing them all would only churn.
const MaxUnhealthyFraction = 0.2

// Budget is what a NodePool allows for one method now, and whether a candidate fits in it.
type Budget struct {
	// Allowed is how many of the NodePool's Nodes may be disrupted at once for the reason; for repair, how many may
	// be unhealthy for repair to go on.
	Allowed int
	// Disrupting counts the NodePool's nodes being disrupted already (deleted, or Disrupting); for repair, its
	// unhealthy nodes.
	Disrupting int
	Nodes      int
	// Taken counts the candidates of the same method ahead of this one (by NodeClaim name) that the budget let go in
	// this pass; repair, one node at a time, counts them over every NodePool.
	Taken int
	// Within: the candidate may go now.
	Within bool
	// Err: a budget that cannot be evaluated (it names the NodePool, the field and the fix). The candidate is held;
	// the NodePool's other methods, and other NodePools, are not affected.
	Err error
}

// Counts are, per NodePool, its NodeClaims and those being disrupted (deleted, or Disrupting).
type Counts struct{ Total, Disrupting map[string]int }

// Count counts every NodeClaim of the view by its NodePool label.
func (v *View) Count() Counts {
	c := Counts{Total: map[string]int{}, Disrupting: map[string]int{}}
	for _, nc := range v.NodeClaims {
		pool := nc.Labels[apiv1.NodePoolLabelKey]
		c.Total[pool]++
		if !nc.DeletionTimestamp.IsZero() || nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting) {
			c.Disrupting[pool]++
		}
	}
	return c
}

// PoolBudget is the NodePool's budget for reason at now, before any candidate takes from it.
func (v *View) PoolBudget(counts Counts, pool *apiv1.NodePool, reason string, now time.Time) Budget {
	b := Budget{Nodes: counts.Total[pool.Name], Disrupting: counts.Disrupting[pool.Name]}
	if reason == ReasonUnhealthy {
		b.Allowed = int(math.Ceil(float64(b.Nodes) * MaxUnhealthyFraction))
		b.Disrupting = v.unhealthy(pool.Name)
		b.Within = b.Disrupting <= b.Allowed
		return b
	}
	b.Allowed, b.Err = state.AllowedDisruptions(pool, reason, b.Nodes, now)
	b.Within = b.Err == nil && b.Disrupting < b.Allowed
	return b
}

// unhealthy counts the NodePool's nodes that break a repair policy now, overdue or not.
func (v *View) unhealthy(pool string) int {
	n := 0
	for _, nc := range v.NodeClaims {
		if nc.Labels[apiv1.NodePoolLabelKey] != pool {
			continue
		}
		if node := v.NodeOf(nc); node != nil {
			if policy, _, _ := Unhealthy(v.RepairPolicies, node, time.Time{}); policy != nil {
				n++
			}
		}
	}
	return n
}

// Allot gives each verdict with a method its Budget, in order: a candidate goes when its NodePool's budget for the
// method, less the nodes being disrupted and the candidates of the same method ahead of it, has room. Repair goes one
// node at a time, in NodePools where few enough nodes are unhealthy. Evaluate allots over the candidates nothing
// blocks; the controller allots again over the candidates it keeps after recording (a stale read drops one, a
// capacity buffer's room another).
func (v *View) Allot(verdicts []*Verdict, now time.Time) {
	counts := v.Count()
	taken := map[string]map[string]int{} // method → pool → taken
	repairs := 0
	for _, vd := range verdicts {
		if vd.Method == "" {
			continue
		}
		b := v.PoolBudget(counts, vd.pool, vd.Method, now)
		if vd.Method == ReasonUnhealthy {
			b.Taken = repairs
			b.Within = b.Within && repairs == 0
			if b.Within {
				repairs++
			}
			vd.Budget = &b
			continue
		}
		if taken[vd.Method] == nil {
			taken[vd.Method] = map[string]int{}
		}
		b.Taken = taken[vd.Method][vd.pool.Name]
		b.Within = b.Err == nil && b.Disrupting+b.Taken < b.Allowed
		if b.Within {
			taken[vd.Method][vd.pool.Name]++
		}
		vd.Budget = &b
	}
}

// Describe words a budget that holds a candidate back.
func (b Budget) Describe(reason string) string {
	switch {
	case b.Err != nil:
		return fmt.Sprintf("%s, but the NodePool's budget cannot be read, so the node is held: %v", reason, b.Err)
	case reason == ReasonUnhealthy && b.Disrupting > b.Allowed:
		return fmt.Sprintf("%s, but %d of the NodePool's %d node(s) are unhealthy, more than %.0f%% (%d): repair waits until at most %d are",
			reason, b.Disrupting, b.Nodes, MaxUnhealthyFraction*100, b.Allowed, b.Allowed)
	case reason == ReasonUnhealthy:
		return fmt.Sprintf("%s, but another unhealthy node is repaired first (one at a time)", reason)
	case b.Taken > 0:
		return fmt.Sprintf("%s, but the NodePool's budget allows %d of %d node(s) to be disrupted now, %d already are and %d candidate(s) ahead of it take the rest",
			reason, b.Allowed, b.Nodes, b.Disrupting, b.Taken)
	}
	return fmt.Sprintf("%s, but the NodePool's budget allows %d of %d node(s) to be disrupted now and %d already are",
		reason, b.Allowed, b.Nodes, b.Disrupting)
}
