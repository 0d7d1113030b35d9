package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	policy "github.com/tailor-sh/tailor/internal/disruption"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// ReasonUnderutilized is consolidation's reason: the node's pods fit on the rest of the cluster, or on one cheaper
// new node.
const ReasonUnderutilized = policy.ReasonUnderutilized

// eventConsolidationApproved is the event on each node of a consolidation move about to be carried out.
const eventConsolidationApproved = "ConsolidationApproved"

// ValidationWindow is how long a consolidation decision must stand before it is carried out: the same nodes must be
// chosen again after at least this long, so a decision made on a cluster in motion is not acted on.
const ValidationWindow = 10 * time.Second

// MinSpotToSpotOptions is how many cheaper spot instance types a spot node's replacement must be able to choose
// from; see scheduling.MinSpotToSpotOptions.
const MinSpotToSpotOptions = scheduling.MinSpotToSpotOptions

// pendingCommand is a consolidation decision waiting out the validation window.
type pendingCommand struct {
	key string
	at  time.Time
}

// consolidate decides what consolidation does now, with scheduling.Consolidator: delete the largest set of
// candidates whose pods all fit on the remaining nodes (cheapest to disrupt first); failing that, replace the longest
// prefix of candidates (up to the configured cap) by one cheaper node; failing that, replace one candidate by one
// cheaper node. Each move must save what its NodePool's consolidationThreshold and policy require. The decision is
// carried out only once it stood through ValidationWindow. Candidates must already be Consolidatable
// (consolidateAfter passed) in pools whose policy moves pods (WhenEmptyOrUnderutilized or Balanced).
func (c *Controller) consolidate(ctx context.Context, view *state.View, cands []*candidate) (*plan, error) {
	if len(cands) == 0 {
		c.pending = nil
		return nil, nil
	}
	p, err := c.decide(ctx, view, cands)
	if err != nil {
		return nil, err
	}
	if p == nil {
		c.pending = nil
		return nil, nil
	}
	now := c.clk.Now()
	if c.pending == nil || c.pending.key != p.key() {
		c.pending = &pendingCommand{key: p.key(), at: now}
		log.FromContext(ctx).V(1).Info("consolidation decision found; validating", "decision", p.key(), "window", ValidationWindow.String())
		return nil, nil
	}
	if now.Sub(c.pending.at) < ValidationWindow {
		return nil, nil
	}
	c.pending = nil
	c.approved(p)
	return p, nil
}

// approved records a consolidation move that stood through the validation window: an event on each candidate with
// what the move saves and costs, and the saving and score metrics.
func (c *Controller) approved(p *plan) {
	m := p.move
	if m == nil {
		return
	}
	what := "delete"
	if len(p.replacements) > 0 {
		what = "replace by one " + p.replacements[0].Cheapest().InstanceType.Name
	}
	pct := 0.0
	if m.Price > 0 {
		pct = 100 * m.Savings / m.Price
	}
	for _, cand := range p.candidates {
		c.recorder.Eventf(cand.claim, cand.node, corev1.EventTypeNormal, eventConsolidationApproved, "Consolidate",
			"%s %d node(s) ($%.4f/h): saves at least $%.4f/h (%.1f%%; the NodePool requires $%.4f/h), disruption cost %.2f, score %.3f",
			what, len(p.candidates), m.Price, m.Savings, pct, m.Required, m.Disruption, m.Score)
	}
	pool := p.candidates[0].pool.Name
	consolidationSavings.WithLabelValues(pool).Add(m.Savings)
	consolidationScore.WithLabelValues(pool).Observe(m.Score)
}

// decide turns the view and the candidates into the Consolidator's input, and its move into a plan.
func (c *Controller) decide(ctx context.Context, view *state.View, cands []*candidate) (*plan, error) {
	in, byName := view.ConsolidationInput(c.clk.Now())
	in.MaxCandidates = c.maxCandidates
	for _, cand := range cands {
		if n := byName[cand.claim.Name]; n != nil {
			n.Eligible = true
		}
	}
	move, err := scheduling.NewConsolidator(in).Consolidate()
	if err != nil || move == nil {
		return nil, err
	}
	byClaim := map[string]*candidate{}
	for _, cand := range cands {
		byClaim[cand.claim.Name] = cand
	}
	log.FromContext(ctx).V(1).Info("consolidation move found", "nodeclaims", len(move.Candidates), "replace", !move.Delete(),
		"savingsPerHour", move.Savings, "requiredPerHour", move.Required, "disruptionCost", move.Disruption, "score", move.Score)
	p := &plan{reason: ReasonUnderutilized, pools: view.NodePools, move: move}
	for _, n := range move.Candidates {
		p.candidates = append(p.candidates, byClaim[n.NodeClaim])
	}
	if move.Replacement != nil {
		p.replacements = []*scheduling.NodeClaim{move.Replacement}
	}
	return p, nil
}

// Option configures the controller.
type Option func(*Controller)

// WithMaxConsolidationCandidates caps how many nodes one multi-node consolidation move may replace (0 means
// scheduling.DefaultMaxConsolidationCandidates): each step of its binary search simulates that many nodes' pods.
func WithMaxConsolidationCandidates(n int) Option {
	return func(c *Controller) { c.maxCandidates = n }
}
