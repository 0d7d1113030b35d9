package scheduling

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

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

// widen lets a finished claim launch as any of its NodePool's types that its requirements allow and that hold its
// pods, not only the efficient ones it grew within: the cheapest of those is its launch type. The list is shared with
// the other claims that the same types hold (sharedtypes.go); widen returns it, or nil when the claim was not capped.
func (s *solver) widen(n *node) *allowedSet {
	if !n.capped {
		return nil
	}
	set := s.allowedSetFor(n.pool, n.reqs).holding(n.used)
	n.start(set.types, set.bound, set.floor, false)
	return set
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

// allowedTypes are the types of ps that reqs allow, cheapest first under reqs. Claims differ mostly by hostname,
// which no type carries, so the lists are cached by the requirements on type keys, zone and capacity type.
func (s *solver) allowedTypes(ps *poolState, reqs Requirements) []*typeInfo {
	var b strings.Builder
	for _, k := range reqs.Keys() {
		if s.typeKeys[k] || k == apiv1.ZoneLabelKey || k == apiv1.CapacityTypeLabelKey {
			b.WriteString(s.requirementKey(reqs, k))
			b.WriteByte(';')
		}
	}
	key := widenKey{ps, b.String()}
	if types, ok := s.allowed[key]; ok {
		return types
	}
	types := s.filterTypes(ps.types, reqs)
	if !samePrices(ps.reqs, reqs) {
		s.sortByPrice(types, reqs)
	}
	s.allowed[key] = types
	return types
}

// widenKey names one allowedTypes list.
type widenKey struct {
	pool *poolState
	reqs string
}

// burstableAllowed reports whether a NodePool names burstable types: an In requirement on the instance category,
// family or type. Burstable vCPUs run at a baseline (5–40% on AWS) and spend credits above it, so filling them
// with CPU requests buys throttling or surplus-credit charges that the hourly price does not show; they are
// launched only for NodePools that ask for them by name.
func burstableAllowed(np *NodePool) bool {
	for _, k := range []string{apiv1.InstanceCategoryLabelKey, apiv1.InstanceFamilyLabelKey, apiv1.InstanceTypeLabelKey} {
		for _, r := range np.Requirements.Get(k) {
			if r.Operator == OpIn {
				return true
			}
		}
	}
	return false
}

// balancedOrder is the order pods are placed in: largest first (first-fit decreasing), but with cpu-heavy and
// memory-heavy pods interleaved so that the pods placed so far keep the batch's overall memory-to-cpu ratio. Claims
// fill in that order, so each one gets a mix that uses its cpu and memory alike; plain decreasing order puts the
// memory-heavy pods first, fills whole nodes' memory with them and leaves their cpu idle (and later nodes' memory).
func balancedOrder(infos []*podInfo) []*podInfo {
	var cpu, mem float64
	for _, p := range infos {
		cpu += float64(p.requests.CPU)
		mem += float64(p.requests.Memory)
	}
	byShape := func(a, b *podInfo) int { return cmp.Compare(size(b), size(a)) }
	if cpu == 0 || mem == 0 {
		order := slices.Clone(infos)
		slices.SortStableFunc(order, byShape)
		return order
	}
	ratio := mem / cpu
	var cpuHeavy, memHeavy []*podInfo
	for _, p := range infos {
		if float64(p.requests.Memory) <= ratio*float64(p.requests.CPU) {
			cpuHeavy = append(cpuHeavy, p)
		} else {
			memHeavy = append(memHeavy, p)
		}
	}
	slices.SortStableFunc(cpuHeavy, byShape)
	slices.SortStableFunc(memHeavy, byShape)
	order := make([]*podInfo, 0, len(infos))
	var sumCPU, sumMem float64
	for len(cpuHeavy) > 0 || len(memHeavy) > 0 {
		var p *podInfo
		if len(memHeavy) == 0 || len(cpuHeavy) > 0 && sumMem > ratio*sumCPU {
			p, cpuHeavy = cpuHeavy[0], cpuHeavy[1:]
		} else {
			p, memHeavy = memHeavy[0], memHeavy[1:]
		}
		sumCPU += float64(p.requests.CPU)
		sumMem += float64(p.requests.Memory)
		order = append(order, p)
	}
	return order
}

// burstableHint completes a NodePool's rejection of p when p's node requirements allow none of the types the
// NodePool launches but some burstable type it does not name: the fix is to name them.
func (s *solver) burstableHint(ps *poolState, p *podInfo) string {
	if len(s.burstables[ps.np]) == 0 {
		return ""
	}
	// Only when the pod's node requirements rule out every type the NodePool does launch.
	for _, t := range ps.types {
		for _, alt := range p.alts {
			if typeCompatible(s.typeKeys, ps.reqs.Intersect(alt), t.it) {
				return ""
			}
		}
	}
	var names []string
	for _, it := range s.burstables[ps.np] {
		for _, alt := range p.alts {
			if typeCompatible(s.typeKeys, alt, it) {
				names = append(names, it.Name)
				break
			}
		}
		if len(names) == 3 {
			break
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the pod could use burstable types such as %s, which NodePool %q does not name: burstable types are launched only for NodePools with an In requirement on %s, %s or %s that includes them)",
		strings.Join(names, ", "), ps.np.Name, apiv1.InstanceCategoryLabelKey, apiv1.InstanceFamilyLabelKey, apiv1.InstanceTypeLabelKey)
}
