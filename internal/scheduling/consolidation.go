package scheduling

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Consolidation decides which nodes to remove, and what to launch in their place, from a cluster view, the nodes'
// prices and each NodePool's policy and threshold. It is pure: the disruption controller acts on its Move, the
// churn benchmark replays a day through it and `tailor explain nodeclaim` words its verdicts.

// MinSpotToSpotOptions is how many cheaper spot instance types a spot node's replacement must be able to choose
// from (Karpenter's rule). With fewer, replacing it would walk the node down to the cheapest, most interrupted
// pools; with enough, the cloud keeps room to pick by availability.
const MinSpotToSpotOptions = 15

// DefaultMaxConsolidationCandidates is how many candidates a multi-node move may take at most when the caller sets
// no cap (Karpenter's fixed 100): it bounds the simulations of the binary search.
const DefaultMaxConsolidationCandidates = 100

// Candidate is a node consolidation may remove, or one that only counts towards its NodePool's totals.
type Candidate struct {
	// Node is the node's name in the Snapshot; NodeClaim and NodePool name its claim and pool.
	Node, NodeClaim, NodePool string
	// CapacityType is the node's capacity type (spot or on-demand) and Price what it costs per hour.
	CapacityType string
	Price        float64
	// PriceUnknown marks a node whose price could not be read: it may still be deleted (that saves whatever it
	// costs), never replaced, and its threshold cannot be checked.
	PriceUnknown bool
	// Pods are the pods its removal would move (not DaemonSet, mirror or finished pods).
	Pods []*corev1.Pod
	// LifetimeElapsed is the fraction of its expireAfter the node has lived, from 0 (new, or never expires) to 1:
	// a node near its expiry is about to be disrupted anyway, so moving its pods now costs less.
	LifetimeElapsed float64
	// Eligible marks nodes consolidation may move now (consolidatable, not blocked, within budget); the others
	// only count towards their NodePool's price and disruption totals.
	Eligible bool
}

// PodDisruptionCost is what evicting the pod costs, as Karpenter counts it: 1, plus its priority over 2^25, plus
// its controller.kubernetes.io/pod-deletion-cost over 2^27, clamped to [0, 10].
func PodDisruptionCost(p *corev1.Pod) float64 {
	cost := 1.0
	if p.Spec.Priority != nil {
		cost += float64(*p.Spec.Priority) / (1 << 25)
	}
	if v, err := strconv.ParseFloat(p.Annotations["controller.kubernetes.io/pod-deletion-cost"], 64); err == nil {
		cost += v / (1 << 27)
	}
	return min(max(cost, 0), 10)
}

// DisruptionCost is the cost of removing the node: 1 for the node itself (so an empty node costs something and a
// pool's total is never 0) plus its pods' costs, scaled by the lifetime it has left.
func (c *Candidate) DisruptionCost() float64 {
	pods := 0.0
	for _, p := range c.Pods {
		pods += PodDisruptionCost(p)
	}
	return 1 + pods*(1-min(max(c.LifetimeElapsed, 0), 1))
}

// PoolTerms are a NodePool's consolidation settings with its totals: the price and disruption cost of all its nodes.
type PoolTerms struct {
	apiv1.ConsolidationTerms
	Price, Disruption float64
}

// Required is the least saving a move of this pool must make when it removes nodes costing price per hour, with
// disruption cost disruption, evicting pods (a move that evicts none must only save something): the threshold's
// fraction of price, its absolute minimum, and for Balanced the saving whose share of the pool's price is at least
// 1/k of the move's share of the pool's disruption cost.
func (t PoolTerms) Required(price, disruption float64, evicts bool) float64 {
	if !evicts {
		return 0
	}
	r := max(t.SavingsFraction*price, t.MinimumHourly)
	if t.Policy == apiv1.ConsolidationPolicyBalanced && t.Disruption > 0 && t.BalanceFactor > 0 {
		r = max(r, disruption*t.Price/(t.Disruption*t.BalanceFactor))
	}
	return r
}

