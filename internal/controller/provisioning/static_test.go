package provisioning

import (
	"testing"

	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestStaticNodePoolDoesNotLaunchForPods: pending pods never launch nodes in a static NodePool (spec.replicas); its
// count is the static controller's alone.
func TestStaticNodePoolDoesNotLaunchForPods(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.nodePool("static", func(np *apiv1.NodePool) { np.Spec.Replicas = ptr.To[int64](1) })
	f.pendingPods(3, "1", nil)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if claims := f.nodeClaims(); len(claims) != 0 {
		t.Fatalf("pending pods launched %d nodeclaim(s) in a static NodePool, want none", len(claims))
	}
}
