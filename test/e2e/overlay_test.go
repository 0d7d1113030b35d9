package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestNodeOverlayFlipsCapacityType: in a NodePool that allows spot and on-demand, a NodeOverlay standing for a
// Savings Plan (on-demand m5 at -90%) makes Tailor launch on-demand through ec2sim, and the claim records the
// overlay's price.
func TestNodeOverlayFlipsCapacityType(t *testing.T) {
	kube, cs, _ := disruptionStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	overlay := &apiv1.NodeOverlay{}
	mustYAML(t, `
metadata: {name: savings-plan}
spec:
  requirements:
    - {key: tailor.sh/instance-family, operator: In, values: [m5]}
    - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
  priceAdjustment: "-90%"
`, overlay)
	if err := kube.Create(t.Context(), overlay); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), overlay) })
	createNodePool(t, kube, `
metadata: {name: overlaid}
spec:
  template:
    metadata: {labels: {example.com/pool: overlaid}}
    spec:
      requirements:
        - {key: tailor.sh/capacity-type, operator: In, values: [spot, on-demand]}
        - {key: tailor.sh/instance-family, operator: In, values: [m5, c5]}
`)
	ns := createNamespace(t, cs, "overlay")
	createDeployment(t, cs, workload(ns, "app", "overlaid", 1, "1"))
	waitForPods(t, cs, ns, "the pod Running", func(pods []corev1.Pod) bool {
		live := livePods(pods, "")
		return len(live) == 1 && running(live[0])
	})
	var claims []apiv1.NodeClaim
	testenv.WaitFor(t, 30*time.Second, "the claim's price recorded", func(context.Context) bool {
		claims = poolClaims(t, kube, "overlaid")
		return len(claims) == 1 && claims[0].Annotations[apiv1.PricePerHourAnnotationKey] != ""
	})
	nc := claims[0]
	if ct, family := nc.Labels[apiv1.CapacityTypeLabelKey], nc.Labels[apiv1.InstanceFamilyLabelKey]; ct != apiv1.CapacityTypeOnDemand || family != "m5" {
		t.Fatalf("launched %s %s %s, want on-demand m5: the overlay makes it cheaper than spot", nc.Labels[apiv1.InstanceTypeLabelKey], ct, nc.Labels[apiv1.ZoneLabelKey])
	}
	price, err := strconv.ParseFloat(nc.Annotations[apiv1.PricePerHourAnnotationKey], 64)
	if err != nil || price <= 0 || price > 0.02 {
		t.Errorf("recorded price %q, want the overlay's (m5.large on-demand at -90%%, about $0.0096/h)", nc.Annotations[apiv1.PricePerHourAnnotationKey])
	}
	t.Logf("launched %s %s at $%.4f/h (overlay savings-plan)", nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.CapacityTypeLabelKey], price)
}
