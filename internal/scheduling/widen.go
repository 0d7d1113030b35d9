package scheduling

import (
	"strings"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// A claim grows within its efficient types (efficiency.go) but, once finished, may launch as any type of its NodePool
// that holds what it got: widen gives it those, and allowedTypes lists them per NodePool and requirements.

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