// Score is Balanced's score of a move: its share of the pool's price saved over its share of the pool's disruption.
func (t PoolTerms) Score(savings, disruption float64) float64 {
	if t.Price <= 0 || t.Disruption <= 0 || disruption <= 0 {
		return math.Inf(1)
	}
	return (savings / t.Price) / (disruption / t.Disruption)
}

// Move is one consolidation decision: remove Candidates, after launching Replacement when it is set.
type Move struct {
	Candidates  []*Candidate
	Replacement *NodeClaim
	// Price is what the candidates cost per hour; Savings is Price less the dearest option the replacement may
	// launch, so the move saves at least that much; Required is the least its NodePool's terms asked for.
	Price, Savings, Required float64
	// Disruption is the candidates' disruption cost and Score its Balanced score against the NodePool's totals.
	Disruption, Score float64
}

// Delete tells whether the move removes nodes without launching any.
func (m *Move) Delete() bool { return m.Replacement == nil }

// ConsolidationInput is the cluster view a consolidation decision is made on.
type ConsolidationInput struct {
	Snapshot *Snapshot
	// Nodes are every node of the NodePools considered, Eligible or not, so the totals are the pools' whole.
	Nodes []*Candidate
	// Terms are the consolidation settings of each NodePool, by name.
	Terms map[string]apiv1.ConsolidationTerms
	// MaxCandidates caps the candidates of a multi-node move; 0 means DefaultMaxConsolidationCandidates.
	MaxCandidates int
	// Pending are the pods waiting for capacity (not bound yet, not nominated to capacity still coming): the room
	// of the existing nodes they fit is theirs, not the candidates'.
	Pending []*corev1.Pod
}

// Consolidator holds one consolidation decision's view and the pools' totals.
type Consolidator struct {
	in    ConsolidationInput
	terms map[string]PoolTerms
	// room rules out candidates without simulating them (consolidation_room.go); made on first use. noRoom turns
	// that off, for the test that proves it changes no decision.
	room   *room
	noRoom bool
}

// NewConsolidator computes the pools' totals from the view.
func NewConsolidator(in ConsolidationInput) *Consolidator {
	c := &Consolidator{in: in, terms: map[string]PoolTerms{}}
	if in.Snapshot != nil {
		// Every simulation of the decision starts from the same nodes, with the pending pods' room taken: prepare
		// them once.
		c.in.Snapshot = reserve(in.Snapshot, in.Pending).memoize()
	}
	if c.in.MaxCandidates <= 0 {
		c.in.MaxCandidates = DefaultMaxConsolidationCandidates
	}
	for _, n := range in.Nodes {
		t, ok := c.terms[n.NodePool]
		if !ok {
			t.ConsolidationTerms = in.Terms[n.NodePool]
		}
		t.Price += n.Price
		t.Disruption += n.DisruptionCost()
		c.terms[n.NodePool] = t
	}
	return c
}

// reserve is snap with the pending pods on the existing nodes they fit, as a plan without new capacity puts them,
// counted there as if bound: a scale-up's new nodes are up before the kube-scheduler has bound the pods they were
// bought for, and consolidation must not give that room to the pods of older nodes. Pods held on a candidate move
// with it (SimulateRemoval). A pending pod that fits no
// existing node takes no room (provisioning buys it some). A snapshot the plan cannot read is left as it is: the
// simulations report the same error.
func reserve(snap *Snapshot, pending []*corev1.Pod) *Snapshot {
	if len(pending) == 0 {
		return snap
	}
	existingOnly := *snap
	existingOnly.NodePools = nil
	res, err := Solve(&existingOnly, pending, Options{})
	if err != nil || len(res.ExistingNodes) == 0 {
		return snap
	}
	held := map[string][]*corev1.Pod{}
	for _, ep := range res.ExistingNodes {
		held[ep.Node] = append(held[ep.Node], ep.Pods...)
	}
	out := *snap
	out.reserved = held
	out.Nodes = make([]*ExistingNode, len(snap.Nodes))
	for i, n := range snap.Nodes {
		out.Nodes[i] = n
		if pods := held[n.Name]; len(pods) > 0 {
			c := *n
			c.Pods = append(slices.Clip(n.Pods), pods...)
			out.Nodes[i] = &c
		}
	}
	return &out
}

