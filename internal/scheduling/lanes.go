package scheduling

import (
	"maps"
	"math"
	"slices"
)

// Lanes split a pod class across two instance families when one family alone wastes capacity. A class's efficient
// types are the ones cheapest for its summed demand (efficiency.go); for a class whose pods ask for 4–16 GiB per
// vCPU that is one family, say r (8 GiB per vCPU), whose cpu the 16 GiB pods leave idle. The LP bound instead buys
// r nodes for some pods and x nodes (16 GiB per vCPU) for the others, each used to the full. assignLanes does the
// same: when the cheapest pair of types covers the class's cpu and memory for noticeably less than the cheapest
// single type, the class's pods are dealt into two lanes whose summed requests have the two types' shapes. Each lane
// has its own demand (and so its own efficient types), and a pod joins only the claims its own lane opened, so each
// node gets the mix its family is shaped for.

// minLaneGain is how much cheaper the pair must be than one type before a class is split: a split leaves two
// partly filled tail claims instead of one, which costs about that much on a batch of a few hundred pods.
const minLaneGain = 0.01

// reasonOtherLane rejects a pod from a claim another lane opened. It never reaches a user: the pod can always
// open a claim of its own lane.
var reasonOtherLane = Reason{Kind: reasonOtherLaneKind, Message: "the NodeClaim is sized for pods of another shape"}

// laneCandidate is a type priced for one class.
type laneCandidate struct {
	t     *typeInfo
	price float64
}

// assignLanes splits each class that gains from it into two lanes: its most memory-heavy pods and the rest, at
// the cut that the frontier's types (paretoFrontier) cover most cheaply, when that beats one lane for the whole
// class by minLaneGain. It updates s.demand with each lane's requests.
func (s *solver) assignLanes(order []*podInfo) bool {
	byClass := map[string][]*podInfo{}
	for _, p := range order {
		byClass[p.reqSig] = append(byClass[p.reqSig], p)
	}
	split := false
	for _, sig := range slices.Sorted(maps.Keys(byClass)) {
		pods := byClass[sig]
		ps := s.laneProbe(pods[0])
		if ps == nil || len(pods) < 2 {
			continue
		}
		frontier := s.laneFrontier(ps, pods[0], s.demand[sig])
		if len(frontier) < 2 {
			continue
		}
		high, ok := bestCut(pods, frontier)
		if !ok {
			continue
		}
		split = true
		for _, p := range pods {
			l := 1
			if high[p] {
				l = 2
			}
			p.lane = int8(l)
			suffix := "#lane" + itoa(l)
			p.demandKey = p.reqSig + suffix
			p.sig += suffix
			d := s.demand[p.demandKey]
			d.CPU += p.requests.CPU
			d.Memory += p.requests.Memory
			d.Pods++
			s.demand[p.demandKey] = d
		}
	}
	return split
}

// laneProbe is the NodePool the class's claims open in first (the one placeNew tries first), or nil when lanes
// do not apply: the NodePool keeps minValues (claims must stay flexible).
func (s *solver) laneProbe(p *podInfo) *poolState {
	for _, ps := range s.pools {
		if len(ps.np.Requirements.MinValuesKeys()) > 0 {
			return nil
		}
		for _, alt := range p.alts {
			if alt.CompatibleWithNode(ps.reqs) == nil {
				return ps
			}
		}
	}
	return nil
}

// laneFrontier prices ps's types for p's class and keeps the Pareto frontier; nil when the class's demand uses
// extended resources, which this cpu-and-memory view does not see.
func (s *solver) laneFrontier(ps *poolState, p *podInfo, demand Resources) []laneCandidate {
	if demand.CPU <= 0 || demand.Memory <= 0 || len(demand.Extended) > 0 {
		return nil
	}
	var filters []typeFilter
	for _, alt := range p.alts {
		if alt.CompatibleWithNode(ps.reqs) == nil {
			filters = append(filters, s.compileFilter(ps.reqs.Intersect(alt)))
		}
	}
	var cands []laneCandidate
	for _, t := range ps.types {
		if price, ok := cheapestUnder(t, filters); ok && t.alloc.CPU > 0 && t.alloc.Memory > 0 && t.alloc.Pods > 0 {
			cands = append(cands, laneCandidate{t, price})
		}
	}
	return paretoFrontier(cands)
}

