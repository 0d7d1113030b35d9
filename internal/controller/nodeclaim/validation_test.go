package nodeclaim

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
)

// TestInvalidClaimNotLaunched: a NodeClaim whose taint the kubelet would refuse is not launched (the node could never
// register); Launched=False names the field, and the claim is kept for its owner to fix or delete.
func TestInvalidClaimNotLaunched(t *testing.T) {
	f := newFixture(t)
	f.claim("badtaint", func(nc *apiv1.NodeClaim) {
		nc.Spec.Taints = []corev1.Taint{{Key: "team", Value: "a b", Effect: corev1.TaintEffectNoSchedule}}
	})
	got := f.reconcileUntil("badtaint", "refused", func(nc *apiv1.NodeClaim) bool {
		c := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		return nc.Status.ProviderID != "" || (c != nil && c.Status == metav1.ConditionFalse)
	})
	if got.Status.ProviderID != "" {
		t.Fatalf("a claim with an invalid taint was launched as %s", got.Status.ProviderID)
	}
	if c := got.StatusConditions().Get(apiv1.ConditionTypeLaunched); c.Reason != ReasonInvalid || !strings.Contains(c.Message, "spec.taints[0].value") {
		t.Errorf("Launched = %+v, want reason %s naming spec.taints[0].value", c, ReasonInvalid)
	}
	if n := f.cloud.Calls(fake.MethodCreate); n != 0 {
		t.Errorf("the cloud was asked to create %d instance(s)", n)
	}
}
