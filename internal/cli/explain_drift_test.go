package cli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// TestExplainDriftAgreesWithController: explain reports drift from the same check the disruption controller makes —
// a widened NodePool drifts nothing, a narrowed one drifts the nodes it excludes, naming the requirement.
func TestExplainDriftAgreesWithController(t *testing.T) {
	pool := func(families ...string) *apiv1.NodePool {
		return &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "general"}, Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{
			Spec: apiv1.NodeClaimTemplateSpec{Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
				{Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpIn, Values: families},
			}},
		}}}
	}
	launchedUnder := pool("m5")
	claim := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{
		Name:        "general-abc",
		Labels:      map[string]string{apiv1.NodePoolLabelKey: "general", apiv1.InstanceFamilyLabelKey: "m5"},
		Annotations: state.NodePoolHashAnnotations(launchedUnder),
	}}
	for _, tc := range []struct {
		name       string
		pool       *apiv1.NodePool
		applies    bool
		wantDetail string
	}{
		{"unchanged", launchedUnder, false, "matches its NodePool's template and requirements"},
		{"widened", pool("m5", "m6i"), false, "matches its NodePool's template and requirements"},
		{"narrowed", pool("m6i"), true, "RequirementsDrifted: the node's label tailor.sh/instance-family=m5 no longer satisfies the NodePool's requirement tailor.sh/instance-family In [m6i]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := drift(&claimWorld{claim: claim, pool: tc.pool})
			if m.Applies != tc.applies || !strings.Contains(m.Detail, tc.wantDetail) {
				t.Errorf("drift = applies %v, %q; want applies %v and a detail containing %q", m.Applies, m.Detail, tc.applies, tc.wantDetail)
			}
		})
	}
}
