package scheduling

import "math"

// DefaultPackingTolerance is how much more per unit of capacity than the cheapest instance type a NodeClaim may grow
// into (see Options.PackingTolerance).
const DefaultPackingTolerance = 0.01

// A NodeClaim grows (takes more pods) only within its efficient types: those whose price for the whole demand of
// pods like the one that opened it is within the packing tolerance of the cheapest type's. The demand of a pod class
// (pods with the same node requirements) is the sum of their requests; a type's cost for it is the fractional number
// of its nodes that covers the demand on every resource (cpu, memory, pod slots), times its price:
//
//	cost(t) = price(t) × max(cpu/alloc_cpu(t), memory/alloc_memory(t), pods/alloc_pods(t))
//
// A batch of four 1-CPU pods still lands on one node (every type big enough for the four is about as efficient as
// any other), while ten thousand pods no longer grow every claim into the largest, dearest-per-vCPU machines. When the
// claim is finalized it may launch as any of the NodePool's types that hold what it got, so the last, partly filled
// claim of a batch still shrinks to the cheapest type that fits it.

// effKey names one efficient-type list: a NodePool and a pod class.
type effKey struct {
	pool      *poolState
	demandKey string
}

// effTypes are the efficient types of one effKey with their per-resource maximum and minimum allocatable.
type effTypes struct {
	types        []*typeInfo
	bound, floor Resources
}

// classDemand sums the requests of the pods of each class (reqSig).
func classDemand(infos []*podInfo) map[string]Resources {
	out := map[string]Resources{}
	for _, p := range infos {
		d := out[p.demandKey]
		d.CPU += p.requests.CPU
		d.Memory += p.requests.Memory
		d.Pods++
		out[p.demandKey] = d
	}
	return out
}

// efficientTypes are the types of ps that pods of p's class may use whose cost for the class's demand is within the
// packing tolerance of the cheapest, in ps.types order (cheapest first). It is nil when every type qualifies, the
// class's demand is unknown (the pod was not part of the batch) or the NodePool asks for minValues (a claim must
// keep its flexibility); callers then use all of ps.types.
func (s *solver) efficientTypes(ps *poolState, p *podInfo) *effTypes {
	key := effKey{ps, p.demandKey}
	if e, ok := s.efficient[key]; ok {
		return e
	}
	var e *effTypes
	if demand, ok := s.demand[p.demandKey]; ok && len(ps.np.Requirements.MinValuesKeys()) == 0 {
		if types := s.computeEfficient(ps, p, demand); len(types) > 0 && len(types) < len(ps.types) {
			e = &effTypes{types: types, bound: maxAlloc(types), floor: minAlloc(types)}
		}
	}
	s.efficient[key] = e
	return e
}

func (s *solver) computeEfficient(ps *poolState, p *podInfo, demand Resources) []*typeInfo {
	// One filter per node-requirement alternative of the pod that the NodePool allows, compiled once for every type.
	var filters []typeFilter
	for _, alt := range p.alts {
		if alt.CompatibleWithNode(ps.reqs) == nil {
			filters = append(filters, s.compileFilter(ps.reqs.Intersect(alt)))
		}
	}
	costs := make([]float64, len(ps.types))
	best := math.Inf(1)
	for i, t := range ps.types {
		costs[i] = math.Inf(1)
		price, ok := cheapestUnder(t, filters)
		if !ok || t.alloc.CPU <= 0 || t.alloc.Memory <= 0 || t.alloc.Pods <= 0 {
			continue
		}
		n := max(float64(demand.CPU)/float64(t.alloc.CPU), float64(demand.Memory)/float64(t.alloc.Memory), float64(demand.Pods)/float64(t.alloc.Pods))
		costs[i] = price * n
		best = min(best, costs[i])
	}
	if math.IsInf(best, 1) {
		return nil
	}
	limit := best * (1 + s.opts.PackingTolerance)
	var types []*typeInfo
	for i, t := range ps.types {
		if costs[i] <= limit {
			types = append(types, t)
		}
	}
	return types
}

// cheapestUnder is t's cheapest offering that one of the filters allows, and whether t passes any of them.
func cheapestUnder(t *typeInfo, filters []typeFilter) (float64, bool) {
	best, found := 0.0, false
	for i := range filters {
		if !filters[i].ok(t) {
			continue
		}
		if price, ok := t.priceUnder(&filters[i]); ok && (!found || price < best) {
			best, found = price, true
		}
	}
	return best, found
}
