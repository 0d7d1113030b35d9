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
	free []vec
	// at is each node's position in free; total and most are the sum and the component-wise largest of the free
	// vectors.
	at          map[string]int
	total, most vec
	types       []launchable
	// requests are each candidate's pods' requests, computed once: a delete set is checked again each time it grows.
	requests map[*Candidate][]vec
}

func newRoom(snap *Snapshot) (*room, error) {
	s, err := newSolver(snap, Options{})
	if err != nil {
		return nil, err
	}
	r := &room{at: make(map[string]int, len(s.existing)), requests: map[*Candidate][]vec{}}
	for _, n := range s.existing {
		free := vecOf(n.alloc).over(vecOf(n.used))
		r.at[n.name] = len(r.free)
		r.free = append(r.free, free)
		r.total = r.total.add(free)
		r.most = r.most.atLeast(free)
	}
	for _, ps := range s.pools {
		for _, t := range ps.types {
			r.types = append(r.types, launchable{alloc: vecOf(t.alloc), price: t.offerings[0].PricePerHour})
		}
	}
	return r, nil
}

// beyond is a lower bound on what the candidates' pods request beyond what the other nodes can take. Three bounds,
// each a necessary condition, of which it keeps the largest in each resource:
//   - their requests less the others' room in total;
//   - since a node can take no more of the pods than its room holds of the smallest request in each resource, the
//     smallest requests of the pods left over by that count;
//   - the requests of the pods that fit in no other node's room at all.
func (r *room) beyond(cands []*Candidate) vec {
	removed, others := r.without(cands)
	var reqs []vec
	for _, cand := range cands {
		reqs = append(reqs, r.requestsOf(cand)...)
	}
	if len(reqs) == 0 {
		return vec{}
	}
	var need, smallest vec
	shapes := map[vec]int{} // distinct requests and how many pods have them
	for i, q := range reqs {
		need = need.add(q)
		shapes[q]++
		for c := range q {
			if i == 0 || q[c] < smallest[c] {
				smallest[c] = q[c]
			}
		}
	}
	slots, homeless := r.count(removed, smallest, shapes, len(reqs))
	rest := need.over(others)
	if left := len(reqs) - slots; left > 0 {
		rest = rest.atLeast(smallestSum(reqs, left))
	}
	var nowhere vec
	for _, q := range homeless {
		for range shapes[q] {
			nowhere = nowhere.add(q)
		}
	}
	return rest.atLeast(nowhere)
}

// requestsOf are the requests of the candidate's pods.
func (r *room) requestsOf(cand *Candidate) []vec {
	if q, ok := r.requests[cand]; ok {
		return q
	}
	q := make([]vec, 0, len(cand.Pods))
	for _, p := range cand.Pods {
		q = append(q, vecOf(PodRequests(p)))
	}
	r.requests[cand] = q
	return q
}

// without is the positions of the candidates' nodes, ascending, and the room of all the other nodes.
func (r *room) without(cands []*Candidate) ([]int, vec) {
	var removed []int
	others := r.total
	for _, cand := range cands {
		if i, ok := r.at[cand.Node]; ok && !slices.Contains(removed, i) {
			removed = append(removed, i)
			f := r.free[i]
			others = vec{others[0] - f[0], others[1] - f[1], others[2] - f[2]}
		}
	}
	slices.Sort(removed)
	return removed, others
}

// count walks the room of the nodes other than removed: how many pods of at least the smallest requests they could
// hold (counting up to pods), and which of the shapes fit in none of them.
func (r *room) count(removed []int, smallest vec, shapes map[vec]int, pods int) (slots int, homeless []vec) {
	for q := range shapes {
		homeless = append(homeless, q)
	}
	// When the smallest requests fit in no node's room (a full cluster), no pod fits anywhere: nothing to count.
	if !smallest.fits(r.most) {
		return 0, homeless
	}
	next := 0 // into removed
	for i, f := range r.free {
		if next < len(removed) && removed[next] == i {
			next++
			continue
		}
		if slots < pods {
			slots += f.holds(smallest)
		}
		for j := 0; j < len(homeless); {
			if homeless[j].fits(f) {
				homeless[j] = homeless[len(homeless)-1]
				homeless = homeless[:len(homeless)-1]
				continue
			}
			j++
		}
		if slots >= pods && len(homeless) == 0 {
			break
		}
	}
	return slots, homeless
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
