package scheduling

import (
	"cmp"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// maxBoundClasses caps the number of distinct pod classes the bound tracks in one membership mask.
const maxBoundClasses = 64

// LowerBound is the LP relaxation of packing pods onto new capacity: instances may be bought in fractions and pods
// split, each group of identical pods may only use the offerings (NodePool × instance type × zone × capacity type)
// its requirements and tolerations allow, and the fleet must cover the groups' cpu, memory and pod slots (net of
// daemonset overhead). No plan for these pods costs less per hour. NodePool limits, extended resources and inter-pod
// terms are left out, which only lowers the bound. It is solved with gonum's simplex.
func LowerBound(snap *Snapshot, pods []*corev1.Pod) (float64, error) {
	if len(pods) == 0 {
		return 0, nil
	}
	s := &solver{vols: newVolumeIndex(snap), typeKeys: map[string]bool{}}
	if err := s.buildPools(&Snapshot{NodePools: snap.NodePools, DaemonSetPods: snap.DaemonSetPods}); err != nil {
		return 0, err
	}
	return s.packingLP(pods)
}

func groupKey(class string, r Resources) string {
	return fmt.Sprintf("%s/%d/%d", class, r.CPU, r.Memory)
}

// packingLP solves the relaxation for pods against the solver's pools and returns its value.
func (s *solver) packingLP(pods []*corev1.Pod) (float64, error) {
	// Classes: pods with the same node requirements and tolerations share the offerings they may use.
	type group struct {
		class    int
		key      string
		cpu, mem float64
		count    float64
	}
	classIndex := map[string]int{}
	var classes []*podInfo
	groupIndex := map[string]*group{}
	var groups []*group
	for _, pod := range pods {
		sel, aff, alts, volErr, err := compileNodeRequirements(pod, s.vols)
		if err != nil || volErr != "" {
			return 0, fmt.Errorf("pod %s: cannot bound a pod without valid node requirements", podKey(pod))
		}
		p := &podInfo{pod: pod, selector: sel, affinity: aff, alts: alts, tolerations: pod.Spec.Tolerations, requests: PodRequests(pod)}
		ck := requirementsSig(alts) + "#" + tolerationsSig(p.tolerations)
		ci, ok := classIndex[ck]
		if !ok {
			ci = len(classes)
			classIndex[ck] = ci
			classes = append(classes, p)
		}
		gk := groupKey(ck, p.requests)
		g, ok := groupIndex[gk]
		if !ok {
			g = &group{class: ci, key: gk, cpu: float64(p.requests.CPU) / 1000, mem: float64(p.requests.Memory) / (1 << 30)}
			groupIndex[gk] = g
			groups = append(groups, g)
		}
		g.count++
	}
	if len(classes) > maxBoundClasses {
		return 0, fmt.Errorf("%d pod classes: the bound handles at most %d", len(classes), maxBoundClasses)
	}
	// Offerings: per pool and type, the cheapest offering for each set of classes that may use it.
	type column struct {
		mask          uint64
		cpu, mem, pod float64
		price         float64
		t             *typeInfo
	}
	var cols []column
	for _, ps := range s.pools {
		for _, t := range ps.types {
			best := map[uint64]float64{}
			for _, o := range t.offerings {
				var mask uint64
				for ci, p := range classes {
					if untoleratedTaint(p.tolerations, ps.np.Taints) != nil {
						continue
					}
					for _, alt := range p.alts {
						reqs := ps.reqs.Intersect(alt)
						if typeCompatible(s.typeKeys, reqs, t.it) && reqs.Has(apiv1.ZoneLabelKey, o.Zone) && reqs.Has(apiv1.CapacityTypeLabelKey, o.CapacityType) &&
							alt.CompatibleWithNode(ps.reqs) == nil {
							mask |= 1 << ci
							break
						}
					}
				}
				if mask == 0 {
					continue
				}
				if cur, ok := best[mask]; !ok || o.PricePerHour < cur {
					best[mask] = o.PricePerHour
				}
			}
			for mask, price := range best {
				if price <= 0 || t.alloc.CPU <= 0 || t.alloc.Memory <= 0 || t.alloc.Pods <= 0 {
					continue
				}
				cols = append(cols, column{mask: mask, cpu: float64(t.alloc.CPU) / 1000, mem: float64(t.alloc.Memory) / (1 << 30), pod: float64(t.alloc.Pods), price: price, t: t})
			}
		}
	}
	// Prune dominated columns: one that gives no more of anything per dollar to a subset of the classes.
	slices.SortFunc(cols, func(a, b column) int {
		return cmp.Or(cmp.Compare(b.cpu/b.price, a.cpu/a.price), cmp.Compare(b.mem/b.price, a.mem/a.price), cmp.Compare(b.pod/b.price, a.pod/a.price), cmp.Compare(a.mask, b.mask), cmp.Compare(a.t.it.Name, b.t.it.Name))
	})
	var kept []column
	for _, c := range cols {
		dominated := false
		for _, k := range kept {
			if c.mask&^k.mask == 0 && k.cpu/k.price >= c.cpu/c.price && k.mem/k.price >= c.mem/c.price && k.pod/k.price >= c.pod/c.price {
				dominated = true
				break
			}
		}
		if !dominated {
			kept = append(kept, c)
		}
	}
	// Variables: x_o (instances of column o), y_go (pods of group g on o, where allowed), slack s_or.
	// Rows: Σ_o y_go = n_g per group; Σ_g y_go·req_gr + s_or − x_o·alloc_or = 0 per column and resource.
	m := len(kept)
	type yv struct{ g, o int }
	var ys []yv
	for gi, g := range groups {
		any := false
		for oi, c := range kept {
			if c.mask&(1<<g.class) != 0 {
				ys = append(ys, yv{gi, oi})
				any = true
			}
		}
		if !any {
			return 0, fmt.Errorf("a group of %v pods has no offering it may use", g.count)
		}
	}
	nVars := m + len(ys) + 3*m
	nRows := len(groups) + 3*m
	A := mat.NewDense(nRows, nVars, nil)
	b := make([]float64, nRows)
	c := make([]float64, nVars)
	for oi, col := range kept {
		c[oi] = col.price
		A.Set(len(groups)+3*oi+0, oi, -col.cpu)
		A.Set(len(groups)+3*oi+1, oi, -col.mem)
		A.Set(len(groups)+3*oi+2, oi, -col.pod)
		for r := range 3 {
			A.Set(len(groups)+3*oi+r, m+len(ys)+3*oi+r, 1)
		}
	}
	for gi, g := range groups {
		b[gi] = g.count
	}
	for vi, y := range ys {
		g := groups[y.g]
		col := m + vi
		A.Set(y.g, col, 1)
		A.Set(len(groups)+3*y.o+0, col, g.cpu)
		A.Set(len(groups)+3*y.o+1, col, g.mem)
		A.Set(len(groups)+3*y.o+2, col, 1)
	}
	// Start from a feasible basis instead of gonum's phase one (which is fragile on this degenerate structure):
	// each group entirely on its cheapest allowed column, each used column bought exactly to cover its binding
	// resource, every other slack basic.
	load := make([][3]float64, m)
	basis := make([]int, 0, nRows)
	for gi, g := range groups {
		bestV, bestCost := -1, 0.0
		for vi, y := range ys {
			if y.g != gi {
				continue
			}
			col := kept[y.o]
			cost := col.price * max(g.cpu/col.cpu, g.mem/col.mem, 1/col.pod)
			if bestV < 0 || cost < bestCost {
				bestV, bestCost = vi, cost
			}
		}
		basis = append(basis, m+bestV)
		o := ys[bestV].o
		load[o][0] += g.count * g.cpu
		load[o][1] += g.count * g.mem
		load[o][2] += g.count
	}
	for oi, col := range kept {
		alloc := [3]float64{col.cpu, col.mem, col.pod}
		binding, most := -1, 0.0
		for r := range 3 {
			if load[oi][r] > 0 && load[oi][r]/alloc[r] > most {
				binding, most = r, load[oi][r]/alloc[r]
			}
		}
		if binding >= 0 {
			basis = append(basis, oi)
		}
		for r := range 3 {
			if r != binding {
				basis = append(basis, m+len(ys)+3*oi+r)
			}
		}
	}
	opt, _, err := lp.Simplex(c, A, b, 1e-9, basis)
	if err != nil {
		// Degenerate pivots can make gonum's simplex give up; perturb the prices by a relative 1e-9 (undone on
		// the result, so it stays a lower bound) and try once more.
		pc := slices.Clone(c)
		for i := range pc {
			pc[i] *= 1 + 1e-9*float64(i%7+1)
		}
		opt, _, err = lp.Simplex(pc, A, b, 1e-9, basis)
		opt /= 1 + 8e-9
	}
	if err != nil {
		return 0, fmt.Errorf("solving the packing LP (%d rows, %d columns): %w", nRows, nVars, err)
	}
	return opt, nil
}

// PlacedOnNewCapacity returns the pods a plan puts on NodeClaims, the pods LowerBound should be asked about.
func (r *Results) PlacedOnNewCapacity() []*corev1.Pod {
	var out []*corev1.Pod
	for _, c := range r.NodeClaims {
		out = append(out, c.Pods...)
	}
	return out
}
