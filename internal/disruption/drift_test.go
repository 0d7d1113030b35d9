package disruption

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// TestDriftOnRequirements: a widened NodePool drifts nothing, a narrowed one drifts the nodes it excludes, naming
// the requirement (what `tailor explain` prints and the controller writes in the Drifted condition).
func TestDriftOnRequirements(t *testing.T) {
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
		provider   ProviderDrift
		applies    bool
		wantDetail string
	}{
		{"unchanged", launchedUnder, ProviderDrift{}, false, "matches its NodePool's template and requirements"},
		{"widened", pool("m5", "m6i"), ProviderDrift{}, false, "matches its NodePool's template and requirements"},
		{"narrowed", pool("m6i"), ProviderDrift{}, true, "RequirementsDrifted: the node's label tailor.sh/instance-family=m5 no longer satisfies the NodePool's requirement tailor.sh/instance-family In [m6i]"},
		{"provider", launchedUnder, ProviderDrift{Reason: "AMIDrifted", Message: ProviderDriftMessage}, true, "the cloud provider reports drift (AMIDrifted): the node no longer matches its node class"},
		{"provider lost the machine", launchedUnder, ProviderDrift{Unknown: true}, false, "the provider no longer knows its machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Candidate{Claim: claim, Pool: tc.pool, PoolDrift: state.CheckNodePoolDrift(claim, tc.pool), Provider: tc.provider}
			f := Drift{}.Evaluate(c, time.Now())
			if f.Applies != tc.applies || !strings.Contains(f.Detail, tc.wantDetail) {
				t.Errorf("drift = applies %v, %q; want applies %v and a detail containing %q", f.Applies, f.Detail, tc.applies, tc.wantDetail)
			}
		})
	}
}
