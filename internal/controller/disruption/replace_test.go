package disruption

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// instanceType is a test shape with one offering per capacity type given (zone us-east-1a).
func instanceType(name string, cpu int64, prices map[string]float64) *cloudprovider.InstanceType {
	it := &cloudprovider.InstanceType{
		Name:   name,
		Labels: map[string]string{apiv1.InstanceTypeLabelKey: name},
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewQuantity(cpu, resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(cpu*4<<30, resource.BinarySI),
			corev1.ResourcePods:   resource.MustParse("110"),
		},
	}
	for _, ct := range []string{apiv1.CapacityTypeOnDemand, apiv1.CapacityTypeSpot} {
		if p, ok := prices[ct]; ok {
			it.Offerings = append(it.Offerings, cloudprovider.Offering{Zone: "us-east-1a", CapacityType: ct, PricePerHour: p, Available: true})
		}
	}
	return it
}

func onDemand(p float64) map[string]float64 { return map[string]float64{apiv1.CapacityTypeOnDemand: p} }

// others are the NodeClaims other than the named ones.
func (f *fixture) others(names ...string) []apiv1.NodeClaim {
	f.t.Helper()
	list := &apiv1.NodeClaimList{}
	if err := f.kube.List(f.t.Context(), list); err != nil {
		f.t.Fatal(err)
	}
	var out []apiv1.NodeClaim
	for _, nc := range list.Items {
		if !slices.Contains(names, nc.Name) {
			out = append(out, nc)
		}
	}
	return out
}

// initialize marks a replacement NodeClaim initialized, as the nodeclaim controller would once its node is ready.
func (f *fixture) initialize(nc *apiv1.NodeClaim) {
	f.t.Helper()
	nc.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	if err := f.kube.Status().Update(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) tainted(node string) bool {
	f.t.Helper()
	n := &corev1.Node{}
	if err := f.kube.Get(f.t.Context(), client.ObjectKey{Name: node}, n); err != nil {
		f.t.Fatal(err)
	}
	return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&disruptedTaint) })
}

func (f *fixture) drift(np *apiv1.NodePool) {
	f.t.Helper()
	if err := f.kube.Get(f.t.Context(), client.ObjectKeyFromObject(np), np); err != nil {
		f.t.Fatal(err)
	}
	np.Spec.Template.ObjectMeta.Labels = map[string]string{"generation": "2"}
	if err := f.kube.Update(f.t.Context(), np); err != nil {
		f.t.Fatal(err)
	}
}

func instanceTypeValues(nc *apiv1.NodeClaim) []string {
	for _, r := range nc.Spec.Requirements {
		if r.Key == apiv1.InstanceTypeLabelKey {
			return r.Values
		}
	}
	return nil
}

func requirementValues(nc *apiv1.NodeClaim, key string) []string {
	for _, r := range nc.Spec.Requirements {
		if r.Key == key {
			return r.Values
		}
	}
	return nil
}

// TestDriftReplacesBeforeDeleting: a drifted node whose pods fit nowhere else gets a replacement first; it is tainted
// and kept (its pods' room held on the replacement in the cluster state) until the replacement is initialized, and
// only then deleted.
func TestDriftReplacesBeforeDeleting(t *testing.T) {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
	np := f.pool(nil)
	f.claim("old", np, nil)
	f.pod("old", nil)
	f.pod("old", nil)
	f.drift(np)
	before := decisionCount(t, ReasonDrifted, actionReplace)

	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("deleted %v before any replacement existed", got)
	}
	replacements := f.others("old")
	if len(replacements) != 1 {
		t.Fatalf("%d replacement nodeclaims, want 1", len(replacements))
	}
	replacement := &replacements[0]
	if diff := cmp.Diff([]string{"m5.xlarge"}, instanceTypeValues(replacement)); diff != "" {
		t.Errorf("replacement instance types (-want +got):\n%s", diff)
	}
	old := f.exists("old")
	if old == nil || !old.DeletionTimestamp.IsZero() || !old.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting) {
		t.Fatalf("the candidate should stay, marked Disrupting, while its replacement launches: %+v", old)
	}
	if !f.tainted("old") {
		t.Errorf("the candidate's node is not tainted %s", disruptedTaint.Key)
	}
	// Provisioning's view: the candidate takes no pods, and the replacement's room is held for the candidate's two.
	view, err := f.c.cluster.Read(t.Context(), f.cloud.GetInstanceTypes)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int{}
	unschedulable := map[string]bool{}
	for _, n := range view.Snapshot.Nodes {
		held[n.Name] = len(n.Pods)
		unschedulable[n.Name] = n.Unschedulable
	}
	if held[replacement.Name] != 2 || !unschedulable["old"] {
		t.Errorf("cluster state holds %d pod(s) on the replacement (want 2), candidate unschedulable = %v (want true)",
			held[replacement.Name], unschedulable["old"])
	}

	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("deleted %v while the replacement was not initialized", got)
	}
	if f.exists("old") == nil {
		t.Fatal("candidate deleted before its replacement initialized")
	}
	f.initialize(replacement)
	if got := f.disrupt(); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("deleted %v once the replacement initialized, want [old]", got)
	}
	if f.exists("old") != nil {
		t.Error("candidate still there after its replacement initialized")
	}
	if f.exists(replacement.Name) == nil {
		t.Error("replacement deleted")
	}
	if got := decisionCount(t, ReasonDrifted, actionReplace) - before; got != 1 {
		t.Errorf("tailor_disruption_decisions_total{reason=Drifted,action=replace} rose by %v, want 1", got)
	}
	if marks := f.c.cluster.Replacing(); len(marks) != 0 {
		t.Errorf("cluster state still holds room after the command finished: %v", marks)
	}
}

