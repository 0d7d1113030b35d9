package cli

import (
	"context"
	"fmt"
	"math"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// ClaimConsolidation is what consolidation would make of the node on its own, under each policy, computed by the
// decision the disruption controller takes (scheduling.Consolidator.Evaluate) on the controller's view of the
// cluster. It leaves out what the other sections cover: consolidateAfter, the budget, do-not-disrupt and PDBs.
type ClaimConsolidation struct {
	// PricePerHour is what the node costs and DisruptionCost what moving its pods costs (1 for the node, plus each
	// pod's eviction cost from its priority and pod-deletion-cost, scaled by the lifetime the node has left).
	PricePerHour   float64 `json:"pricePerHour"`
	DisruptionCost float64 `json:"disruptionCost"`
	// The NodePool's totals, against which Balanced scores a move.
	NodePoolPricePerHour   float64 `json:"nodePoolPricePerHour"`
	NodePoolDisruptionCost float64 `json:"nodePoolDisruptionCost"`
	// Move is what removing the node alone takes, whatever the threshold: delete (its pods fit elsewhere), replace
	// (with Replacement, the cheapest type that holds its pods, saving up to BestSavingsPerHour), or none (Detail).
	Move               string  `json:"move"`
	Replacement        string  `json:"replacement,omitempty"`
	BestSavingsPerHour float64 `json:"bestSavingsPerHour,omitempty"`
	Detail             string  `json:"detail,omitempty"`
	// Policies say, for each consolidation policy with the NodePool's threshold, whether it would take the move.
	Policies []PolicyVerdict `json:"policies"`
}

// PolicyVerdict is whether one consolidation policy would move the node.
type PolicyVerdict struct {
	Policy string `json:"policy"`
	// Current marks the NodePool's own policy.
	Current bool `json:"current,omitempty"`
	Moves   bool `json:"moves"`
	// SavingsPerHour is the least the move saves under this policy (it launches no type dearer than that allows),
	// RequiredPerHour the least the policy and threshold ask for, and Score the move's Balanced score.
	SavingsPerHour  float64 `json:"savingsPerHour"`
	RequiredPerHour float64 `json:"requiredPerHour"`
	Score           float64 `json:"score"`
	Why             string  `json:"why,omitempty"`
}

// consolidation evaluates the node under WhenEmpty, WhenEmptyOrUnderutilized and Balanced, each with the NodePool's
// threshold and balance factor; nil when the NodeClaim is not a registered node of an existing NodePool.
func (e *explainer) consolidation(ctx context.Context, w *claimWorld) (*ClaimConsolidation, error) {
	if w.pool == nil || w.node == nil || !w.claim.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	view, _, err := e.readCluster(ctx, w.pods)
	if err != nil {
		return nil, err
	}
	in, byName := view.ConsolidationInput(e.clk.Now())
	cand := byName[w.claim.Name]
	if cand == nil {
		return nil, nil
	}
	cand.Eligible = true
	own, err := w.pool.ConsolidationTerms()
	if err != nil {
		return nil, fmt.Errorf("reading nodepool %s: %w", w.pool.Name, err)
	}
	evaluate := func(t apiv1.ConsolidationTerms) (*scheduling.Consolidator, *scheduling.Move, string, error) {
		in.Terms = map[string]apiv1.ConsolidationTerms{}
		for name := range view.NodePools {
			in.Terms[name] = t
		}
		c := scheduling.NewConsolidator(in)
		m, why, err := c.Evaluate([]*scheduling.Candidate{cand})
		return c, m, why, err
	}
	// The move itself: no threshold, so the replacement may be any cheaper type.
	free := own
	free.Policy, free.SavingsFraction, free.MinimumHourly = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, 0, 0
	c, m, why, err := evaluate(free)
	if err != nil {
		return nil, err
	}
	terms := c.Terms(cand.NodePool)
	x := &ClaimConsolidation{PricePerHour: cand.Price, DisruptionCost: cand.DisruptionCost(),
		NodePoolPricePerHour: terms.Price, NodePoolDisruptionCost: terms.Disruption}
	switch {
	case why != "":
		x.Move, x.Detail = "none", why
	case m.Delete():
		x.Move, x.BestSavingsPerHour = "delete", m.Savings
	default:
		cheapest := m.Replacement.Cheapest()
		x.Move = "replace"
		x.Replacement = fmt.Sprintf("%s (%s, $%.4f/h)", cheapest.InstanceType.Name, cheapest.Offering.CapacityType, cheapest.Offering.PricePerHour)
		x.BestSavingsPerHour = cand.Price - cheapest.Offering.PricePerHour
	}
	for _, policy := range []apiv1.ConsolidationPolicy{apiv1.ConsolidationPolicyWhenEmpty, apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, apiv1.ConsolidationPolicyBalanced} {
		v := PolicyVerdict{Policy: string(policy), Current: policy == own.Policy}
		t := own
		t.Policy = policy
		_, m, why, err := evaluate(t)
		if err != nil {
			return nil, err
		}
		v.RequiredPerHour, v.SavingsPerHour, v.Score = m.Required, m.Savings, m.Score
		if math.IsInf(v.Score, 0) {
			v.Score = 0 // the NodePool's totals are unknown (no price): JSON has no infinity
		}
		switch {
		case policy == apiv1.ConsolidationPolicyWhenEmpty && len(cand.Pods) > 0:
			v.Why = fmt.Sprintf("moves only empty nodes; %d pod(s) would move", len(cand.Pods))
		case why != "":
			v.Why = why
		default:
			v.Moves = true
		}
		x.Policies = append(x.Policies, v)
	}
	return x, nil
}

// consolidationText words the consolidation section of `tailor explain nodeclaim`.
func (t *textWriter) consolidationText(c *ClaimConsolidation) {
	if c == nil {
		return
	}
	t.linef("  Consolidation: node $%.4f/h, disruption cost %.2f (NodePool: $%.4f/h, disruption cost %.2f)",
		c.PricePerHour, c.DisruptionCost, c.NodePoolPricePerHour, c.NodePoolDisruptionCost)
	switch c.Move {
	case "delete":
		t.linef("    Move: delete (its pods fit on other nodes), saving $%.4f/h", c.BestSavingsPerHour)
	case "replace":
		t.linef("    Move: replace with %s, saving up to $%.4f/h", c.Replacement, c.BestSavingsPerHour)
	default:
		t.linef("    Move: none: %s", c.Detail)
	}
	rows := [][]string{{"POLICY", "MOVES", "SAVES $/H", "REQUIRES $/H", "SCORE", "WHY NOT"}}
	for _, v := range c.Policies {
		name := v.Policy
		if v.Current {
			name += " (current)"
		}
		moves := "no"
		if v.Moves {
			moves = "yes"
		}
		rows = append(rows, []string{name, moves, fmt.Sprintf("%.4f", v.SavingsPerHour), fmt.Sprintf("%.4f", v.RequiredPerHour),
			fmt.Sprintf("%.2f", v.Score), v.Why})
	}
	t.table("    ", rows)
}
