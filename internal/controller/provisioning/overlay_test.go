package provisioning

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestNodeOverlayFlipsCapacityType: a NodeOverlay that makes on-demand m5 cheaper than spot (a Savings Plan) gives a
// NodeClaim pinned to on-demand, and the pods' Nominated events name the overlay; without it the claim allows spot.
func TestNodeOverlayFlipsCapacityType(t *testing.T) {
	capacityTypes := func(nc apiv1.NodeClaim) []string {
		for _, r := range nc.Spec.Requirements {
			if r.Key == apiv1.CapacityTypeLabelKey {
				return r.Values
			}
		}
		return nil
	}
	t.Run("without overlay", func(t *testing.T) {
		f := newFixture(t, "m5.large", "m5.xlarge")
		f.nodePool("default", nil)
		f.pendingPods(1, "1", nil)
		if _, err := f.provisioner.Provision(t.Context()); err != nil {
			t.Fatal(err)
		}
		claims := f.nodeClaims()
		if len(claims) != 1 {
			t.Fatalf("%d nodeclaims, want 1", len(claims))
		}
		if ct := capacityTypes(claims[0]); ct != nil && !slices.Contains(ct, apiv1.CapacityTypeSpot) {
			t.Errorf("capacity types %v without an overlay, want spot allowed", ct)
		}
	})
	t.Run("savings plan on on-demand", func(t *testing.T) {
		f := newFixture(t, "m5.large", "m5.xlarge", "c5.large")
		f.nodePool("default", nil)
		ov := &apiv1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "savings-plan"},
			Spec: apiv1.NodeOverlaySpec{
				Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
					{Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5"}},
					{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeOnDemand}},
				},
				PriceAdjustment: ptr.To("-90%"),
			},
		}
		if err := f.kube.Create(t.Context(), ov); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.kube.Delete(t.Context(), ov) })
		f.pendingPods(1, "1", nil)
		if _, err := f.provisioner.Provision(t.Context()); err != nil {
			t.Fatal(err)
		}
		claims := f.nodeClaims()
		if len(claims) != 1 {
			t.Fatalf("%d nodeclaims, want 1", len(claims))
		}
		if ct := capacityTypes(claims[0]); !slices.Equal(ct, []string{apiv1.CapacityTypeOnDemand}) {
			t.Errorf("capacity types %v, want [on-demand]: the overlay made it cheaper than spot", ct)
		}
		for _, r := range claims[0].Spec.Requirements {
			if r.Key != apiv1.InstanceTypeLabelKey {
				continue
			}
			for _, v := range r.Values {
				if !strings.HasPrefix(v, "m5.") {
					t.Errorf("instance types %v: %s is not discounted; the provider, ordering by list price, would launch it", r.Values, v)
				}
			}
		}
		var named bool
		for _, e := range f.drainEvents() {
			named = named || (strings.Contains(e, ReasonNominated) && strings.Contains(e, "priced by NodeOverlay savings-plan"))
		}
		if !named {
			t.Error("no Nominated event names the NodeOverlay savings-plan")
		}
	})
}