// TestReplacementFailureAbandons: a replacement that goes away before it initializes (its launch failed), or one that
// does not initialize within ReplacementTimeout, gives the command up: replacements deleted, the candidate kept
// without taint or Disrupting condition.
func TestReplacementFailureAbandons(t *testing.T) {
	tests := []struct {
		name string
		fail func(f *fixture, replacement *apiv1.NodeClaim)
	}{
		{name: "replacement deleted (launch failed)", fail: func(f *fixture, replacement *apiv1.NodeClaim) {
			if err := f.kube.Delete(f.t.Context(), replacement); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "replacement never initialized", fail: func(f *fixture, _ *apiv1.NodeClaim) {
			f.clk.Step(ReplacementTimeout)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
			np := f.pool(nil)
			f.claim("old", np, nil)
			f.pod("old", nil)
			f.drift(np)
			if got := f.disrupt(); len(got) != 0 {
				t.Fatalf("deleted %v before any replacement existed", got)
			}
			replacements := f.others("old")
			if len(replacements) != 1 {
				t.Fatalf("%d replacement nodeclaims, want 1", len(replacements))
			}
			tt.fail(f, &replacements[0])
			if got := f.disrupt(); len(got) != 0 {
				t.Fatalf("deleted %v although the replacement failed", got)
			}
			old := f.exists("old")
			if old == nil || !old.DeletionTimestamp.IsZero() {
				t.Fatal("candidate deleted although its replacement failed")
			}
			if old.StatusConditions().Get(apiv1.ConditionTypeDisrupting) != nil {
				t.Errorf("candidate still has a Disrupting condition: %+v", old.StatusConditions().Get(apiv1.ConditionTypeDisrupting))
			}
			if f.tainted("old") {
				t.Errorf("candidate's node still tainted %s", disruptedTaint.Key)
			}
			if left := f.others("old"); len(left) != 0 {
				t.Errorf("replacement(s) left behind: %d", len(left))
			}
			if marks := f.c.cluster.Replacing(); len(marks) != 0 {
				t.Errorf("cluster state still holds room: %v", marks)
			}
		})
	}
}

// TestRecoverReleasesOrphanedCandidate: a node left tainted and Disrupting by a replace this process does not know
// (the previous leader died mid-command) is released.
func TestRecoverReleasesOrphanedCandidate(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	nc := f.claim("orphan", np, nil)
	f.pod("orphan", nil)
	if err := f.c.setDisrupting(t.Context(), nc, ReasonDrifted, "launching replacement capacity before removing the node"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.taint(t.Context(), "orphan", true); err != nil {
		t.Fatal(err)
	}
	f.disrupt()
	if got := f.exists("orphan"); got == nil || got.StatusConditions().Get(apiv1.ConditionTypeDisrupting) != nil {
		t.Errorf("orphaned candidate not released: %+v", got)
	}
	if f.tainted("orphan") {
		t.Error("orphaned candidate still tainted")
	}
}

// TestConsolidationReplace: a quiet, underused node whose pod fits one cheaper new node is replaced by it (only the
// cheaper types allowed), after the validation window; a node already cheaper than anything that fits is kept.
func TestConsolidationReplace(t *testing.T) {
	types := func() []*cloudprovider.InstanceType {
		return []*cloudprovider.InstanceType{
			instanceType("m5.large", 2, onDemand(0.096)),
			instanceType("m5.xlarge", 4, onDemand(0.192)),
			instanceType("m5.2xlarge", 8, onDemand(0.384)),
		}
	}
	tests := []struct {
		name      string
		price     string
		wantTypes []string // nil: no replacement
	}{
		{name: "cheaper types exist: replace", price: "0.384", wantTypes: []string{"m5.large", "m5.xlarge"}},
		{name: "only one cheaper type", price: "0.15", wantTypes: []string{"m5.large"}},
		{name: "nothing cheaper: keep", price: "0.05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, types()...)
			np := f.pool(func(np *apiv1.NodePool) {
				np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
				np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
			})
			f.claim("big", np, func(nc *apiv1.NodeClaim) {
				nc.Labels[apiv1.CapacityTypeLabelKey] = apiv1.CapacityTypeOnDemand
				nc.Annotations[apiv1.PricePerHourAnnotationKey] = tt.price
			})
			f.pod("big", nil)
			f.clk.Step(31 * time.Second)
			if got := f.disrupt(); len(got) != 0 || len(f.others("big")) != 0 {
				t.Fatalf("acted at once (deleted %v, %d replacement(s)); want a validation window first", got, len(f.others("big")))
			}
			f.clk.Step(ValidationWindow)
			f.disrupt()
			replacements := f.others("big")
			if tt.wantTypes == nil {
				if len(replacements) != 0 {
					t.Fatalf("launched %d replacement(s) for a node cheaper than any that fits", len(replacements))
				}
				return
			}
			if len(replacements) != 1 {
				t.Fatalf("%d replacement nodeclaims, want 1", len(replacements))
			}
			if diff := cmp.Diff(tt.wantTypes, instanceTypeValues(&replacements[0])); diff != "" {
				t.Errorf("replacement instance types (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{apiv1.CapacityTypeOnDemand}, requirementValues(&replacements[0], apiv1.CapacityTypeLabelKey)); diff != "" {
				t.Errorf("replacement capacity type (-want +got):\n%s", diff)
			}
			before := decisionCount(t, ReasonUnderutilized, actionReplace)
			f.initialize(&replacements[0])
			if got := f.disrupt(); !slices.Equal(got, []string{"big"}) {
				t.Fatalf("deleted %v once the replacement initialized, want [big]", got)
			}
			if got := decisionCount(t, ReasonUnderutilized, actionReplace) - before; got != 1 {
				t.Errorf("decisions{Underutilized,replace} rose by %v, want 1", got)
			}
		})
	}
}

// TestSpotToSpotNeedsFlexibility: a spot node is replaced by a cheaper spot node only when at least
// MinSpotToSpotOptions cheaper spot types fit; the replacement then keeps exactly the cheapest MinSpotToSpotOptions.
func TestSpotToSpotNeedsFlexibility(t *testing.T) {
	for _, cheaperTypes := range []int{MinSpotToSpotOptions - 1, MinSpotToSpotOptions + 3} {
		t.Run(fmt.Sprintf("%d cheaper spot types", cheaperTypes), func(t *testing.T) {
			var types []*cloudprovider.InstanceType
			for i := range cheaperTypes {
				types = append(types, instanceType(fmt.Sprintf("c%d.large", i), 2, map[string]float64{apiv1.CapacityTypeSpot: 0.01 * float64(i+1)}))
			}
			// One dearer than the node, never a replacement.
			types = append(types, instanceType("dear.large", 2, map[string]float64{apiv1.CapacityTypeSpot: 1}))
			f := newFixture(t, types...)
			np := f.pool(func(np *apiv1.NodePool) {
				np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
				np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
			})
			f.claim("spot", np, func(nc *apiv1.NodeClaim) {
				nc.Labels[apiv1.CapacityTypeLabelKey] = apiv1.CapacityTypeSpot
				nc.Annotations[apiv1.PricePerHourAnnotationKey] = "0.5"
			})
			f.pod("spot", nil)
			f.clk.Step(31 * time.Second)
			f.disrupt()
			f.clk.Step(ValidationWindow)
			f.disrupt()
			replacements := f.others("spot")
			if cheaperTypes < MinSpotToSpotOptions {
				if len(replacements) != 0 {
					t.Fatalf("replaced a spot node with only %d cheaper spot types", cheaperTypes)
				}
				return
			}
			if len(replacements) != 1 {
				t.Fatalf("%d replacement nodeclaims, want 1", len(replacements))
			}
			var want []string
			for i := range MinSpotToSpotOptions {
				want = append(want, fmt.Sprintf("c%d.large", i))
			}
			if diff := cmp.Diff(want, instanceTypeValues(&replacements[0])); diff != "" {
				t.Errorf("replacement instance types (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{apiv1.CapacityTypeSpot}, requirementValues(&replacements[0], apiv1.CapacityTypeLabelKey)); diff != "" {
				t.Errorf("replacement capacity type (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBudgets: a percentage of the pool's nodes (rounded up) may be disrupted at once; a scheduled budget of 0 holds
// disruption only inside its window.
func TestBudgets(t *testing.T) {
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(48 * time.Hour)
	window := []apiv1.Budget{{Nodes: "0", Schedule: ptrTo("0 9 * * *"), Duration: &metav1.Duration{Duration: time.Hour}}}
	tests := []struct {
		name    string
		budgets []apiv1.Budget
		at      time.Time
		want    int
	}{
		{name: "50% of 4", budgets: []apiv1.Budget{{Nodes: "50%"}}, want: 2},
		{name: "30% of 4 rounds up", budgets: []apiv1.Budget{{Nodes: "30%"}}, want: 2},
		{name: "25% of 4", budgets: []apiv1.Budget{{Nodes: "25%"}}, want: 1},
		{name: "inside a 0-node window", budgets: window, at: day.Add(9*time.Hour + 30*time.Minute), want: 0},
		{name: "after the window", budgets: window, at: day.Add(10*time.Hour + time.Minute), want: 4},
		{name: "window for another reason", budgets: []apiv1.Budget{{Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonEmpty},
			Schedule: ptrTo("0 9 * * *"), Duration: &metav1.Duration{Duration: time.Hour}}, {Nodes: "1"}},
			at: day.Add(9*time.Hour + 30*time.Minute), want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if !tt.at.IsZero() {
				f.clk.SetTime(tt.at)
			}
			np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = tt.budgets })
			names := []string{"a", "b", "c", "d"}
			for _, name := range names {
				f.claim(name, np, func(nc *apiv1.NodeClaim) { nc.Finalizers = []string{apiv1.TerminationFinalizer} })
			}
			t.Cleanup(func() {
				ctx := context.WithoutCancel(t.Context())
				for _, name := range names {
					nc := &apiv1.NodeClaim{}
					if err := f.kube.Get(ctx, client.ObjectKey{Name: name}, nc); err == nil {
						nc.Finalizers = nil
						_ = f.kube.Update(ctx, nc)
					}
				}
			})
			f.drift(np)
			if got := f.disrupt(); len(got) != tt.want {
				t.Errorf("first pass disrupted %v, want %d node(s)", got, tt.want)
			}
			// The disrupted nodes are still terminating (finalizers): the budget stays used.
			if got := f.disrupt(); len(got) != 0 && tt.want != len(names) {
				t.Errorf("second pass disrupted %v while the budget is used", got)
			}
		})
	}
}

// TestExpiryWithGracePeriodIsForceful: an expired node whose NodeClaim bounds its drain with terminationGracePeriod
// goes despite a do-not-disrupt pod; without the bound, the pod keeps it (TestDoNotDisrupt).
func TestExpiryWithGracePeriodIsForceful(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("bounded", np, func(nc *apiv1.NodeClaim) {
		nc.Spec.ExpireAfter = "1m"
		nc.Spec.TerminationGracePeriod = &metav1.Duration{Duration: time.Hour}
	})
	f.pod("bounded", map[string]string{apiv1.DoNotDisruptAnnotationKey: "true"})
	f.clk.Step(5 * time.Minute)
	if got := f.disrupt(); !slices.Equal(got, []string{"bounded"}) {
		t.Fatalf("disrupted %v, want [bounded]: expiry with a terminationGracePeriod is forceful", got)
	}
}

// decisionCount reads tailor_disruption_decisions_total{reason,action}.
func decisionCount(t *testing.T, reason, action string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := decisions.WithLabelValues(reason, action).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func ptrTo[T any](v T) *T { return &v }
