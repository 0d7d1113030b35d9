package scheduling

import (
	"math"
	"slices"
)

// A consolidation decision over a full cluster simulates every candidate in turn, and each simulation plans on every
// node: quadratic in the nodes. Most candidates of a full cluster can be ruled out without simulating: their pods
// cannot fit on the room the other nodes have left, and no instance type that could take the rest costs less than
// the move must. room answers that from sums, as a necessary condition only: a candidate it does not rule out is
// simulated as before, so the decision is the same with or without it (TestRoomNeverRulesOutAMove).

// vec is the part of Resources room reasons about: CPU (milli), memory (bytes) and pods. Other resources only make a
// move harder, so leaving them out keeps the condition necessary.
type vec [3]int64

func vecOf(r Resources) vec { return vec{r.CPU, r.Memory, r.Pods} }

func (v vec) add(o vec) vec { return vec{v[0] + o[0], v[1] + o[1], v[2] + o[2]} }

// over is what v needs beyond o, component by component (0 where o suffices).
func (v vec) over(o vec) vec {
	return vec{max(0, v[0]-o[0]), max(0, v[1]-o[1]), max(0, v[2]-o[2])}
}

func (v vec) zero() bool { return v == vec{} }

func (v vec) fits(o vec) bool { return v[0] <= o[0] && v[1] <= o[1] && v[2] <= o[2] }

// launchable is an instance type new capacity could launch as: its room (net of daemonsets) and its cheapest
// offering the NodePool allows.
type launchable struct {
	alloc vec
	price float64
}

// room is the free capacity of every node of the snapshot (allocatable less the requests of its pods, at least 0),
// its total, and the types the snapshot's NodePools could launch.
type room struct {
	names []string
	free  []vec
	total vec
	types []launchable
}

func newRoom(snap *Snapshot) (*room, error) {
	s, err := newSolver(snap, Options{})
	if err != nil {
		return nil, err
	}
	r := &room{}
	for _, n := range s.existing {
		free := vecOf(n.alloc).over(vecOf(n.used))
		r.names = append(r.names, n.name)
		r.free = append(r.free, free)
		r.total = r.total.add(free)
	}
	for _, ps := range s.pools {
		for _, t := range ps.types {
			r.types = append(r.types, launchable{alloc: vecOf(t.alloc), price: t.offerings[0].PricePerHour})
		}
	}
	return r, nil
}

// beyond is a lower bound on what the candidates' pods request beyond what the other nodes can take: at least
// their requests less the others' room in total, and, since a node can take no more of the pods than its room holds
// of the smallest request in each resource, at least the smallest requests of the pods left over by that count.
func (r *room) beyond(cands []*Candidate) vec {
	removed := map[string]bool{}
	var reqs []vec
	for _, cand := range cands {
		removed[cand.Node] = true
		for _, p := range cand.Pods {
			reqs = append(reqs, vecOf(PodRequests(p)))
		}
	}
	if len(reqs) == 0 {
		return vec{}
	}
	var need, smallest vec
	for i, q := range reqs {
		need = need.add(q)
		for c := range q {
			if i == 0 || q[c] < smallest[c] {
				smallest[c] = q[c]
			}
		}
	}
	others, slots := vec{}, 0
	for i, f := range r.free {
		if removed[r.names[i]] {
			continue
		}
		others = others.add(f)
		if slots < len(reqs) {
			slots += f.holds(smallest)
		}
	}
	rest := need.over(others)
	if left := len(reqs) - slots; left > 0 {
		rest = rest.atLeast(smallestSum(reqs, left))
	}
	return rest
}

// holds bounds how many pods of at least the requests least fit in v: any k of them need k times least of each.
func (v vec) holds(least vec) int {
	k := int64(math.MaxInt64)
	for c := range v {
		if least[c] > 0 {
			k = min(k, v[c]/least[c])
		}
	}
	return int(min(k, math.MaxInt32))
}

// atLeast is v raised to o where o is larger, component by component.
func (v vec) atLeast(o vec) vec { return vec{max(v[0], o[0]), max(v[1], o[1]), max(v[2], o[2])} }

// smallestSum is, in each resource, the sum of the n smallest of reqs' requests.
func smallestSum(reqs []vec, n int) vec {
	var out vec
	col := make([]int64, len(reqs))
	for c := range out {
		for i, q := range reqs {
			col[i] = q[c]
		}
		slices.Sort(col)
		for _, x := range col[:n] {
			out[c] += x
		}
	}
	return out
}

// cheapestFor is the lowest price of a type with room for v, +Inf when none has.
func (r *room) cheapestFor(v vec) float64 {
	best := math.Inf(1)
	for _, t := range r.types {
		if v.fits(t.alloc) && t.price < best {
			best = t.price
		}
	}
	return best
}

// ruledOut tells, from sums alone, that removing the candidates cannot be a move: their pods do not fit in the room
// the other nodes have left and (with launch) no type with room for the rest costs less than price and at most
// price-required. It is only ever a necessary condition: when it says false, the caller simulates.
func (c *Consolidator) ruledOut(cands []*Candidate, launch bool, price, required float64) (bool, error) {
	if c.noRoom {
		return false, nil
	}
	if c.room == nil {
		r, err := newRoom(c.in.Snapshot)
		if err != nil {
			return false, err
		}
		c.room = r
	}
	rest := c.room.beyond(cands)
	if rest.zero() {
		return false, nil
	}
	if !launch {
		return true, nil
	}
	p := c.room.cheapestFor(rest)
	return !(p < price && p <= price-required), nil
}
