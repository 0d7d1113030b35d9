package disruption

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestLostMachineDrift: the Drifted condition is what `tailor explain` knows of the provider's drift. True with a
// provider reason is drift; Unknown (MachineNotFound, the provider no longer knows the machine) is not, and says so.
func TestLostMachineDrift(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     metav1.ConditionStatus
		reason     string
		wantMethod string
		wantDetail string
	}{
		{name: "provider drift", status: metav1.ConditionTrue, reason: "AMIDrift", wantMethod: ReasonDrifted, wantDetail: "the cloud provider reports drift (AMIDrift)"},
		{name: "lost machine", status: metav1.ConditionUnknown, reason: DriftReasonMachineNotFound, wantMethod: ReasonUnderutilized,
			wantDetail: "the provider no longer knows its machine"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cluster{}
			c.pool("a", nil)
			c.claim("n", "a", []map[string]string{nil}, func(nc *apiv1.NodeClaim, _ *corev1.Node) {
				nc.StatusConditions().Set(metav1.NewTime(t0), apiv1.ConditionTypeDrifted, tc.status, tc.reason, "")
			})
			v := c.view()
			v.DriftFromConditions()
			vd := Evaluate(v, t0.Add(time.Hour))[0]
			f, _ := vd.Finding(ReasonDrifted)
			if vd.Method != tc.wantMethod || !strings.Contains(f.Detail, tc.wantDetail) {
				t.Errorf("method %q, drift finding %q; want method %q and a finding saying %q", vd.Method, f.Detail, tc.wantMethod, tc.wantDetail)
			}
		})
	}
}
