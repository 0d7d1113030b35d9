package disruption

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	policy "github.com/tailor-sh/tailor/internal/disruption"
)

// TestLostMachineIsNoDriftCandidate: once the provider no longer knows a NodeClaim's machine, its earlier provider
// drift is not trusted: the Drifted condition turns Unknown (MachineNotFound; garbage collection owns the NodeClaim)
// and neither the controller nor `tailor explain` counts it as drifted.
func TestLostMachineIsNoDriftCandidate(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	// Held, so the pass marks it but does not remove it.
	nc := f.claim("lost", np, func(nc *apiv1.NodeClaim) { nc.Annotations[apiv1.DoNotDisruptAnnotationKey] = "true" })
	f.pod("lost", nil)
	f.cloud.SetDrifted(nc.Status.ProviderID, "AMIDrift")
	f.disrupt()
	if !f.exists("lost").StatusConditions().IsTrue(apiv1.ConditionTypeDrifted) {
		t.Fatalf("not marked Drifted while the provider reports drift")
	}
	if err := f.cloud.Delete(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	f.disrupt()
	c := f.exists("lost").StatusConditions().Get(apiv1.ConditionTypeDrifted)
	if c == nil || c.Status != metav1.ConditionUnknown || c.Reason != policy.DriftReasonMachineNotFound {
		t.Errorf("Drifted condition %+v once the machine is lost, want Unknown with reason %s", c, policy.DriftReasonMachineNotFound)
	}
	got := explain(t, f, "lost")
	if got.Method != "" {
		t.Errorf("explain says method %q (%s) for a lost machine, want none as the controller", got.Method, got.Summary)
	}
	for _, m := range got.Methods {
		if m.Reason == ReasonDrifted && (m.Applies || !strings.Contains(m.Detail, "no longer knows")) {
			t.Errorf("explain's Drifted finding %+v, want not drifted because the provider no longer knows the machine", m)
		}
	}
}
