package scheduling

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// The benchmarks plan against the embedded AWS catalogue (every type, spot and on-demand, three zones).
var benchSizes = []int{100, 1000, 5000, 10000}

func catalogTypes(tb testing.TB) []*cloudprovider.InstanceType {
	tb.Helper()
	c, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		tb.Fatal(err)
	}
	return c.ToInstanceTypes(catalog.Options{})
}

var (
	benchCPU = []string{"100m", "250m", "500m", "1", "1500m"}
	benchMem = []string{"100Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}
)

func shaped(r *rand.Rand, name string) *podBuilder {
	return pod(name).req(benchCPU[r.IntN(len(benchCPU))], benchMem[r.IntN(len(benchMem))])
}

// Scenarios, each a function of the pod count.
func plainPods(n int) []*corev1.Pod {
	r := newRand(1)
	return replicas(n, "plain", func(name string) *podBuilder { return shaped(r, name) })
}

// ratioPods draws each pod's cpu from cpuMilli and its memory per vCPU from mibPerCPU: a mix of several shapes
// that all lean the same way.
func ratioPods(n int, prefix string, seed uint64, cpuMilli, mibPerCPU []int64) []*corev1.Pod {
	r := newRand(seed)
	return replicas(n, prefix, func(name string) *podBuilder {
		c := cpuMilli[r.IntN(len(cpuMilli))]
		m := c * mibPerCPU[r.IntN(len(mibPerCPU))] / 1000
		return pod(name).req(fmt.Sprintf("%dm", c), fmt.Sprintf("%dMi", m))
	})
}

// memoryHeavyPods are Deployments of four shapes that request 4–16 GiB per vCPU (the m, r and x families' ratios),
// the larger pods the more memory-heavy, as JVMs and caches are.
func memoryHeavyPods(n int) []*corev1.Pod {
	shapes := [][2]string{{"1", "4Gi"}, {"1", "8Gi"}, {"2", "24Gi"}, {"4", "64Gi"}}
	r := newRand(5)
	return replicas(n, "mem", func(name string) *podBuilder {
		s := shapes[r.IntN(len(shapes))]
		return pod(name).req(s[0], s[1])
	})
}

// cpuHeavyPods request 0.25–2 GiB per vCPU (the c families' ratio and below), 16 shapes.
func cpuHeavyPods(n int) []*corev1.Pod {
	return ratioPods(n, "cpu", 6, []int64{500, 1000, 2000, 4000}, []int64{256, 512, 1 << 10, 2 << 10})
}

func zonalSpreadPods(n int) []*corev1.Pod {
	r := newRand(2)
	i := 0
	return replicas(n, "spread", func(name string) *podBuilder {
		i++
		v := fmt.Sprint("v", i%7)
		return shaped(r, name).label("app", v).spread(apiv1.ZoneLabelKey, 1, corev1.DoNotSchedule, map[string]string{"app": v})
	})
}

// hostnameAntiPods are Deployments of 10 replicas that each want one replica per node.
func hostnameAntiPods(n int) []*corev1.Pod {
	r := newRand(3)
	i := 0
	return replicas(n, "anti", func(name string) *podBuilder {
		v := fmt.Sprint("d", i/10)
		i++
		return shaped(r, name).label("app", v).antiAffinity(apiv1.HostnameLabelKey, map[string]string{"app": v})
	})
}

// diversePods is the mix in equal fifths: none; zone spread; hostname spread (maxSkew 1, DoNotSchedule, selector on
// a label with 7 values); required zone pod affinity to pods sharing one of 7 values; required hostname
// anti-affinity among all pods of the fifth.
func diversePods(n int) []*corev1.Pod { return diverseMix(n, "mix", false) }

// diverseMix is the diverse mix, its constraints required or (soft) preferred, pods named with prefix.
func diverseMix(n int, prefix string, soft bool) []*corev1.Pod {
	r := newRand(4)
	i := 0
	when := corev1.DoNotSchedule
	if soft {
		when = corev1.ScheduleAnyway
	}
	return replicas(n, prefix, func(name string) *podBuilder {
		fifth := i * 5 / n
		v := fmt.Sprint("v", i%7)
		i++
		b := shaped(r, name)
		switch {
		case fifth == 1:
			b.label("zs", v).spread(apiv1.ZoneLabelKey, 1, when, map[string]string{"zs": v})
		case fifth == 2:
			b.label("hs", v).spread(apiv1.HostnameLabelKey, 1, when, map[string]string{"hs": v})
		case fifth == 3 && soft:
			b.label("za", v).preferAffinity(100, apiv1.ZoneLabelKey, map[string]string{"za": v})
		case fifth == 3:
			b.label("za", v).podAffinity(apiv1.ZoneLabelKey, map[string]string{"za": v})
		case fifth == 4 && soft:
			b.label("ha", "all").preferAnti(100, apiv1.HostnameLabelKey, map[string]string{"ha": "all"})
		case fifth == 4:
			b.label("ha", "all").antiAffinity(apiv1.HostnameLabelKey, map[string]string{"ha": "all"})
		}
		return b
	})
}

// existingNodes is one m5.xlarge-sized node per 40 pods, each a third used.
func existingNodes(n int) []*ExistingNode {
	var out []*ExistingNode
	for i := range max(1, n/40) {
		zone := []string{"us-east-1a", "us-east-1b", "us-east-1c"}[i%3]
		used := pod(fmt.Sprint("old-", i)).req("1", "5Gi").obj()
		node := existingNode(fmt.Sprint("node-", i), zone, "3920m", "14Gi", used)
		node.Allocatable[corev1.ResourcePods] = resource.MustParse("58")
		out = append(out, node)
	}
	return out
}

type scenario struct {
	name  string
	pods  func(n int) []*corev1.Pod
	nodes func(n int) []*ExistingNode
	// large also runs the scenario at 50,000 pods.
	large bool
}

var scenarios = []scenario{
	{name: "plain", pods: plainPods, large: true},
	{name: "zonal-spread", pods: zonalSpreadPods},
	{name: "hostname-anti-affinity", pods: hostnameAntiPods},
	{name: "existing-nodes", pods: plainPods, nodes: existingNodes},
	{name: "diverse", pods: diversePods},
	{name: "cpu-heavy", pods: cpuHeavyPods, large: true},
	{name: "memory-heavy", pods: memoryHeavyPods, large: true},
}

func BenchmarkSolve(b *testing.B) {
	types := catalogTypes(b)
	for _, sc := range scenarios {
		sizes := benchSizes
		if sc.large {
			sizes = append(slices.Clone(sizes), 50000)
		}
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/pods=%d", sc.name, n), func(b *testing.B) {
				pods := sc.pods(n)
				snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
				if sc.nodes != nil {
					snap.Nodes = sc.nodes(n)
				}
				var res *Results
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					var err error
					if res, err = Solve(snap, pods, Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
				reportPlan(b, snap, res)
			})
		}
	}
}

