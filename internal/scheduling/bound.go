package scheduling

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize/convex/lp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
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
	s := &solver{vols: newVolumeIndex(snap), typeKeys: map[string]bool{}, burstables: map[*NodePool][]*cloudprovider.InstanceType{}}
	if err := s.buildPools(&Snapshot{NodePools: snap.NodePools, DaemonSetPods: snap.DaemonSetPods}); err != nil {
		return 0, err
	}
	return s.packingLP(pods)
}

// lpGroup is a set of identical pods: same class (node requirements and tolerations) and same requests.
type lpGroup struct {
	class    int
	cpu, mem float64 // cores, GiB
	count    float64
}

// lpColumn is one way to buy capacity: an instance type of a NodePool at the cheapest offering that a set of
// classes (the bits of mask) may all use. Resources are allocatable net of daemonsets.
type lpColumn struct {
	mask          uint64
	cpu, mem, pod float64
	price         float64
	t             *typeInfo
}

// packingLP solves the relaxation for pods against the solver's pools and returns its value.
func (s *solver) packingLP(pods []*corev1.Pod) (float64, error) {
	classes, groups, err := s.lpGroups(pods)
	if err != nil {
		return 0, err
	}
	cols := pruneDominated(s.lpColumns(classes))
	rows, err := mergeGroups(groups, cols)
	if err != nil {
		return 0, err
	}
	return newPackingProblem(rows, cols).solve()
}

// lpGroups sorts pods into classes (pods with the same node requirements and tolerations share the offerings they
// may use) and groups of identical pods.
func (s *solver) lpGroups(pods []*corev1.Pod) ([]*podInfo, []*lpGroup, error) {
	classIndex := map[string]int{}
	var classes []*podInfo
	groupIndex := map[string]*lpGroup{}
	var groups []*lpGroup
	for _, pod := range pods {
		sel, aff, alts, volErr, err := compileNodeRequirements(pod, s.vols)
		if err != nil || volErr != "" {
			return nil, nil, fmt.Errorf("pod %s: cannot bound a pod without valid node requirements", podKey(pod))
		}
		if why := requestsOutOfRange(pod); why != "" {
			return nil, nil, fmt.Errorf("pod %s: cannot bound: %s", podKey(pod), why)
		}
		p := &podInfo{pod: pod, selector: sel, affinity: aff, alts: alts, tolerations: pod.Spec.Tolerations, requests: PodRequests(pod)}
		ck := requirementsSig(alts) + "#" + tolerationsSig(p.tolerations)
		ci, ok := classIndex[ck]
		if !ok {
			ci = len(classes)
			classIndex[ck] = ci
			classes = append(classes, p)
		}
		gk := fmt.Sprintf("%d/%d/%d", ci, p.requests.CPU, p.requests.Memory)
		g, ok := groupIndex[gk]
		if !ok {
			g = &lpGroup{class: ci, cpu: float64(p.requests.CPU) / 1000, mem: float64(p.requests.Memory) / (1 << 30)}
			groupIndex[gk] = g
			groups = append(groups, g)
		}
		g.count++
	}
	if len(classes) > maxBoundClasses {
		return nil, nil, fmt.Errorf("%d pod classes: the bound handles at most %d", len(classes), maxBoundClasses)
	}
	return classes, groups, nil
}

// lpColumns lists, per NodePool and type, the cheapest offering for each set of classes that may use it.
func (s *solver) lpColumns(classes []*podInfo) []lpColumn {
	var cols []lpColumn
	for _, ps := range s.pools {
		for _, t := range ps.types {
			if t.alloc.CPU <= 0 || t.alloc.Memory <= 0 || t.alloc.Pods <= 0 {
				continue
			}
			best := map[uint64]float64{}
			for _, o := range t.offerings {
				mask := s.classMask(ps, t, o, classes)
				if cur, ok := best[mask]; mask != 0 && (!ok || o.PricePerHour < cur) {
					best[mask] = o.PricePerHour
				}
			}
			for _, mask := range slices.Sorted(maps.Keys(best)) {
				if price := best[mask]; price > 0 {
					cols = append(cols, lpColumn{mask: mask, cpu: float64(t.alloc.CPU) / 1000, mem: float64(t.alloc.Memory) / (1 << 30), pod: float64(t.alloc.Pods), price: price, t: t})
				}
			}
		}
	}
	return cols
}

