package scheduling

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// scaleCatalog is one family whose price per vCPU is flat up to 16 vCPUs and a large size that costs 30% more per
// vCPU, as the biggest AWS machines do.
func scaleCatalog() []*cloudprovider.InstanceType {
	return []*cloudprovider.InstanceType{
		instanceType("c6.xlarge", 4, 8, 0.17).obj(),
		instanceType("c6.2xlarge", 8, 16, 0.34).obj(),
		instanceType("c6.4xlarge", 16, 32, 0.68).obj(),
		instanceType("c6.24xlarge", 96, 192, 4.08*1.3).obj(),
	}
}

func typeCounts(r *Results) map[string]int {
	out := map[string]int{}
	for _, c := range r.NodeClaims {
		out[c.Cheapest().InstanceType.Name]++
	}
	return out
}

// TestClaimsGrowOnlyIntoEfficientTypes: 60 one-cpu pods fit one 96-vCPU node, but that node costs 30% more per vCPU;
// claims stop growing at the largest type within the packing tolerance. Turning the cap off (a negative tolerance)
// gives Karpenter's behaviour: one claim that grows into the large type.
func TestClaimsGrowOnlyIntoEfficientTypes(t *testing.T) {
	pods := replicas(60, "p", func(n string) *podBuilder { return pod(n).req("1", "1Gi") })
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", scaleCatalog()...).obj()}}

	r := solve(t, snap, pods, Options{})
	// 15 pods per c6.4xlarge (16 vCPU less the kubelet's share): three full ones, the rest on smaller nodes; never
	// the 96-vCPU type.
	got := typeCounts(r)
	if got["c6.24xlarge"] != 0 || got["c6.4xlarge"] != 3 {
		t.Errorf("with the default tolerance got %v, want three c6.4xlarge and no c6.24xlarge", got)
	}
	capped := r.TotalPricePerHour()
	if want := 4 * 0.68 * 0.4; capped > want+1e-9 {
		t.Errorf("capped plan costs %v, more than four c6.4xlarge (%v)", capped, want)
	}

	r = solve(t, snap, pods, Options{PackingTolerance: -1})
	if diff := cmp.Diff(map[string]int{"c6.24xlarge": 1}, typeCounts(r)); diff != "" {
		t.Errorf("with the cap off (-want +got):\n%s", diff)
	}
	if r.TotalPricePerHour() <= capped {
		t.Errorf("the uncapped plan costs %v, the capped %v: the cap should be the cheaper", r.TotalPricePerHour(), capped)
	}
}

