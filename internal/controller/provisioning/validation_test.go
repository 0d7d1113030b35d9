package provisioning

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestInvalidNodePoolDoesNotLaunch: a NodePool that passed the API server but fails the runtime checks (a taint value
// the kubelet refuses) must not be planned from: its node could never register, and the claim would only time out
// after 15 minutes and be launched again. The pod gets a reason naming the field.
func TestInvalidNodePoolDoesNotLaunch(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.nodePool("badtaint", func(np *apiv1.NodePool) {
		np.Spec.Template.Spec.Taints = []corev1.Taint{{Key: "team", Value: "a b", Effect: corev1.TaintEffectNoSchedule}}
	})
	f.pendingPods(1, "100m", func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	})
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.nodeClaims()); n != 0 {
		t.Fatalf("created %d nodeclaims from a NodePool whose taint value is invalid", n)
	}
	var notReady bool
	for _, e := range f.drainEvents() {
		notReady = notReady || (strings.Contains(e, ReasonNodePoolNotReady) && strings.Contains(e, "spec.template.spec.taints[0].value"))
	}
	if !notReady {
		t.Error("want a NodePoolNotReady event naming spec.template.spec.taints[0].value")
	}
}