// classMask is the set of classes that may run on type t of pool ps bought as offering o.
func (s *solver) classMask(ps *poolState, t *typeInfo, o cloudprovider.Offering, classes []*podInfo) uint64 {
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
	return mask
}

// pruneDominated drops columns that give no more of anything per dollar than another column, to a subset of its
// classes: they can never lower the optimum.
func pruneDominated(cols []lpColumn) []lpColumn {
	slices.SortFunc(cols, func(a, b lpColumn) int {
		return cmp.Or(cmp.Compare(b.cpu/b.price, a.cpu/a.price), cmp.Compare(b.mem/b.price, a.mem/a.price), cmp.Compare(b.pod/b.price, a.pod/a.price), cmp.Compare(a.mask, b.mask), cmp.Compare(a.t.it.Name, b.t.it.Name))
	})
	var kept []lpColumn
	for _, c := range cols {
		dominated := slices.ContainsFunc(kept, func(k lpColumn) bool {
			return c.mask&^k.mask == 0 && k.cpu/k.price >= c.cpu/c.price && k.mem/k.price >= c.mem/c.price && k.pod/k.price >= c.pod/c.price
		})
		if !dominated {
			kept = append(kept, c)
		}
	}
	return kept
}

// lpDemand is one row of the LP: identical pods that may use the same columns (groups of different classes merge
// when their classes may use exactly the same columns).
type lpDemand struct {
	cols     []int // the columns these pods may use, ascending
	cpu, mem float64
	count    float64
}

// mergeGroups turns groups into demands, merging groups of the same shape whose classes may use the same columns:
// fewer, distinct rows make the LP smaller and less degenerate.
func mergeGroups(groups []*lpGroup, cols []lpColumn) ([]*lpDemand, error) {
	index := map[string]*lpDemand{}
	var out []*lpDemand
	for _, g := range groups {
		var allowed []int
		for oi, c := range cols {
			if c.mask&(1<<g.class) != 0 {
				allowed = append(allowed, oi)
			}
		}
		if len(allowed) == 0 {
			return nil, fmt.Errorf("a group of %v pods has no offering it may use", g.count)
		}
		key := fmt.Sprint(allowed, g.cpu, g.mem)
		d, ok := index[key]
		if !ok {
			d = &lpDemand{cols: allowed, cpu: g.cpu, mem: g.mem}
			index[key] = d
			out = append(out, d)
		}
		d.count += g.count
	}
	return out, nil
}

// lpResources are the resources the LP covers, in order: cpu, memory, pod slots.
const lpResources = 3

func (d *lpDemand) req() [lpResources]float64   { return [lpResources]float64{d.cpu, d.mem, 1} }
func (c *lpColumn) alloc() [lpResources]float64 { return [lpResources]float64{c.cpu, c.mem, c.pod} }

// packingProblem is the LP in gonum's standard form (minimize cᵀx subject to Ax = b, x ≥ 0) with a feasible
// starting basis. It is scaled so every coefficient is about 1 in size, and the rows that would be degenerate get
// a tiny positive right-hand side: gonum's dense simplex otherwise pivots on numerical noise on this structure and
// reports a singular basis.
//
// Variables: x_o, instances of column o; y_do, the share of demand d placed on column o (where it may go); s_or, the
// unused part of column o's resource r, in instances. Rows: Σ_o y_do = 1 per demand; per column and resource,
// Σ_d y_do·n_d·req_dr/alloc_or + s_or − x_o = ε_or. A positive ε_or lets a column hold ε_or instances' worth of
// resource for free, which can only lower the optimum: the result stays a lower bound (lower by at most
// Σ ε_or·price_o, well under a millionth of a cent per hour).
type packingProblem struct {
	demands []*lpDemand
	cols    []lpColumn
	ys      []lpPlacement
	c       []float64
	a       *mat.Dense
	b       []float64
	basis   []int
}

// lpPlacement is a variable y_do: the share of demand d on column o.
type lpPlacement struct{ d, o int }

// lpEpsilon is the right-hand side perturbation of the resource rows, in instances.
const lpEpsilon = 1e-9

