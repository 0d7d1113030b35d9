package state

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestAllowedDisruptions(t *testing.T) {
	monday9 := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC) // a Monday, 09:30 UTC
	window := func(nodes, schedule string, d time.Duration, reasons ...apiv1.DisruptionReason) apiv1.Budget {
		return apiv1.Budget{Nodes: nodes, Schedule: ptr.To(schedule), Duration: &metav1.Duration{Duration: d}, Reasons: reasons}
	}
	cases := []struct {
		name    string
		budgets []apiv1.Budget
		reason  string
		total   int
		now     time.Time
		want    int
	}{
		{"default 10% rounds up", nil, string(apiv1.DisruptionReasonEmpty), 3, monday9, 1},
		{"default 10% of 25", nil, string(apiv1.DisruptionReasonEmpty), 25, monday9, 3},
		{"count", []apiv1.Budget{{Nodes: "5"}}, string(apiv1.DisruptionReasonDrifted), 100, monday9, 5},
		{"percent", []apiv1.Budget{{Nodes: "50%"}}, string(apiv1.DisruptionReasonEmpty), 7, monday9, 4},
		{"zero blocks", []apiv1.Budget{{Nodes: "0"}}, string(apiv1.DisruptionReasonEmpty), 10, monday9, 0},
		{"most restrictive wins", []apiv1.Budget{{Nodes: "50%"}, {Nodes: "2"}}, string(apiv1.DisruptionReasonEmpty), 10, monday9, 2},
		{"reason-specific applies", []apiv1.Budget{{Nodes: "10"}, {Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonDrifted}}}, string(apiv1.DisruptionReasonDrifted), 10, monday9, 0},
		{"reason-specific does not apply to others", []apiv1.Budget{{Nodes: "10"}, {Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonDrifted}}}, string(apiv1.DisruptionReasonEmpty), 10, monday9, 10},
		{"expiry obeys only reasonless budgets", []apiv1.Budget{{Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonEmpty}}}, "Expired", 10, monday9, 10},
		{"inside a weekday window", []apiv1.Budget{{Nodes: "10"}, window("0", "0 9 * * mon-fri", 8*time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, monday9, 0},
		{"after the window", []apiv1.Budget{{Nodes: "10"}, window("0", "0 9 * * mon-fri", 8*time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, monday9.Add(8 * time.Hour), 10},
		{"before the window", []apiv1.Budget{{Nodes: "10"}, window("0", "0 9 * * mon-fri", 8*time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, monday9.Add(-time.Hour), 10},
		{"weekend outside a weekday window", []apiv1.Budget{{Nodes: "10"}, window("0", "0 9 * * mon-fri", 8*time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, monday9.Add(-2 * 24 * time.Hour), 10},
		{"window crossing midnight", []apiv1.Budget{{Nodes: "10"}, window("1", "0 22 * * *", 4*time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC), 1},
		{"@daily macro", []apiv1.Budget{{Nodes: "10"}, window("0", "@daily", time.Hour)}, string(apiv1.DisruptionReasonEmpty), 10, time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			np := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
			np.Spec.Disruption.Budgets = tc.budgets
			got, err := AllowedDisruptions(np, tc.reason, tc.total, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Allowed = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestAllowedDisruptionsRejectsBadBudgets: a budget that cannot be evaluated is an error naming the NodePool and the
// field.
func TestAllowedDisruptionsRejectsBadBudgets(t *testing.T) {
	for _, tc := range []struct {
		budget apiv1.Budget
		field  string
	}{
		{apiv1.Budget{Nodes: "ten"}, "spec.disruption.budgets[1].nodes"},
		{apiv1.Budget{Nodes: "150%"}, "spec.disruption.budgets[1].nodes"},
		{apiv1.Budget{Nodes: "1", Schedule: ptr.To("not a cron"), Duration: &metav1.Duration{Duration: time.Hour}}, "spec.disruption.budgets[1].schedule"},
		{apiv1.Budget{Nodes: "1", Schedule: ptr.To("59-1 * * * *"), Duration: &metav1.Duration{Duration: time.Hour}}, "spec.disruption.budgets[1].schedule"},
		{apiv1.Budget{Nodes: "1", Schedule: ptr.To("@daily")}, "spec.disruption.budgets[1].duration"},
		// Parses, but 31 February never comes: it must not read as a window that is always open.
		{apiv1.Budget{Nodes: "0", Schedule: ptr.To("0 0 31 2 *"), Duration: &metav1.Duration{Duration: time.Hour}}, "spec.disruption.budgets[1].schedule"},
	} {
		np := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "bad"}}
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "10"}, tc.budget}
		_, err := AllowedDisruptions(np, string(apiv1.DisruptionReasonEmpty), 10, time.Now())
		if err == nil || !strings.Contains(err.Error(), `nodepool "bad"`) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("budget %+v: error %v, want one naming the nodepool and %s", tc.budget, err, tc.field)
		}
	}
}
