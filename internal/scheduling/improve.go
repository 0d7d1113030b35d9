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

// tryMerge moves every pod of a onto b when one node is cheaper than both.
func (s *solver) tryMerge(a, b *node) bool {
	for _, pa := range a.ports {
		for _, pb := range b.ports {
			if pa.conflicts(pb) {
				return false
			}
		}
	}
	used := a.used.Add(b.used)
	// Cheap test first: the combined pods must fit the largest type the absorbing claim could still be.
	var largest Resources
	for _, t := range b.types {
		largest = largest.Max(t.alloc)
	}
	if !used.Fits(largest) {
		return false
	}
	moved := a.reqs.Clone()
	delete(moved.sets, apiv1.HostnameLabelKey)
	reqs := b.reqs.Intersect(moved)
	for _, set := range reqs.sets {
		if set.empty() {
			return false
		}
	}
	inA := map[*typeInfo]bool{}
	for _, t := range a.types {
		inA[t] = true
	}
	var types []*typeInfo
	f := s.compileFilter(reqs)
	for _, t := range b.types {
		if inA[t] && f.ok(t) {
			types = append(types, t)
		}
	}
	budget := b.pool.remaining.Add(a.target.capacity).Add(b.target.capacity)
	var best *typeInfo
	bestPrice := a.price() + b.price() - 1e-9
	for _, t := range types {
		if !used.Fits(t.alloc) || exceedsLimit(t.capacity, budget, b.pool.limited) != "" {
			continue
		}
		if o, ok := t.cheapest(reqs); ok && o.PricePerHour < bestPrice {
			best, bestPrice = t, o.PricePerHour
		}
	}
	if best == nil {
		return false
	}
	// Respect minValues on the merged claim.
	for _, k := range b.pool.np.Requirements.MinValuesKeys() {
		vals := map[string]bool{}
		for _, t := range types {
			if used.Fits(t.alloc) {
				for _, v := range s.possibleValues(reqs, []*typeInfo{t}, k) {
					vals[v] = true
				}
			}
		}
		if len(vals) < b.pool.np.Requirements.MinValues(k) {
			return false
		}
	}
	b.pool.remaining = budget.Sub(best.capacity)
	b.reqs, b.types, b.target, b.alloc = reqs, types, best, best.alloc
	b.used = used
	b.ports = append(b.ports, a.ports...)
	b.pods = append(b.pods, a.pods...)
	b.sigOK = map[string]bool{}
	a.merged, a.pods, a.used = true, nil, Resources{}
	s.finalize(b)
	return true
}
