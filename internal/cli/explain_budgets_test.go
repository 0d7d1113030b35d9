package cli

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestBudgetAllowed(t *testing.T) {
	// A Monday, 10:30 UTC.
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	hours := func(h int) *metav1.Duration { return &metav1.Duration{Duration: time.Duration(h) * time.Hour} }
	tests := []struct {
		name    string
		budgets []apiv1.Budget
		reason  string
		total   int
		want    int
	}{
		{name: "no budget means 10%, rounded up", total: 11, reason: reasonEmpty, want: 2},
		{name: "a count", budgets: []apiv1.Budget{{Nodes: "3"}}, total: 10, reason: reasonDrifted, want: 3},
		{name: "a percentage rounds up", budgets: []apiv1.Budget{{Nodes: "25%"}}, total: 5, reason: reasonEmpty, want: 2},
		{name: "the smallest active budget wins", budgets: []apiv1.Budget{{Nodes: "50%"}, {Nodes: "1"}}, total: 10, reason: reasonEmpty, want: 1},
		{
			name:    "a budget for other reasons does not apply",
			budgets: []apiv1.Budget{{Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonDrifted}}, {Nodes: "4"}},
			total:   10, reason: reasonEmpty, want: 4,
		},
		{
			name:    "a budget with reasons never applies to expiry",
			budgets: []apiv1.Budget{{Nodes: "0", Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonEmpty, apiv1.DisruptionReasonDrifted}}},
			total:   10, reason: reasonExpired, want: 10,
		},
		{
			name:    "a weekday window that covers now",
			budgets: []apiv1.Budget{{Nodes: "0", Schedule: ptr.To("0 9 * * mon-fri"), Duration: hours(8)}, {Nodes: "5"}},
			total:   10, reason: reasonEmpty, want: 0,
		},
		{
			name:    "a window that has closed",
			budgets: []apiv1.Budget{{Nodes: "0", Schedule: ptr.To("0 9 * * mon-fri"), Duration: hours(1)}, {Nodes: "5"}},
			total:   10, reason: reasonEmpty, want: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			np := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Disruption: apiv1.Disruption{Budgets: tc.budgets}}}
			got, err := budgetAllowed(np, tc.reason, tc.total, now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("allowed %d, want %d", got, tc.want)
			}
		})
	}
	np := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Disruption: apiv1.Disruption{Budgets: []apiv1.Budget{{Nodes: "0", Schedule: ptr.To("0 9 * * *")}}}}}
	if _, err := budgetAllowed(np, reasonEmpty, 3, now); err == nil {
		t.Error("a schedule without a duration was accepted")
	}
}

func TestExplainRejectsBadOptions(t *testing.T) {
	tests := []struct {
		opts ExplainOptions
		want string
	}{
		{ExplainOptions{Target: ExplainPending, Output: "yaml"}, `unknown output "yaml": use -o text or -o json`},
		{ExplainOptions{Target: ExplainPod}, "explain pod: name the pod to explain"},
		{ExplainOptions{Target: ExplainNodeClaim}, "explain nodeclaim: name the nodeclaim to explain"},
		{ExplainOptions{Target: "node", Name: "x"}, `unknown explain target "node": explain pod NAME, nodeclaim NAME or --pending`},
		{ExplainOptions{Target: ExplainPending, Source: CatalogSource{Catalog: "aws-mars-1"}}, ""},
	}
	for _, tc := range tests {
		// No API call is made before the options are checked, so no client is needed.
		err := Explain(t.Context(), nil, tc.opts, nil)
		if err == nil {
			t.Errorf("%+v: accepted", tc.opts)
			continue
		}
		if tc.want != "" && err.Error() != tc.want {
			t.Errorf("%+v: error %q, want %q", tc.opts, err, tc.want)
		}
	}
}