// TestBenchmarkPlansAreValid runs the benchmark scenarios at a small size through the validator, so the plans the
// benchmarks time are known to be correct.
func TestBenchmarkPlansAreValid(t *testing.T) {
	types := catalogTypes(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			pods := sc.pods(500)
			snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
			if sc.nodes != nil {
				snap.Nodes = sc.nodes(500)
			}
			res := solve(t, snap, pods, Options{})
			if len(res.Unschedulable) > 0 {
				t.Fatalf("%d pods unschedulable", len(res.Unschedulable))
			}
			bound, err := LowerBound(snap, res.PlacedOnNewCapacity())
			if err != nil {
				t.Fatal(err)
			}
			if cost := res.TotalPricePerHour(); cost < bound-1e-6 {
				t.Errorf("plan costs %v, below the lower bound %v: the bound is wrong", cost, bound)
			}
		})
	}
}

func TestLowerBound(t *testing.T) {
	pods := replicas(8, "p", func(n string) *podBuilder { return pod(n).req("1", "2Gi") })
	snap := &Snapshot{NodePools: []*NodePool{defaultPool()}}
	got, err := LowerBound(snap, pods)
	if err != nil {
		t.Fatal(err)
	}
	// c6 spot gives exactly 1 cpu : 2Gi at 0.0425 × 0.4 per vCPU-hour: 8 vCPU cost 0.136.
	if want := 8 * 0.0425 * 0.4; got < want-1e-6 || got > want+1e-6 {
		t.Errorf("LowerBound = %v, want %v", got, want)
	}
	// On-demand only doubles back to the on-demand price.
	od := &Snapshot{NodePools: []*NodePool{nodePool("od", smallCatalog()...).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeOnDemand)).obj()}}
	got, err = LowerBound(od, pods)
	if err != nil {
		t.Fatal(err)
	}
	if want := 8 * 0.0425; got < want-1e-6 || got > want+1e-6 {
		t.Errorf("on-demand LowerBound = %v, want %v", got, want)
	}
}

