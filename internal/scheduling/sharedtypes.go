package scheduling

// Claims that hold little (a pod or a few, as under hostname anti-affinity) can each launch as most of the types
// their requirements allow: at 50,000 pods of the diverse mix, 10,000 claims each list about 900 types. Building
// those lists claim by claim cost most of the planning time and, as InstanceTypeOption copies, about a gigabyte.
// Claims whose requirements allow the same types and that the same of those types hold therefore share one list,
// its bounds and its finalized options: the lists would be equal.

// allowedSet is one list of types, cheapest first — an allowedTypes list, or the part of one that holds some pods —
// with its per-resource maximum and minimum allocatable and, once built, the options of a claim that may launch as
// any of them.
type allowedSet struct {
	types        []*typeInfo
	bound, floor Resources
	// options are shared by every claim finalized with exactly types while no NodePool limit or capacity reservation
	// makes one claim's options differ from another's (sharedOptionsOK); nil until first built.
	options []InstanceTypeOption
	// parts are the sublists holding some pods, by which of types hold them (a bitmap); only on allowedTypes lists.
	parts map[string]*allowedSet
}

func newAllowedSet(types []*typeInfo) *allowedSet {
	return &allowedSet{types: types, bound: maxAlloc(types), floor: minAlloc(types)}
}

// allowedSetFor is allowedTypes(ps, reqs) with its bounds, computed once per list.
func (s *solver) allowedSetFor(ps *poolState, reqs Requirements) *allowedSet {
	types := s.allowedTypes(ps, reqs)
	key := sharedKey{pool: ps, n: len(types)}
	if len(types) > 0 {
		key.first = &types[0]
	}
	if set, ok := s.allowedSets[key]; ok {
		return set
	}
	if s.allowedSets == nil {
		s.allowedSets = map[sharedKey]*allowedSet{}
	}
	set := newAllowedSet(types)
	s.allowedSets[key] = set
	return set
}

// sharedKey names an allowedTypes list by its NodePool and slice (the first element's address and the length):
// each cached list is its own slice, never changed.
type sharedKey struct {
	pool  *poolState
	n     int
	first **typeInfo
}

// holding is the sublist of set's types that can hold used, in the same order: set itself when all of them can.
func (set *allowedSet) holding(used Resources) *allowedSet {
	if used.Fits(set.floor) {
		return set
	}
	bits := make([]byte, (len(set.types)+7)/8)
	n := 0
	for i, t := range set.types {
		if used.Fits(t.alloc) {
			bits[i/8] |= 1 << (i % 8)
			n++
		}
	}
	if part, ok := set.parts[string(bits)]; ok {
		return part
	}
	types := make([]*typeInfo, 0, n)
	for i, t := range set.types {
		if bits[i/8]&(1<<(i%8)) != 0 {
			types = append(types, t)
		}
	}
	if set.parts == nil {
		set.parts = map[string]*allowedSet{}
	}
	part := newAllowedSet(types)
	set.parts[string(bits)] = part
	return part
}

// sharedOptionsOK reports whether n's options may be shared with other claims of the same type list: its NodePool
// has no limits (which leave out types per claim) and no capacity reservation is being counted (which leaves out
// offerings as claims use them up).
func (s *solver) sharedOptionsOK(n *node) bool {
	return len(n.pool.limited) == 0 && s.reservedLeft == nil
}

// requirementKey is joinRequirements(reqs.Get(k)), remembered per value set: claims mostly share their value sets
// (Requirements.Clone shares them; they are immutable), and allowedTypes asks for these keys once per claim.
func (s *solver) requirementKey(reqs Requirements, k string) string {
	vs := reqs.get(k)
	if vs == nil {
		return ""
	}
	key := setKey{k, vs}
	if out, ok := s.reqKeys[key]; ok {
		return out
	}
	if s.reqKeys == nil {
		s.reqKeys = map[setKey]string{}
	}
	out := joinRequirements(reqs.Get(k))
	s.reqKeys[key] = out
	return out
}

// setKey names one value set under one label key.
type setKey struct {
	key string
	set *valueSet
}