// laneCost is the cost of covering a lane's requests with the cheapest frontier type for them, in whole nodes
// (which counts the partly filled last node a small lane leaves) and in fractional ones (which the LP bound counts).
func laneCost(frontier []laneCandidate, cpu, mem, pods float64) (whole, fractional float64) {
	whole, fractional = math.Inf(1), math.Inf(1)
	for _, c := range frontier {
		n := max(cpu/float64(c.t.alloc.CPU), mem/float64(c.t.alloc.Memory), pods/float64(c.t.alloc.Pods))
		whole, fractional = min(whole, c.price*math.Ceil(n)), min(fractional, c.price*n)
	}
	return whole, fractional
}

// bestCut sorts the class's pods by memory per cpu and tries every cut between the memory-heavy ones (lane 2) and
// the rest, returning lane 2 at the cheapest cut when it beats no cut by minLaneGain, in whole and in fractional
// nodes.
func bestCut(pods []*podInfo, frontier []laneCandidate) (map[*podInfo]bool, bool) {
	byRatio := slices.Clone(pods)
	ratio := func(p *podInfo) float64 {
		if p.requests.CPU <= 0 {
			return math.Inf(1)
		}
		return float64(p.requests.Memory) / float64(p.requests.CPU)
	}
	slices.SortStableFunc(byRatio, func(a, b *podInfo) int { return sign(ratio(b) - ratio(a)) })
	var C, M, P float64
	for _, p := range pods {
		C, M, P = C+float64(p.requests.CPU), M+float64(p.requests.Memory), P+1
	}
	one, oneFrac := laneCost(frontier, C, M, P)
	best, bestFrac, cut := one, oneFrac, 0
	var c2, m2, p2 float64
	for i, p := range byRatio[:len(byRatio)-1] {
		c2, m2, p2 = c2+float64(p.requests.CPU), m2+float64(p.requests.Memory), p2+1
		hi, hiFrac := laneCost(frontier, c2, m2, p2)
		lo, loFrac := laneCost(frontier, C-c2, M-m2, P-p2)
		if hi+lo < best {
			best, bestFrac, cut = hi+lo, hiFrac+loFrac, i+1
		}
	}
	// Both counts must gain: whole nodes alone favour small types for small lanes, fractional ones alone ignore
	// the tails.
	if cut == 0 || best > one*(1-minLaneGain) || bestFrac > oneFrac*(1-minLaneGain) {
		return nil, false
	}
	high := make(map[*podInfo]bool, cut)
	for _, p := range byRatio[:cut] {
		high[p] = true
	}
	return high, true
}

// laneOrder is the placement order when some class has lanes: each lane (and the pods without one) in
// balancedOrder, so that every lane's claims fill with the lane's own mix, merged largest first.
func laneOrder(order []*podInfo) []*podInfo {
	groups := map[string][]*podInfo{}
	for _, p := range order {
		k := ""
		if p.lane > 0 {
			k = p.demandKey
		}
		groups[k] = append(groups[k], p)
	}
	var queues [][]*podInfo
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		queues = append(queues, balancedOrder(groups[k]))
	}
	out := make([]*podInfo, 0, len(order))
	for len(out) < len(order) {
		bi := -1
		for i, q := range queues {
			if len(q) > 0 && (bi < 0 || size(q[0]) > size(queues[bi][0])) {
				bi = i
			}
		}
		out = append(out, queues[bi][0])
		queues[bi] = queues[bi][1:]
	}
	return out
}

// paretoFrontier keeps the candidates that no other gives both more cpu and more memory per dollar.
func paretoFrontier(cands []laneCandidate) []laneCandidate {
	perCPU := func(c laneCandidate) float64 { return float64(c.t.alloc.CPU) / c.price }
	perMem := func(c laneCandidate) float64 { return float64(c.t.alloc.Memory) / c.price }
	sorted := slices.Clone(cands)
	slices.SortStableFunc(sorted, func(a, b laneCandidate) int {
		if d := perCPU(b) - perCPU(a); d != 0 {
			return sign(d)
		}
		return sign(perMem(b) - perMem(a))
	})
	var out []laneCandidate
	bestMem := -1.0
	for _, c := range sorted {
		if m := perMem(c); m > bestMem {
			out = append(out, c)
			bestMem = m
		}
	}
	return out
}

func sign(f float64) int {
	switch {
	case f < 0:
		return -1
	case f > 0:
		return 1
	}
	return 0
}
