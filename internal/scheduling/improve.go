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
	b.reqs, b.types, b.ownTypes, b.bound, b.floor, b.target = reqs, types, true, maxAlloc(types), minAlloc(types), best
	b.used = used
	b.ports = append(b.ports, a.ports...)
	b.pods = append(b.pods, a.pods...)
	b.sigOK = map[string]bool{}
	b.domains, b.pins = nil, nil
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
