package scheduling

import (
	"cmp"
	"slices"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// improve lowers the price of the plan while it stays valid: it merges the least utilized NodeClaims into others
// when one node of the combined shape is cheaper than the two. Only claims whose pods are free (no inter-pod term
// involves them, no host ports) are moved, so no topology count changes. Downsizing needs no pass of its own: every
// claim launches the cheapest type that fits what it finally holds.
func (s *solver) improve() {
	for range 8 {
		var cands []*node
		for _, n := range s.claims {
			if !n.merged && len(n.pods) > 0 && len(n.options) > 0 {
				cands = append(cands, n)
			}
		}
		slices.SortStableFunc(cands, func(a, b *node) int {
			return cmp.Or(cmp.Compare(utilization(a), utilization(b)), cmp.Compare(a.index, b.index))
		})
		if len(cands) > s.opts.MaxMergeCandidates {
			cands = cands[:s.opts.MaxMergeCandidates]
		}
		improved := false
		for _, a := range cands {
			if a.merged || !a.allFree || utilization(a) > 0.75 {
				continue
			}
			for _, b := range cands {
				if b == a || b.merged || b.pool != a.pool {
					continue
				}
				if s.tryMerge(a, b) {
					improved = true
					break
				}
			}
		}
		if !improved {
			return
		}
	}
}

// utilization is the larger of the cpu and memory shares the claim's pods take of its cheapest option.
func utilization(n *node) float64 {
	alloc := n.options[0].InstanceType
	_ = alloc
	var t *typeInfo
	for _, ti := range n.types {
		if ti.it == n.options[0].InstanceType {
			t = ti
			break
		}
	}
	if t == nil || t.alloc.CPU == 0 || t.alloc.Memory == 0 {
		return 1
	}
	return max(float64(n.used.CPU)/float64(t.alloc.CPU), float64(n.used.Memory)/float64(t.alloc.Memory))
}

// tryMerge moves every pod of a onto b when one node is cheaper than both. It never adds a node: merging only
// ever turns two claims into one.
func (s *solver) tryMerge(a, b *node) bool {
	if portsConflict(a.ports, b.ports) {
		return false
	}
	used := a.used.Add(b.used)
	// Cheap test first: the combined pods must fit the largest types both claims could still be.
	if !used.Fits(a.bound) || !used.Fits(b.bound) {
		return false
	}
	reqs, ok := mergedRequirements(a, b)
	if !ok {
		return false
	}
	types := s.mergedTypes(a, b, reqs, used)
	budget := b.pool.remaining.Add(a.target.capacity).Add(b.target.capacity)
	f := s.offeringFilter(reqs)
	var best *typeInfo
	for _, t := range types {
		if exceedsLimit(t.capacity, budget, b.pool.limited) != "" {
			continue
		}
		if price, ok := t.priceUnder(&f); ok && price < a.price()+b.price()-1e-9 {
			best = t
		}
		break
	}
	if best == nil || !s.minValuesHold(b.pool, reqs, types, used) {
		return false
	}
	b.pool.remaining = budget.Sub(best.capacity)
	b.reqs, b.target = reqs, best
	b.replace(types)
	b.used = used
	b.ports = append(b.ports, a.ports...)
	b.pods = append(b.pods, a.pods...)
	b.sigOK = map[string]bool{}
	a.merged, a.pods, a.used = true, nil, Resources{}
	a.pool.nodesLeft++
	s.finalize(b)
	return true
}

func portsConflict(a, b []hostPort) bool {
	for _, pa := range a {
		for _, pb := range b {
			if pa.conflicts(pb) {
				return true
			}
		}
	}
	return false
}

// mergedRequirements are b's requirements narrowed by a's (but for a's hostname); false when they conflict.
func mergedRequirements(a, b *node) (Requirements, bool) {
	moved := a.reqs.Clone()
	delete(moved.sets, apiv1.HostnameLabelKey)
	reqs := b.reqs.Intersect(moved)
	for _, set := range reqs.sets {
		if set.empty() {
			return Requirements{}, false
		}
	}
	return reqs, true
}

// mergedTypes are the types both claims may launch as that the merged requirements allow and that hold used,
// cheapest first.
func (s *solver) mergedTypes(a, b *node, reqs Requirements, used Resources) []*typeInfo {
	inA := make(map[*typeInfo]bool, len(a.types))
	for _, t := range a.types {
		inA[t] = true
	}
	var types []*typeInfo
	f := s.compileFilter(reqs)
	for _, t := range b.types {
		if inA[t] && used.Fits(t.alloc) && f.ok(t) {
			types = append(types, t)
		}
	}
	s.sortByPrice(types, reqs)
	return types
}

// minValuesHold reports whether the types that hold used still span every minValues the NodePool asks for.
func (s *solver) minValuesHold(ps *poolState, reqs Requirements, types []*typeInfo, used Resources) bool {
	for _, k := range ps.np.Requirements.MinValuesKeys() {
		vals := map[string]bool{}
		for _, t := range types {
			if used.Fits(t.alloc) {
				for _, v := range s.possibleValues(reqs, []*typeInfo{t}, k) {
					vals[v] = true
				}
			}
		}
		if len(vals) < ps.np.Requirements.MinValues(k) {
			return false
		}
	}
	return true
}

// splitThreshold is the utilization under which split tries to re-pack a claim onto smaller nodes.
const splitThreshold = 0.8

// split re-packs the pods of poorly used claims onto smaller nodes when those cost less in total. The last claim of
// a batch is typically one: it grew while pods were left and launches as the one type that holds them, used in
// part, where two or three smaller nodes of efficient types would hold the same pods for less. Only claims whose pods
// are free (no inter-pod term, no host port) are split, so no topology count changes; it never adds cost.
//
// A NodePool's only claim is never split: a batch that fits on one node gets one node (the reference scale-up's four
// 1-CPU pods go to one right-sized node, not a 3-pod and a 1-pod node that cost a quarter less). Once a batch needs
// several nodes anyway, their number is no longer the point and the tail is sized for price.
func (s *solver) split() {
	claimsPerPool := map[*poolState]int{}
	for _, n := range s.claims {
		if !n.merged && len(n.pods) > 0 {
			claimsPerPool[n.pool]++
		}
	}
	for _, n := range slices.Clone(s.claims) {
		if claimsPerPool[n.pool] < 2 || n.merged || !n.allFree || len(n.pods) < 2 || len(n.ports) > 0 || len(n.options) == 0 || utilization(n) > splitThreshold {
			continue
		}
		s.trySplit(n)
	}
}

// splitBin is one smaller node being packed by trySplit.
type splitBin struct {
	pods []*podInfo
	used Resources
	t    *typeInfo // the cheapest type that holds used
}

func (s *solver) trySplit(n *node) {
	allowed := s.allowedTypes(n.pool, n.reqs)
	// Bins grow within the types of at most half the claim's cpu and memory: otherwise the first bin would grow back
	// into the claim's own type.
	var small []*typeInfo
	for _, t := range allowed {
		if t.alloc.CPU*2 <= n.target.alloc.CPU && t.alloc.Memory*2 <= n.target.alloc.Memory {
			small = append(small, t)
		}
	}
	if len(small) == 0 {
		return
	}
	smallBound := maxAlloc(small)
	var bins []*splitBin
	for _, p := range balancedOrder(n.pods) {
		placed := false
		for _, b := range bins {
			if need := b.used.Add(p.requests); need.Fits(smallBound) && fitsAny(small, need) {
				b.pods, b.used = append(b.pods, p), need
				placed = true
				break
			}
		}
		if !placed {
			if !fitsAny(small, p.requests) {
				return
			}
			bins = append(bins, &splitBin{pods: []*podInfo{p}, used: p.requests})
		}
	}
	if len(bins) < 2 || n.pool.nodesLimited && int64(len(bins)-1) > n.pool.nodesLeft {
		return
	}
	// Price the bins at the cheapest type that holds each (any size), within the NodePool's limits.
	f := s.offeringFilter(n.reqs)
	budget := n.pool.remaining.Add(n.target.capacity)
	total := 0.0
	for _, b := range bins {
		for _, t := range allowed {
			if b.used.Fits(t.alloc) {
				b.t = t
				break
			}
		}
		price, ok := b.t.priceUnder(&f)
		if !ok {
			return
		}
		total += price
		budget = budget.Sub(b.t.capacity)
	}
	if exceedsLimit(Resources{}, budget, n.pool.limited) != "" || total >= n.price()*(1-1e-6) {
		return
	}
	s.applySplit(n, bins, allowed)
}

// fitsAny reports whether one of types holds need.
func fitsAny(types []*typeInfo, need Resources) bool {
	for _, t := range types {
		if need.Fits(t.alloc) {
			return true
		}
	}
	return false
}

// applySplit makes n the first bin and opens a claim for each other bin.
func (s *solver) applySplit(n *node, bins []*splitBin, allowed []*typeInfo) {
	fill := func(c *node, b *splitBin) {
		c.pods, c.used = b.pods, b.used
		types := make([]*typeInfo, 0, len(allowed))
		for _, t := range allowed {
			if b.used.Fits(t.alloc) {
				types = append(types, t)
			}
		}
		c.replace(types)
		c.setTarget(b.t)
		s.finalize(c)
	}
	fill(n, bins[0])
	for _, b := range bins[1:] {
		c := newClaim(n.pool, n.reqs)
		s.addClaim(c)
		fill(c, b)
	}
}
