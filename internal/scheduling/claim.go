package scheduling

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// A NodeClaim being planned follows Karpenter's packing semantics. It keeps every instance type that is still
// compatible with its requirements and can hold all the pods placed on it, cheapest first; a pod joins it whenever
// one of those types can hold the claim's pods plus this pod, and the claim launches as the cheapest type that fits
// everything it holds. A new claim opens only when no open claim can take the pod.

// priceUnder is the price of t's cheapest offering the filter allows, and whether there is one.
func (t *typeInfo) priceUnder(f *typeFilter) (float64, bool) {
	for i := range t.offerings {
		if f.offeringOK(t, i) {
			return t.offerings[i].PricePerHour, true
		}
	}
	return 0, false
}

// samePrices reports whether two requirements price every type the same (their zone and capacity-type sets agree).
func samePrices(a, b Requirements) bool {
	eq := func(x, y *valueSet) bool { return x == y || x != nil && y != nil && x.equal(y) }
	return eq(a.get(apiv1.ZoneLabelKey), b.get(apiv1.ZoneLabelKey)) && eq(a.get(apiv1.CapacityTypeLabelKey), b.get(apiv1.CapacityTypeLabelKey))
}

// sortByPrice orders types (in place) by their cheapest offering under reqs, then by name.
func (s *solver) sortByPrice(types []*typeInfo, reqs Requirements) {
	f := s.offeringFilter(reqs)
	type priced struct {
		t     *typeInfo
		price float64
	}
	ps := make([]priced, len(types))
	for i, t := range types {
		price, _ := t.priceUnder(&f)
		ps[i] = priced{t, price}
	}
	slices.SortStableFunc(ps, func(a, b priced) int {
		return cmp.Or(cmp.Compare(a.price, b.price), cmp.Compare(a.t.it.Name, b.t.it.Name))
	})
	for i := range ps {
		types[i] = ps[i].t
	}
}

// commitClaim updates a NodeClaim after p joined it (n.used already counts p): it adopts the narrowed requirements
// and types of the attempt, drops the types that can no longer hold the pods, and moves the limit accounting to the
// type the claim now launches as.
func (s *solver) commitClaim(p *podInfo, n *node, a *attempt) {
	if a.changed {
		types, own := a.types, false
		if !samePrices(n.reqs, a.reqs) {
			types, own = slices.Clone(types), true
			s.sortByPrice(types, a.reqs)
		}
		n.reqs = a.reqs
		n.adopt(types, own)
	} else {
		n.sigOK[p.reqSig] = true
	}
	n.keepFitting(n.used)
	if a.target != n.target {
		n.setTarget(a.target)
	}
	n.allFree = n.allFree && p.free
}

// setTarget makes t the type the claim launches as, moving the NodePool limit accounting from the old one.
func (n *node) setTarget(t *typeInfo) {
	if n.target != nil {
		n.pool.remaining = n.pool.remaining.Add(n.target.capacity)
	}
	n.pool.remaining = n.pool.remaining.Sub(t.capacity)
	n.target = t
}

// launchType is the type a claim would launch as with need on it under the attempt: the cheapest of the attempt's
// types that holds need within the NodePool's limits. It returns a reason when there is none.
func (s *solver) launchType(n *node, a *attempt, need Resources) (*typeInfo, Reason) {
	budget := n.pool.remaining
	if n.target != nil {
		budget = budget.Add(n.target.capacity)
	}
	var limitHit corev1.ResourceName
	ordered := !a.changed || samePrices(n.reqs, a.reqs)
	f := s.offeringFilter(a.reqs)
	var best *typeInfo
	bestPrice := 0.0
	for _, t := range a.types {
		if !need.Fits(t.alloc) {
			continue
		}
		if name := exceedsLimit(t.capacity, budget, n.pool.limited); name != "" {
			limitHit = name
			continue
		}
		if ordered {
			return t, Reason{}
		}
		if price, ok := t.priceUnder(&f); ok && (best == nil || price < bestPrice || price == bestPrice && t.it.Name < best.it.Name) {
			best, bestPrice = t, price
		}
	}
	if best != nil {
		return best, Reason{}
	}
	if limitHit != "" {
		return nil, reasonLimit(n.pool.np.Name, limitHit, n.pool.np.Limits)
	}
	return nil, largestReason(need, a.types)
}

// finalizeAll computes every NodeClaim's options: the types that fit all its pods, cheapest first.
func (s *solver) finalizeAll() {
	for _, n := range s.claims {
		s.finalize(n)
	}
}

// finalize lists the claim's options: its types within the NodePool's limits, each with its cheapest offering
// under the claim's requirements. The first is the type it launches as.
func (s *solver) finalize(n *node) {
	set := s.widen(n)
	if set == nil || !s.sharedOptionsOK(n) {
		set = nil
	} else if set.options != nil {
		n.options = set.options
		n.retarget()
		return
	}
	budget := n.pool.remaining.Add(n.target.capacity)
	f := s.offeringFilter(n.reqs)
	n.options = make([]InstanceTypeOption, 0, len(n.types))
	// Every type of the claim holds its pods (commitClaim and the merge pass keep it so).
	for _, t := range n.types {
		if exceedsLimit(t.capacity, budget, n.pool.limited) != "" {
			continue
		}
		for i := range t.offerings {
			if f.offeringOK(t, i) && !s.reservationExhausted(&t.offerings[i]) {
				n.options = append(n.options, InstanceTypeOption{InstanceType: t.it, Offering: t.offerings[i]})
				break
			}
		}
	}
	// The claim keeps its types cheapest first under its requirements, so this is normally already in order.
	cmpOptions := func(a, b InstanceTypeOption) int {
		return cmp.Or(cmp.Compare(a.Offering.PricePerHour, b.Offering.PricePerHour), cmp.Compare(a.InstanceType.Name, b.InstanceType.Name))
	}
	if !slices.IsSortedFunc(n.options, cmpOptions) {
		slices.SortStableFunc(n.options, cmpOptions)
	}
	if set != nil {
		set.options = n.options
	}
	n.retarget()
}

// retarget sets the claim's target to its first option: a widened claim may launch as a smaller type than the one
// its limits were counted for.
func (n *node) retarget() {
	if len(n.options) > 0 && n.target != nil && n.options[0].InstanceType != n.target.it {
		for _, t := range n.types {
			if t.it == n.options[0].InstanceType {
				n.setTarget(t)
				break
			}
		}
	}
}