// Terms are a NodePool's terms with its totals.
func (c *Consolidator) Terms(pool string) PoolTerms { return c.terms[pool] }

// Consolidate chooses the move to take now, or nil: first the largest set of candidates whose pods all fit on the
// remaining nodes (cheapest to disrupt first); failing that, the longest prefix (by disruption cost, within one
// NodePool, up to MaxCandidates) replaced by one cheaper node, found by binary search as Karpenter does; failing
// that, one candidate replaced by one cheaper node. Every move must save what its NodePool's terms require.
func (c *Consolidator) Consolidate() (*Move, error) {
	cands := c.eligible()
	if len(cands) == 0 {
		return nil, nil
	}
	if m, err := c.deleteSet(cands); m != nil || err != nil {
		return m, err
	}
	var best *Move
	for _, pool := range pools(cands) {
		m, err := c.multiNode(pool)
		if err != nil {
			return nil, err
		}
		if m != nil && (best == nil || m.Savings > best.Savings) {
			best = m
		}
	}
	if best != nil {
		return best, nil
	}
	for _, cand := range cands {
		m, why, err := c.evaluate([]*Candidate{cand}, true)
		if err != nil {
			return nil, err
		}
		if why == "" {
			return m, nil
		}
	}
	return nil, nil
}

// eligible are the candidates consolidation may move, of pools whose policy lets it move pods, cheapest to disrupt
// first.
func (c *Consolidator) eligible() []*Candidate {
	var out []*Candidate
	for _, n := range c.in.Nodes {
		if n.Eligible && c.terms[n.NodePool].Policy != apiv1.ConsolidationPolicyWhenEmpty {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].DisruptionCost(), out[j].DisruptionCost(); a != b {
			return a < b
		}
		return out[i].Node < out[j].Node
	})
	return out
}

func pools(cands []*Candidate) []string {
	var out []string
	for _, cand := range cands {
		if !slices.Contains(out, cand.NodePool) {
			out = append(out, cand.NodePool)
		}
	}
	return out
}

// deleteSet grows a set of candidates, each of which would be worth deleting alone, while their pods all still fit
// on the remaining nodes. A set of moves that each pass passes too: savings and disruption add up.
func (c *Consolidator) deleteSet(cands []*Candidate) (*Move, error) {
	var chosen []*Candidate
	for _, cand := range cands[:min(len(cands), c.in.MaxCandidates)] {
		t := c.terms[cand.NodePool]
		if !cand.PriceUnknown && cand.Price < t.Required(cand.Price, cand.DisruptionCost(), len(cand.Pods) > 0) {
			continue
		}
		trial := append(slices.Clone(chosen), cand)
		out, err := c.ruledOut(trial, false, 0, 0)
		if err != nil {
			return nil, err
		}
		if out {
			continue
		}
		results, err := SimulateRemoval(c.in.Snapshot, trial, false)
		if err != nil {
			return nil, err
		}
		if len(results.Unschedulable) == 0 && len(results.NodeClaims) == 0 {
			chosen = trial
		}
	}
	if len(chosen) == 0 {
		return nil, nil
	}
	m := c.measure(chosen)
	m.Savings = m.Price
	m.Score = c.score(chosen, m.Savings, m.Disruption)
	return m, nil
}

// multiNode finds the longest prefix of the pool's candidates, two or more, that one cheaper node (or none) can
// replace. It tries the whole (capped) prefix first, then binary-searches shorter ones as Karpenter does, assuming
// that if a prefix cannot be consolidated no longer one can. The first try covers where that fails: node sizes
// double while prices add, so two nodes may need a replacement of their combined price while three fit on one of
// the same size.
func (c *Consolidator) multiNode(pool string) (*Move, error) {
	var cands []*Candidate
	for _, cand := range c.eligible() {
		if cand.NodePool == pool {
			cands = append(cands, cand)
		}
	}
	cands = cands[:min(len(cands), c.in.MaxCandidates)]
	if len(cands) < 2 {
		return nil, nil
	}
	if m, why, err := c.evaluate(cands, true); why == "" || err != nil {
		return m, err
	}
	var best *Move
	lo, hi := 2, len(cands)-1
	for lo <= hi {
		mid := (lo + hi) / 2
		m, why, err := c.evaluate(cands[:mid], true)
		if err != nil {
			return nil, err
		}
		if why == "" {
			best, lo = m, mid+1
		} else {
			hi = mid - 1
		}
	}
	return best, nil
}

