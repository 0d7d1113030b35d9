package disruption

import (
	"fmt"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// Verdict is the disruption policy's word on one NodeClaim at one moment.
type Verdict struct {
	Claim *apiv1.NodeClaim
	// NotCandidate says why the NodeClaim is not considered at all; the rest is empty then.
	NotCandidate NotCandidate
	// Candidate is what the methods read.
	Candidate *Candidate
	// Findings are every method's word, in the order they run.
	Findings []Finding
	// Method is the first method that applies, or "".
	Method string
	// Blockers keep the node from going whatever the method; see Blocked for whether they hold Method back.
	Blockers []Blocker
	// Forceful says why Method goes despite Blockers, or "".
	Forceful string
	// Budget is the NodePool's budget for Method, when Method applies and is not blocked (see View.Allot).
	Budget *Budget

	pool *apiv1.NodePool
}

// Blocked tells whether the Blockers hold the verdict's method back.
func (v *Verdict) Blocked() bool { return v.Method != "" && v.Forceful == "" && len(v.Blockers) > 0 }

// Disruptable tells whether the node may go now by Method: it applies, nothing blocks it, and the budget has room.
func (v *Verdict) Disruptable() bool {
	return v.Method != "" && !v.Blocked() && v.Budget != nil && v.Budget.Within
}

// Finding returns the finding of the method named reason.
func (v *Verdict) Finding(reason string) (Finding, bool) {
	for _, f := range v.Findings {
		if f.Reason == reason {
			return f, true
		}
	}
	return Finding{}, false
}

// Summary words the verdict in one sentence.
func (v *Verdict) Summary() string {
	switch {
	case v.NotCandidate != "":
		return v.NotCandidate.Describe(v.Claim)
	case v.Method == "":
		return "not eligible for disruption: it is not unhealthy, has not expired, has not drifted, is not empty long enough and is no consolidation candidate"
	case v.Blocked():
		return fmt.Sprintf("%s, but blocked: %s", v.Method, v.Blockers[0])
	case v.Budget != nil && !v.Budget.Within:
		return v.Budget.Describe(v.Method)
	}
	s := fmt.Sprintf("eligible now: %s; the disruption controller deletes it on its next pass (while the budget has room)", v.Method)
	switch {
	case v.Method == ReasonUnderutilized:
		s = "eligible now: Underutilized; consolidation moves it when a move saves enough (see Consolidation)"
	case v.Forceful != "":
		s += "; " + v.Forceful
	}
	return s
}

// Evaluate returns one Verdict per NodeClaim of the view, in the view's order: whether it is a candidate, each
// method's finding, the first method that applies, what blocks it, and its NodePool's budget (View.Allot).
func Evaluate(v *View, now time.Time) []*Verdict {
	out := make([]*Verdict, 0, len(v.NodeClaims))
	var free []*Verdict
	for _, nc := range v.NodeClaims {
		vd := v.evaluate(nc, now)
		out = append(out, vd)
		if vd.Method != "" && !vd.Blocked() {
			free = append(free, vd)
		}
	}
	v.Allot(free, now)
	return out
}

func (v *View) evaluate(nc *apiv1.NodeClaim, now time.Time) *Verdict {
	vd := &Verdict{Claim: nc, NotCandidate: v.Considered(nc)}
	node, pool := v.NodeOf(nc), v.NodePoolOf(nc)
	if node == nil || pool == nil {
		return vd
	}
	// A NodeClaim that is no candidate (deleting, not initialized, busy) still gets the findings, for people; it has
	// no method.
	c := &Candidate{Claim: nc, Node: node, Pool: pool, Pods: state.MovablePods(v.PodsByNode[node.Name]),
		Awaiting:  v.AwaitingClaim[nc.Name] + v.AwaitingNode[node.Name],
		PoolDrift: state.CheckNodePoolDrift(nc, pool), Provider: v.ProviderDrift[nc.Name], RepairPolicies: v.RepairPolicies}
	c.Consolidation = ConsolidationOf(nc, pool, len(c.Pods) == 0 && c.Awaiting == 0, now)
	vd.Candidate, vd.pool = c, pool
	for _, m := range Methods {
		f := m.Evaluate(c, now)
		vd.Findings = append(vd.Findings, f)
		if f.Applies && vd.Method == "" && vd.NotCandidate == "" {
			vd.Method = f.Reason
		}
	}
	vd.Blockers = Blockers(c, v.PDBs, now)
	switch {
	case vd.Method == ReasonUnhealthy:
		vd.Forceful = "repair is not held back by do-not-disrupt or PodDisruptionBudgets: the node is not running its pods anyway"
	case vd.Method == ReasonExpired && nc.Spec.TerminationGracePeriod != nil:
		// Without the bound, do-not-disrupt and budgets hold an expired node as any other: its drain could
		// otherwise wait forever on a node already cordoned.
		vd.Forceful = "expiry is forceful when the NodeClaim bounds its drain with a terminationGracePeriod (the drain still honours PodDisruptionBudgets until it ends)"
	}
	return vd
}