// TestLowerBoundIsRobust solves the bound on inputs where gonum's simplex used to report a singular basis (the
// diverse mix at 100 pods in the order the plan lists them, hostname anti-affinity at 500) and on random plans.
func TestLowerBoundIsRobust(t *testing.T) {
	types := catalogTypes(t)
	for _, tc := range []struct {
		sc scenario
		n  int
	}{{scenarios[4], 100}, {scenarios[2], 500}, {scenarios[4], 300}, {scenarios[1], 200}} {
		t.Run(fmt.Sprintf("%s/%d", tc.sc.name, tc.n), func(t *testing.T) {
			snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
			pods := tc.sc.pods(tc.n)
			res := solve(t, snap, pods, Options{})
			for _, order := range [][]*corev1.Pod{pods, res.PlacedOnNewCapacity()} {
				bound, err := LowerBound(snap, order)
				if err != nil {
					t.Fatal(err)
				}
				if cost := res.TotalPricePerHour(); bound <= 0 || bound > cost+1e-9 {
					t.Errorf("bound %v must be positive and at most the plan's cost %v", bound, cost)
				}
			}
		})
	}
	// A few random plans: their many pod classes and zone-specific offerings make LPs of a few hundred rows, which
	// gonum's dense simplex takes a second or more to solve.
	for seed := range uint64(3) {
		r := newRand(100 + seed)
		snap := randomSnapshot(r)
		pods := randomPods(r, 20+int(seed)*3)
		res := solve(t, snap, pods, Options{})
		bound, err := LowerBound(snap, res.PlacedOnNewCapacity())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if cost := res.TotalPricePerHour(); bound > cost+1e-9 {
			t.Errorf("seed %d: bound %v above the plan's cost %v", seed, bound, cost)
		}
	}
}

// reportPlan fails the benchmark if a pod was left unschedulable and reports the plan's quality: its price over the
// LP lower bound (cost/bound) and its node count.
func reportPlan(b *testing.B, snap *Snapshot, res *Results) {
	b.Helper()
	if len(res.Unschedulable) > 0 {
		b.Fatalf("%d pods unschedulable: %v", len(res.Unschedulable), res.Unschedulable[0].Reasons)
	}
	bound, err := LowerBound(snap, res.PlacedOnNewCapacity())
	if err != nil {
		// gonum's simplex occasionally gives up on this degenerate LP; the timing still stands.
		b.Logf("no lower bound: %v", err)
	}
	if err == nil && bound > 0 {
		b.ReportMetric(res.TotalPricePerHour()/bound, "cost/bound")
	}
	b.ReportMetric(float64(len(res.NodeClaims)), "nodes")
}