func (c *Consolidator) measure(cands []*Candidate) *Move {
	m := &Move{Candidates: cands}
	for _, cand := range cands {
		m.Price += cand.Price
		m.Disruption += cand.DisruptionCost()
	}
	return m
}

// score is the move's Balanced score against its NodePool's totals (the first candidate's: moves stay in one pool).
func (c *Consolidator) score(cands []*Candidate, savings, disruption float64) float64 {
	return c.terms[cands[0].NodePool].Score(savings, disruption)
}

// Evaluate tells whether removing the candidates (of one NodePool) is a move worth taking: their pods fit on the
// remaining nodes, or on those plus one new node cheaper by at least what the pool's terms require. It returns the
// move as far as it could be measured, and why it is not worth taking ("" when it is).
func (c *Consolidator) Evaluate(cands []*Candidate) (*Move, string, error) {
	return c.evaluate(cands, false)
}

// evaluate is Evaluate; with prune, candidates that room rules out are not simulated (Consolidate's searches, where
// only whether a move exists counts; explain's Evaluate words the simulation's own reason).
func (c *Consolidator) evaluate(cands []*Candidate, prune bool) (*Move, string, error) {
	m := c.measure(cands)
	t := c.terms[cands[0].NodePool]
	evicts := slices.ContainsFunc(cands, func(cand *Candidate) bool { return len(cand.Pods) > 0 })
	m.Required = t.Required(m.Price, m.Disruption, evicts)
	if slices.ContainsFunc(cands, func(cand *Candidate) bool { return cand.PriceUnknown }) {
		return m, "its price is unknown", nil
	}
	if prune {
		out, err := c.ruledOut(cands, true, m.Price, m.Required)
		if err != nil {
			return nil, "", err
		}
		if out {
			return m, fmt.Sprintf("its pods do not fit in the other nodes' room, and no instance type with room for the rest saves the $%.4f/h its NodePool's terms require", m.Required), nil
		}
	}
	results, err := SimulateRemoval(c.in.Snapshot, cands, true)
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(results.Unschedulable) > 0:
		return m, "its pods would not all fit, even on new capacity", nil
	case len(results.NodeClaims) > 1:
		return m, fmt.Sprintf("its pods would need %d new nodes", len(results.NodeClaims)), nil
	case len(results.NodeClaims) == 0:
		m.Savings = m.Price
	default:
		ct := apiv1.CapacityTypeSpot
		for _, cand := range cands {
			if cand.CapacityType != apiv1.CapacityTypeSpot {
				ct = apiv1.CapacityTypeOnDemand
			}
		}
		replacement, why := Cheaper(ct, m.Price-m.Required, m.Required > 0, len(cands) == 1, results.NodeClaims[0])
		if why != "" {
			if m.Required > 0 {
				why = fmt.Sprintf("no replacement saves the $%.4f/h its NodePool's terms require: %s", m.Required, why)
			}
			return m, why, nil
		}
		m.Replacement = replacement
		m.Savings = m.Price - replacement.InstanceTypeOptions[len(replacement.InstanceTypeOptions)-1].Offering.PricePerHour
	}
	m.Score = t.Score(m.Savings, m.Disruption)
	if m.Savings < m.Required || m.Savings <= 0 {
		return m, fmt.Sprintf("saves $%.4f/h of the $%.4f/h its NodePool's terms require", m.Savings, m.Required), nil
	}
	return m, "", nil
}