// TestSmallBatchStaysOnOneNode: a batch that fits on one node gets one node even where two smaller ones would cost
// less (the split pass leaves a NodePool's only claim alone).
func TestSmallBatchStaysOnOneNode(t *testing.T) {
	// 5 pods of 1 cpu: one c6.2xlarge ($0.136 spot) holds them; c6.xlarge + c6.xlarge (3 + 2 pods) would cost the same
	// and c6.xlarge + a 2-vCPU type less; either way, one node.
	cat := append(scaleCatalog(), instanceType("c6.large", 2, 4, 0.085).obj())
	pods := replicas(5, "p", func(n string) *podBuilder { return pod(n).req("1", "1Gi") })
	r := solve(t, &Snapshot{NodePools: []*NodePool{nodePool("default", cat...).obj()}}, pods, Options{})
	if diff := cmp.Diff(map[string]int{"c6.2xlarge": 1}, typeCounts(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestSplitRightSizesTheTail: 20 one-cpu pods need two 16-vCPU nodes' worth; the second claim holds 5 pods and
// launches as c6.xlarge + c6.large-sized nodes or one c6.2xlarge, whichever is cheapest, never a half-empty
// c6.4xlarge.
func TestSplitRightSizesTheTail(t *testing.T) {
	pods := replicas(20, "p", func(n string) *podBuilder { return pod(n).req("1", "1Gi") })
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", scaleCatalog()...).obj()}}
	r := solve(t, snap, pods, Options{})
	got := typeCounts(r)
	if got["c6.4xlarge"] != 1 {
		t.Errorf("want one full c6.4xlarge, got %v", got)
	}
	// 15 pods on the c6.4xlarge, 5 left: a c6.2xlarge ($0.136 spot) holds them; the split pass must not leave them on
	// a second c6.4xlarge ($0.272).
	if want := (0.68 + 0.34) * 0.4; r.TotalPricePerHour() > want+1e-9 {
		t.Errorf("plan %v costs %v, want at most %v", got, r.TotalPricePerHour(), want)
	}
}

// TestSplitNeverRaisesThePrice runs the split pass on claims where re-packing cannot help (pods too large for the
// smaller types): the plan is what it was.
func TestSplitNeverRaisesThePrice(t *testing.T) {
	pods := replicas(3, "big", func(n string) *podBuilder { return pod(n).req("9", "2Gi") })
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", scaleCatalog()...).obj()}}
	r := solve(t, snap, pods, Options{})
	// Each 9-cpu pod needs a 16-vCPU node (a 4xlarge holds one, with 6 cpu left that no other pod fits).
	if diff := cmp.Diff(map[string]int{"c6.4xlarge": 3}, typeCounts(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestBurstableTypesOnlyWhenNamed: a NodePool that does not name burstable types never launches one, even when it is
// the cheapest; naming the category, the family or the type lets it.
func TestBurstableTypesOnlyWhenNamed(t *testing.T) {
	burst := instanceType("t3.large", 2, 8, 0.02).obj()
	burst.Labels[apiv1.InstanceCategoryLabelKey] = "t"
	burst.Burstable = true
	cat := []*cloudprovider.InstanceType{burst, instanceType("m6.large", 2, 8, 0.096).obj()}
	pods := []*corev1.Pod{pod("web").req("1", "2Gi").obj()}
	tests := []struct {
		name string
		reqs []Requirement
		want string
	}{
		{name: "not named", want: "m6.large"},
		{name: "category named", reqs: []Requirement{{Key: apiv1.InstanceCategoryLabelKey, Operator: OpIn, Values: []string{"m", "t"}}}, want: "t3.large"},
		{name: "family named", reqs: []Requirement{{Key: apiv1.InstanceFamilyLabelKey, Operator: OpIn, Values: []string{"t3"}}}, want: "t3.large"},
		{name: "type named", reqs: []Requirement{{Key: apiv1.InstanceTypeLabelKey, Operator: OpIn, Values: []string{"t3.large"}}}, want: "t3.large"},
		{name: "only excluded by NotIn", reqs: []Requirement{{Key: apiv1.InstanceCategoryLabelKey, Operator: OpNotIn, Values: []string{"r"}}}, want: "m6.large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := nodePool("default", cat...).require(tt.reqs...).obj()
			snap := &Snapshot{NodePools: []*NodePool{np}}
			r := solve(t, snap, pods, Options{})
			if len(r.NodeClaims) != 1 {
				t.Fatalf("want one claim, got %v", summary(r))
			}
			if got := r.NodeClaims[0].Cheapest().InstanceType.Name; got != tt.want {
				t.Errorf("launches %s, want %s", got, tt.want)
			}
			for _, o := range r.NodeClaims[0].InstanceTypeOptions {
				if o.InstanceType.Burstable && tt.want != "t3.large" {
					t.Errorf("option %s is burstable in a pool that does not name it", o.InstanceType.Name)
				}
			}
			// The bound sees the same types: it never prices a burstable the pool may not launch.
			bound, err := LowerBound(snap, pods)
			if err != nil {
				t.Fatal(err)
			}
			if bound > r.TotalPricePerHour()+1e-9 {
				t.Errorf("bound %v above the plan %v", bound, r.TotalPricePerHour())
			}
		})
	}
}

// TestBalancedOrder: memory-heavy and cpu-heavy pods alternate so that every prefix keeps close to the batch's
// memory-to-cpu ratio, while each kind stays largest first.
func TestBalancedOrder(t *testing.T) {
	var infos []*podInfo
	for i := range 4 {
		infos = append(infos,
			&podInfo{key: fmt.Sprint("mem-", i), requests: Resources{CPU: 100, Memory: int64(4-i) << 30}},
			&podInfo{key: fmt.Sprint("cpu-", i), requests: Resources{CPU: int64(4-i) * 1000, Memory: 100 << 20}})
	}
	var got, mem, cpu []string
	for _, p := range balancedOrder(infos) {
		got = append(got, p.key)
		if strings.HasPrefix(p.key, "mem") {
			mem = append(mem, p.key)
		} else {
			cpu = append(cpu, p.key)
		}
	}
	// Each kind keeps decreasing order...
	if diff := cmp.Diff([]string{"mem-0", "mem-1", "mem-2", "mem-3"}, mem); diff != "" {
		t.Errorf("memory-heavy pods out of order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"cpu-0", "cpu-1", "cpu-2", "cpu-3"}, cpu); diff != "" {
		t.Errorf("cpu-heavy pods out of order (-want +got):\n%s", diff)
	}
	// ...and the kinds interleave: the first half holds two of each (plain decreasing order, where 4Gi weighs as
	// much as one cpu, would put three cpu-heavy pods first).
	first := strings.Join(got[:4], " ")
	if strings.Count(first, "mem-") != 2 || strings.Count(first, "cpu-") != 2 {
		t.Errorf("order %v: the first four should hold two of each kind", got)
	}
}

// TestPlainMixCostNearBound is the quality target on the embedded catalogue: the mixed-shape benchmark pods
// cost at most 5% more than the LP lower bound (the benchmark reports the same ratio as cost/bound).
func TestPlainMixCostNearBound(t *testing.T) {
	types := catalogTypes(t)
	for _, n := range []int{100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pods := plainPods(n)
			snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
			r := solve(t, snap, pods, Options{})
			bound, err := LowerBound(snap, r.PlacedOnNewCapacity())
			if err != nil {
				t.Fatal(err)
			}
			if ratio := r.TotalPricePerHour() / bound; ratio > 1.05 {
				t.Errorf("plan $%.4f/h is %.3f× the bound $%.4f/h, want ≤ 1.05 (%v)", r.TotalPricePerHour(), ratio, bound, typeCounts(r))
			}
		})
	}
}

// TestShapeMixesCostNearBound: every shape of mix the benchmarks plan — plain, cpu-heavy (0.25–2 GiB per vCPU) and
// memory-heavy (4–16 GiB per vCPU, which needs two families: lanes.go) — costs at most 3% more than the LP bound at
// 1,000 pods.
func TestShapeMixesCostNearBound(t *testing.T) {
	types := catalogTypes(t)
	for _, sc := range []struct {
		name string
		pods func(int) []*corev1.Pod
	}{{"plain", plainPods}, {"cpu-heavy", cpuHeavyPods}, {"memory-heavy", memoryHeavyPods}} {
		t.Run(sc.name, func(t *testing.T) {
			snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
			r := solve(t, snap, sc.pods(1000), Options{})
			if len(r.Unschedulable) > 0 {
				t.Fatalf("%d pods unschedulable", len(r.Unschedulable))
			}
			bound, err := LowerBound(snap, r.PlacedOnNewCapacity())
			if err != nil {
				t.Fatal(err)
			}
			if ratio := r.TotalPricePerHour() / bound; ratio > 1.03 {
				t.Errorf("plan $%.4f/h is %.3f× the bound $%.4f/h, want ≤ 1.03 (%v)", r.TotalPricePerHour(), ratio, bound, typeCounts(r))
			}
		})
	}
}

// TestBurstableReason: a pod that selects a burstable type the NodePool does not name is told so, and a pod rejected
// for another reason is not.
func TestBurstableReason(t *testing.T) {
	burst := instanceType("t3.large", 2, 8, 0.02).obj()
	burst.Labels[apiv1.InstanceCategoryLabelKey] = "t"
	burst.Burstable = true
	np := nodePool("default", burst, instanceType("m6.large", 2, 8, 0.096).obj()).obj()
	pods := []*corev1.Pod{
		pod("wants-t3").req("1", "1Gi").selector(apiv1.InstanceTypeLabelKey, "t3.large").obj(),
		pod("too-big").req("64", "1Gi").obj(),
	}
	r := solve(t, &Snapshot{NodePools: []*NodePool{np}}, pods, Options{})
	reasons := map[string]string{}
	for _, u := range r.Unschedulable {
		reasons[u.Pod.Name] = strings.Join(ReasonStrings(u.Reasons), "; ")
	}
	if !strings.Contains(reasons["wants-t3"], `burstable types such as t3.large, which NodePool "default" does not name`) {
		t.Errorf("wants-t3: %q does not explain the burstable rule", reasons["wants-t3"])
	}
	if reasons["too-big"] == "" || strings.Contains(reasons["too-big"], "burstable") {
		t.Errorf("too-big: %q should name its size, not burstable types", reasons["too-big"])
	}
}
