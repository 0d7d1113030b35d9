package disruption

import (
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// sicken sets the node's Ready condition to status, as of now on the fake clock.
func (f *fixture) sicken(name string, status corev1.ConditionStatus) {
	f.t.Helper()
	node := &corev1.Node{}
	if err := f.kube.Get(f.t.Context(), client.ObjectKey{Name: name}, node); err != nil {
		f.t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "NodeStatusUnknown",
		LastTransitionTime: metav1.NewTime(f.clk.Now()), LastHeartbeatTime: metav1.NewTime(f.clk.Now())}}
	if err := f.kube.Status().Update(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
}

func gaugeValue(t *testing.T, pool string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := repairBlocked.WithLabelValues(pool).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func repairedCount(t *testing.T, pool string) float64 {
	t.Helper()
	m := &dto.Metric{}
	if err := repaired.WithLabelValues(pool).Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestRepairReplacesUnhealthyNode: a node whose Ready has been Unknown for longer than the default 30 minutes is
// replaced, then deleted, even with a do-not-disrupt pod on it (the pod is not running anywhere anyway); before the
// toleration ends, and with repair disabled, it is kept.
func TestRepairReplacesUnhealthyNode(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		name := "enabled"
		if disabled {
			name = "disabled"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
			f.c.SetRepair(RepairOptions{Disabled: disabled})
			np := f.pool(nil)
			f.claim("sick", np, nil)
			f.pod("sick", map[string]string{apiv1.DoNotDisruptAnnotationKey: "true"})
			f.sicken("sick", corev1.ConditionUnknown)
			before := repairedCount(t, np.Name)
			f.clk.Step(29 * time.Minute)
			f.disrupt()
			if len(f.others("sick")) != 0 {
				t.Fatal("launched a replacement before the 30m toleration ended")
			}
			f.clk.Step(2 * time.Minute)
			f.disrupt()
			replacements := f.others("sick")
			if disabled {
				if len(replacements) != 0 || f.exists("sick").StatusConditions().Get(apiv1.ConditionTypeDisrupting) != nil {
					t.Fatal("repaired a node with repair disabled")
				}
				return
			}
			if len(replacements) != 1 {
				t.Fatalf("%d replacements for the unhealthy node, want 1", len(replacements))
			}
			if cond := f.exists("sick").StatusConditions().Get(apiv1.ConditionTypeDisrupting); cond == nil || cond.Reason != ReasonUnhealthy {
				t.Fatalf("unhealthy node's Disrupting condition = %+v, want reason %s", cond, ReasonUnhealthy)
			}
			f.initialize(&replacements[0])
			if got := f.disrupt(); !slices.Equal(got, []string{"sick"}) {
				t.Fatalf("deleted %v once the replacement initialized, want [sick]", got)
			}
			if got := repairedCount(t, np.Name) - before; got != 1 {
				t.Errorf("tailor_nodeclaims_repaired_total rose by %v, want 1", got)
			}
		})
	}
}

// TestRepairStopsWhenTooManyUnhealthy: with 2 of 3 nodes unhealthy (more than 20%, rounded up: 1) nothing is
// repaired, the NodePool gets a warning event and the gauge says so; once one recovers, the other is repaired (by a
// delete: its pod fits on the healthy nodes).
func TestRepairStopsWhenTooManyUnhealthy(t *testing.T) {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
	recorder := &events.FakeRecorder{Events: make(chan string, 100)}
	f.c.recorder = recorder
	np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}} })
	for _, name := range []string{"a", "b", "c"} {
		f.claim(name, np, nil)
		f.pod(name, nil)
	}
	f.sicken("a", corev1.ConditionUnknown)
	f.sicken("b", corev1.ConditionFalse)
	f.clk.Step(time.Hour)
	f.disrupt()
	if n := len(f.others("a", "b", "c")); n != 0 {
		t.Fatalf("launched %d replacement(s) with 2 of 3 nodes unhealthy", n)
	}
	if got := gaugeValue(t, np.Name); got != 1 {
		t.Errorf("tailor_nodepool_repair_blocked = %v, want 1", got)
	}
	warned := false
	for len(recorder.Events) > 0 {
		e := <-recorder.Events
		warned = warned || (strings.Contains(e, eventRepairBlocked) && strings.Contains(e, "2 of 3"))
	}
	if !warned {
		t.Error("no RepairBlocked event naming 2 of 3 unhealthy nodes")
	}
	f.sicken("b", corev1.ConditionTrue)
	before := repairedCount(t, np.Name)
	// a's pod fits on b or c: a is deleted at once.
	if got := f.disrupt(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("repaired %v once only 1 of 3 was unhealthy, want [a]", got)
	}
	if got := repairedCount(t, np.Name) - before; got != 1 {
		t.Errorf("tailor_nodeclaims_repaired_total rose by %v, want 1", got)
	}
	if got := gaugeValue(t, np.Name); got != 0 {
		t.Errorf("tailor_nodepool_repair_blocked = %v, want 0", got)
	}
}