// Cheaper narrows a planned replacement to the instance types that cost at most ceiling (less than ceiling unless
// inclusive), or says why there is none. As in Karpenter: a spot node is only replaced by spot, and a single spot
// node only with at least MinSpotToSpotOptions such types, of which the cheapest MinSpotToSpotOptions are kept; an
// on-demand node whose replacement may be spot is pinned to spot, so a spot shortage fails the launch instead of
// buying on-demand capacity dearer than the node.
func Cheaper(capacityType string, ceiling float64, inclusive, single bool, planned *NodeClaim) (*NodeClaim, string) {
	target := apiv1.CapacityTypeOnDemand
	if capacityType == apiv1.CapacityTypeSpot || len(optionsOf(planned, apiv1.CapacityTypeSpot, math.Inf(1), false)) > 0 {
		target = apiv1.CapacityTypeSpot
	}
	options := optionsOf(planned, target, ceiling, inclusive)
	if len(options) == 0 {
		return nil, fmt.Sprintf("no %s instance type that fits its pods costs less than $%.4f/h", target, ceiling)
	}
	if capacityType == apiv1.CapacityTypeSpot {
		if single && len(options) < MinSpotToSpotOptions {
			return nil, fmt.Sprintf("spot-to-spot replacement needs %d cheaper spot instance types, found %d", MinSpotToSpotOptions, len(options))
		}
		options = options[:min(len(options), MinSpotToSpotOptions)]
	}
	reqs := planned.Requirements.Clone()
	if err := reqs.Add(Requirement{Key: apiv1.CapacityTypeLabelKey, Operator: OpIn, Values: []string{target}}); err != nil {
		return nil, fmt.Sprintf("pinning capacity type %s: %v", target, err)
	}
	out := *planned
	out.Requirements = reqs
	out.InstanceTypeOptions = options
	return &out, ""
}

// optionsOf are the planned node's instance types with their cheapest available offering of capacity type ct that
// the node's requirements allow and that costs less than below (or exactly below, when inclusive), cheapest first.
func optionsOf(planned *NodeClaim, ct string, below float64, inclusive bool) []InstanceTypeOption {
	if !planned.Requirements.Has(apiv1.CapacityTypeLabelKey, ct) {
		return nil
	}
	var out []InstanceTypeOption
	for _, o := range planned.InstanceTypeOptions {
		best, found := cloudprovider.Offering{}, false
		for _, off := range o.InstanceType.Offerings {
			if !off.Available || off.CapacityType != ct || !planned.Requirements.Has(apiv1.ZoneLabelKey, off.Zone) {
				continue
			}
			if !found || off.PricePerHour < best.PricePerHour {
				best, found = off, true
			}
		}
		if found && (best.PricePerHour < below || (inclusive && best.PricePerHour <= below)) {
			out = append(out, InstanceTypeOption{InstanceType: o.InstanceType, Offering: best})
		}
	}
	slices.SortStableFunc(out, func(a, b InstanceTypeOption) int {
		switch {
		case a.Offering.PricePerHour < b.Offering.PricePerHour:
			return -1
		case a.Offering.PricePerHour > b.Offering.PricePerHour:
			return 1
		}
		return 0
	})
	return out
}

// SimulateRemoval plans the candidates' pods on the cluster without the candidates' nodes; with launch, new capacity
// may be planned from the NodePools, otherwise only existing and in-flight nodes may take them.
func SimulateRemoval(snap *Snapshot, cands []*Candidate, launch bool) (*Results, error) {
	removed := map[string]bool{}
	var pods []*corev1.Pod
	for _, cand := range cands {
		removed[cand.Node] = true
		for _, p := range cand.Pods {
			moved := p.DeepCopy()
			moved.Spec.NodeName = ""
			pods = append(pods, moved)
		}
		// Pending pods whose room reserve kept on the candidate need room elsewhere too.
		pods = append(pods, snap.reserved[cand.Node]...)
	}
	if len(pods) == 0 {
		return &Results{}, nil
	}
	trial := *snap
	if !launch {
		trial.NodePools = nil
	}
	trial.Nodes = make([]*ExistingNode, 0, len(snap.Nodes))
	for _, n := range snap.Nodes {
		if !removed[n.Name] {
			trial.Nodes = append(trial.Nodes, n)
		}
	}
	if snap.memo != nil {
		trial.memo = &nodesMemo{nodesData: snap.memo.nodesData, removed: removed}
	}
	results, err := Solve(&trial, pods, Options{})
	if err != nil {
		return nil, fmt.Errorf("simulating the removal of %d node(s): %w", len(cands), err)
	}
	return results, nil
}
