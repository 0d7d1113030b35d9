package disruption

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// podCPU binds a pod requesting cpu to the node.
func (f *fixture) podCPU(node, cpu string) {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Namespace: f.ns},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
	if err := f.kube.Create(f.t.Context(), p); err != nil {
		f.t.Fatal(err)
	}
}

// onDemandClaim makes an on-demand NodeClaim (4 CPUs, see fixture.claim) that cost price at launch.
func (f *fixture) onDemandClaim(name string, np *apiv1.NodePool, price string) {
	f.claim(name, np, func(nc *apiv1.NodeClaim) {
		nc.Labels[apiv1.CapacityTypeLabelKey] = apiv1.CapacityTypeOnDemand
		nc.Annotations[apiv1.PricePerHourAnnotationKey] = price
	})
}

// consolidateTwice lets consolidateAfter pass, then runs a pass, waits out the validation window and runs another:
// what the second one launches or deletes is the decision.
func (f *fixture) consolidateTwice() []string {
	f.t.Helper()
	f.clk.Step(31 * time.Second)
	f.disrupt()
	f.clk.Step(ValidationWindow)
	return f.disrupt()
}

// TestMultiNodeReplace: three nodes, each with a 2.5-CPU pod on 4 CPUs, cannot give a pod to one another; one
// 8-CPU node holds all three for two thirds of their price. The three are tainted and kept until the replacement
// initializes, then deleted together.
func TestMultiNodeReplace(t *testing.T) {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)), instanceType("m5.2xlarge", 8, onDemand(0.384)))
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	names := []string{"a", "b", "c"}
	for _, name := range names {
		f.onDemandClaim(name, np, "0.192")
		f.podCPU(name, "2500m")
	}
	if got := f.consolidateTwice(); len(got) != 0 {
		t.Fatalf("deleted %v before any replacement; want replace-before-delete", got)
	}
	replacements := f.others(names...)
	if len(replacements) != 1 {
		t.Fatalf("%d replacement nodeclaims, want 1", len(replacements))
	}
	if diff := cmp.Diff([]string{"m5.2xlarge"}, instanceTypeValues(&replacements[0])); diff != "" {
		t.Errorf("replacement instance types (-want +got):\n%s", diff)
	}
	for _, name := range names {
		if !f.tainted(name) {
			t.Errorf("candidate %s not tainted while its replacement launches", name)
		}
	}
	f.initialize(&replacements[0])
	got := f.disrupt()
	slices.Sort(got)
	if diff := cmp.Diff(names, got); diff != "" {
		t.Fatalf("deleted once the replacement initialized (-want +got):\n%s", diff)
	}
}

// balancedFixture is four 4-CPU nodes at $0.20/h: a with one 1-CPU pod, b-d full with four each. a's pod fits on
// no other node; a 2-CPU type at cheapPrice could hold it.
func balancedFixture(t *testing.T, policy apiv1.ConsolidationPolicy, cheapPrice float64) *fixture {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.20)), instanceType("m5.large", 2, onDemand(cheapPrice)))
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = policy
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	for _, name := range []string{"a", "b", "c", "d"} {
		f.onDemandClaim(name, np, "0.20")
		pods := 4
		if name == "a" {
			pods = 1
		}
		for range pods {
			f.podCPU(name, "1")
		}
	}
	return f
}

// TestBalanced: with Balanced (k=2), replacing a by a $0.05/h node (score (0.15/0.80)/(2/17) = 1.6) is taken and
// replacing it by a $0.17/h node (score 0.32, though it saves 15%, above the default threshold) is not;
// WhenEmptyOrUnderutilized takes that poorer move.
func TestBalanced(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy apiv1.ConsolidationPolicy
		price  float64
		want   bool
	}{
		{"Balanced, good move", apiv1.ConsolidationPolicyBalanced, 0.05, true},
		{"Balanced, poor move", apiv1.ConsolidationPolicyBalanced, 0.17, false},
		{"WhenEmptyOrUnderutilized, poor move", apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, 0.17, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := balancedFixture(t, tt.policy, tt.price)
			f.consolidateTwice()
			replacements := f.others("a", "b", "c", "d")
			if got := len(replacements) == 1; got != tt.want {
				t.Fatalf("replaced a = %v (%d replacement(s)), want %v", got, len(replacements), tt.want)
			}
			if tt.want && !f.tainted("a") {
				t.Errorf("a not tainted while its replacement launches")
			}
		})
	}
}

// TestThresholdRefusesSmallSaving: replacing a $0.20/h node by a $0.15/h one saves 25%: taken under the default
// threshold, refused when consolidationThreshold.savings is 30% or minimumHourly is $0.06/h.
func TestThresholdRefusesSmallSaving(t *testing.T) {
	for _, tt := range []struct {
		name      string
		threshold *apiv1.ConsolidationThreshold
		want      bool
	}{
		{"default", nil, true},
		{"savings 30%", &apiv1.ConsolidationThreshold{Savings: "30%"}, false},
		{"minimumHourly 0.06", &apiv1.ConsolidationThreshold{MinimumHourly: "0.06"}, false},
		{"minimumHourly 0.04", &apiv1.ConsolidationThreshold{MinimumHourly: "0.04"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.20)), instanceType("m5.large", 2, onDemand(0.15)))
			np := f.pool(func(np *apiv1.NodePool) {
				np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
				np.Spec.Disruption.ConsolidationThreshold = tt.threshold
				np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
			})
			f.onDemandClaim("a", np, "0.20")
			f.podCPU("a", "1")
			for range 3 {
				f.consolidateTwice()
			}
			if got := len(f.others("a")) == 1; got != tt.want {
				t.Fatalf("replaced a = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMaxConsolidationCandidatesOption: with the cap at 2, the three nodes of TestMultiNodeReplace stay: no pair
// of them fits on a node cheaper than the pair.
func TestMaxConsolidationCandidatesOption(t *testing.T) {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)), instanceType("m5.2xlarge", 8, onDemand(0.384)))
	WithMaxConsolidationCandidates(2)(f.c)
	np := f.pool(func(np *apiv1.NodePool) {
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	for _, name := range []string{"a", "b", "c"} {
		f.onDemandClaim(name, np, "0.192")
		f.podCPU(name, "2500m")
	}
	f.consolidateTwice()
	if n := len(f.others("a", "b", "c")); n != 0 {
		t.Fatalf("%d replacement(s) with the cap at 2, want none", n)
	}
}
