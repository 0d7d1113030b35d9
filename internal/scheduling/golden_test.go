package scheduling

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

var update = flag.Bool("update", false, "rewrite the golden plans under testdata/plans from the current code")

// planText writes a plan in full (every claim with its launch option, price and pods, every existing placement and
// every unschedulable pod with its reasons), one line each, for golden comparison.
func planText(res *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "nodeclaims %d, total $%.6f/h, %d unschedulable\n", len(res.NodeClaims), res.TotalPricePerHour(), len(res.Unschedulable))
	for _, c := range res.NodeClaims {
		o := c.Cheapest()
		fmt.Fprintf(&b, "claim %s %s %s %s %s $%.6f options=%d:", c.Hostname, c.NodePool, o.InstanceType.Name, o.Offering.Zone, o.Offering.CapacityType, o.Offering.PricePerHour, len(c.InstanceTypeOptions))
		for _, p := range c.Pods {
			b.WriteString(" " + p.Name)
		}
		b.WriteByte('\n')
	}
	for _, e := range res.ExistingNodes {
		fmt.Fprintf(&b, "existing %s:", e.Node)
		for _, p := range e.Pods {
			b.WriteString(" " + p.Name)
		}
		b.WriteByte('\n')
	}
	for _, u := range res.Unschedulable {
		fmt.Fprintf(&b, "unschedulable %s:\n", u.Pod.Name)
		for _, r := range u.Reasons {
			fmt.Fprintf(&b, "  - %s\n", fmt.Sprint(r))
		}
	}
	return b.String()
}

// checkGolden compares got with testdata/plans/name, or rewrites it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "plans", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenPlans -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("plan of %s differs from %s (-want +got):\n%s", name, path, diff)
	}
}

// TestGoldenPlans keeps the plans of the benchmark scenarios (at 500 pods) and of the property test's random
// snapshots as committed under testdata/plans, so a refactoring of the planner shows any plan, price or reason it
// changes. Run with -update to accept new plans.
func TestGoldenPlans(t *testing.T) {
	types := catalogTypes(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
			if sc.nodes != nil {
				snap.Nodes = sc.nodes(500)
			}
			checkGolden(t, "bench-"+sc.name+".txt", planText(solve(t, snap, sc.pods(500), Options{})))
		})
	}
	t.Run("random", func(t *testing.T) {
		var b strings.Builder
		for seed := range uint64(60) {
			r := newRand(seed)
			snap := randomSnapshot(r)
			pods := randomPods(r, 5+r.IntN(120))
			policy := PreferenceCost
			if seed%3 == 0 {
				policy = PreferenceRespect
			}
			fmt.Fprintf(&b, "# seed %d (%s)\n%s", seed, policy, planText(solve(t, snap, pods, Options{Preferences: policy})))
		}
		checkGolden(t, "random.txt", b.String())
	})
	// The same snapshots with the default NodePool limited to a few CPUs (every other seed), more pods and some no type can hold: most
	// pods are left out, so the reasons of every constraint show.
	t.Run("random-tight", func(t *testing.T) {
		var b strings.Builder
		for seed := range uint64(30) {
			r := newRand(1000 + seed)
			snap := randomSnapshot(r)
			if seed%2 == 0 {
				snap.NodePools[0].Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(fmt.Sprint(8 + r.IntN(24)))}
			}
			pods := randomPods(r, 20+r.IntN(60))
			for i := range 1 + r.IntN(3) {
				pods = append(pods, randomPod(r, fmt.Sprint("huge-", i)).req(fmt.Sprint(50+r.IntN(200)), "8Gi").obj())
			}
			policy := PreferenceCost
			if seed%3 == 0 {
				policy = PreferenceRespect
			}
			fmt.Fprintf(&b, "# seed %d (%s)\n%s", 1000+seed, policy, planText(solve(t, snap, pods, Options{Preferences: policy})))
		}
		checkGolden(t, "random-tight.txt", b.String())
	})
	// Small batches that leave pods out for the inter-pod and port reasons the random mixes rarely produce.
	t.Run("reasons", func(t *testing.T) {
		zoneA := nodePool("zone-a", smallCatalog()...).require(req(apiv1.ZoneLabelKey, OpIn, "test-1a")).obj()
		anti := map[string]string{"app": "anti"}
		spread := map[string]string{"app": "spread"}
		cases := []struct {
			name string
			snap *Snapshot
			pods []*corev1.Pod
		}{
			{"zone anti-affinity", &Snapshot{NodePools: []*NodePool{defaultPool()}},
				replicas(4, "anti", func(n string) *podBuilder {
					return pod(n).req("1", "1Gi").label("app", "anti").antiAffinity(apiv1.ZoneLabelKey, anti)
				})},
			{"affinity to nothing", &Snapshot{NodePools: []*NodePool{defaultPool()}},
				[]*corev1.Pod{pod("lonely").req("1", "1Gi").podAffinity(apiv1.ZoneLabelKey, map[string]string{"app": "nothing"}).obj()}},
			{"zone spread in one zone", &Snapshot{NodePools: []*NodePool{zoneA}, Nodes: []*ExistingNode{existingNode("b-1", "test-1b", "1", "1Gi", pod("s-old").label("app", "spread").req("500m", "100Mi").obj())}},
				replicas(3, "spread", func(n string) *podBuilder {
					return pod(n).req("1", "1Gi").label("app", "spread").spread(apiv1.ZoneLabelKey, 1, corev1.DoNotSchedule, spread)
				})},
			{"host port on existing only", &Snapshot{Nodes: []*ExistingNode{existingNode("n-1", "test-1a", "4", "8Gi", pod("agent-old").hostPort(9100).req("100m", "100Mi").obj())}},
				[]*corev1.Pod{pod("agent").req("100m", "100Mi").hostPort(9100).obj()}},
			{"hostname anti-affinity and limit", &Snapshot{NodePools: []*NodePool{nodePool("small", smallCatalog()...).limit(corev1.ResourceCPU, "8").obj()}},
				replicas(6, "solo", func(n string) *podBuilder {
					return pod(n).req("1", "1Gi").label("app", "anti").antiAffinity(apiv1.HostnameLabelKey, anti)
				})},
		}
		var b strings.Builder
		for _, tc := range cases {
			fmt.Fprintf(&b, "# %s\n%s", tc.name, planText(solve(t, tc.snap, tc.pods, Options{})))
		}
		checkGolden(t, "reasons.txt", b.String())
	})
}