func newPackingProblem(demands []*lpDemand, cols []lpColumn) *packingProblem {
	lpp := &packingProblem{demands: demands, cols: cols}
	for di, d := range demands {
		for _, oi := range d.cols {
			lpp.ys = append(lpp.ys, lpPlacement{di, oi})
		}
	}
	m, nD := len(cols), len(demands)
	nVars := m + len(lpp.ys) + lpResources*m
	nRows := nD + lpResources*m
	lpp.a = mat.NewDense(nRows, nVars, nil)
	lpp.b = make([]float64, nRows)
	lpp.c = make([]float64, nVars)
	for oi, col := range cols {
		lpp.c[oi] = col.price
		for r := range lpResources {
			row := lpp.resourceRow(oi, r)
			lpp.a.Set(row, oi, -1)
			lpp.a.Set(row, lpp.slack(oi, r), 1)
			// Distinct, deterministic perturbations break ties between rows as well as degeneracy.
			lpp.b[row] = lpEpsilon * (1 + float64((row*7919)%1000)/1000)
		}
	}
	for di := range demands {
		lpp.b[di] = 1
	}
	for vi, y := range lpp.ys {
		d, alloc := demands[y.d], cols[y.o].alloc()
		lpp.a.Set(y.d, m+vi, 1)
		for r, req := range d.req() {
			lpp.a.Set(lpp.resourceRow(y.o, r), m+vi, d.count*req/alloc[r])
		}
	}
	lpp.basis = lpp.feasibleBasis()
	return lpp
}

// resourceRow is the row of column o's resource r; slack the index of its slack variable.
func (lpp *packingProblem) resourceRow(o, r int) int { return len(lpp.demands) + lpResources*o + r }
func (lpp *packingProblem) slack(o, r int) int {
	return len(lpp.cols) + len(lpp.ys) + lpResources*o + r
}

// feasibleBasis starts from a feasible basis instead of gonum's phase one: each demand entirely on its cheapest
// allowed column, each used column bought exactly to cover its binding resource, every other slack basic.
func (lpp *packingProblem) feasibleBasis() []int {
	m := len(lpp.cols)
	load := make([][lpResources]float64, m) // in instances
	basis := make([]int, 0, len(lpp.b))
	for di, d := range lpp.demands {
		bestV, bestCost := -1, 0.0
		for vi, y := range lpp.ys {
			if y.d != di {
				continue
			}
			col := lpp.cols[y.o]
			cost := col.price * max(d.cpu/col.cpu, d.mem/col.mem, 1/col.pod)
			if bestV < 0 || cost < bestCost {
				bestV, bestCost = vi, cost
			}
		}
		basis = append(basis, m+bestV)
		o, alloc := lpp.ys[bestV].o, lpp.cols[lpp.ys[bestV].o].alloc()
		for r, req := range d.req() {
			load[o][r] += d.count * req / alloc[r]
		}
	}
	for oi := range lpp.cols {
		// x_o = load − ε on the binding row (the largest), so every other slack, ε + x_o − load, stays ≥ 0.
		binding, most := -1, 0.0
		for r := range lpResources {
			if v := load[oi][r] - lpp.b[lpp.resourceRow(oi, r)]; load[oi][r] > 0 && (binding < 0 || v > most) {
				binding, most = r, v
			}
		}
		if binding >= 0 {
			basis = append(basis, oi)
		}
		for r := range lpResources {
			if r != binding {
				basis = append(basis, lpp.slack(oi, r))
			}
		}
	}
	return basis
}

func (lpp *packingProblem) solve() (float64, error) {
	opt, _, err := lp.Simplex(lpp.c, lpp.a, lpp.b, 1e-10, lpp.basis)
	if err != nil {
		// Should pivoting still fail, perturb the prices by a relative 1e-9 (undone on the result, so it stays a
		// lower bound) and try once more.
		pc := slices.Clone(lpp.c)
		for i := range pc {
			pc[i] *= 1 + 1e-9*float64(i%7+1)
		}
		opt, _, err = lp.Simplex(pc, lpp.a, lpp.b, 1e-10, lpp.basis)
		opt /= 1 + 8e-9
	}
	if err != nil {
		rows, vars := lpp.a.Dims()
		return 0, fmt.Errorf("solving the packing LP (%d rows, %d columns): %w", rows, vars, err)
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
