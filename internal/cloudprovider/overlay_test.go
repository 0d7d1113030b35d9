package cloudprovider

import (
	"math"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func overlay(name string, w int32, price, adjustment string, reqs ...apiv1.NodeSelectorRequirementWithMinValues) apiv1.NodeOverlay {
	o := apiv1.NodeOverlay{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: apiv1.NodeOverlaySpec{Requirements: reqs}}
	if w > 0 {
		o.Spec.Weight = ptr.To(w)
	}
	if price != "" {
		o.Spec.Price = ptr.To(price)
	}
	if adjustment != "" {
		o.Spec.PriceAdjustment = ptr.To(adjustment)
	}
	return o
}

func in(key string, values ...string) apiv1.NodeSelectorRequirementWithMinValues {
	return apiv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: corev1.NodeSelectorOpIn, Values: values}
}

func TestApplyOverlays(t *testing.T) {
	mk := func(name, family string, od float64) *InstanceType {
		return &InstanceType{Name: name, Labels: map[string]string{apiv1.InstanceFamilyLabelKey: family}, Offerings: []Offering{
			{Zone: "z1", CapacityType: apiv1.CapacityTypeOnDemand, PricePerHour: od, Available: true},
			{Zone: "z1", CapacityType: apiv1.CapacityTypeSpot, PricePerHour: od * 0.4, Available: true},
		}}
	}
	types := []*InstanceType{mk("m7i.large", "m7i", 0.1), mk("c7i.large", "c7i", 0.09)}
	// A reservation's offering keeps its nominal price: no overlay touches capacity already paid for.
	types[0].Offerings = append(types[0].Offerings, Offering{Zone: "z1", CapacityType: apiv1.CapacityTypeReserved, PricePerHour: 0.00001, Available: true})
	overlays := []apiv1.NodeOverlay{
		// A compute Savings Plan on on-demand m7i: -70% makes it $0.03, below spot's $0.04.
		overlay("savings-plan", 10, "", "-70%", in(apiv1.InstanceFamilyLabelKey, "m7i"), in(apiv1.CapacityTypeLabelKey, apiv1.CapacityTypeOnDemand)),
		// Lower weight, also matching m7i on-demand: loses.
		overlay("flat", 5, "0.5", "", in(apiv1.CapacityTypeLabelKey, apiv1.CapacityTypeOnDemand)),
		// Only for another NodePool.
		overlay("other-pool", 100, "0.001", "", in(apiv1.NodePoolLabelKey, "batch")),
	}
	got, applied, err := ApplyOverlays(types, "default", overlays)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		price   float64
		overlay string
	}{
		"m7i.large/on-demand": {0.03, "savings-plan"}, "m7i.large/spot": {0.04, ""},
		"c7i.large/on-demand": {0.5, "flat"}, "c7i.large/spot": {0.036, ""}, "m7i.large/reserved": {0.00001, ""},
	}
	for _, it := range got {
		for _, o := range it.Offerings {
			w := want[it.Name+"/"+o.CapacityType]
			if math.Abs(o.PricePerHour-w.price) > 1e-9 || o.Overlay != w.overlay {
				t.Errorf("%s %s: $%v by %q, want $%v by %q", it.Name, o.CapacityType, o.PricePerHour, o.Overlay, w.price, w.overlay)
			}
			if o.Overlay != "" && o.ListPrice == 0 {
				t.Errorf("%s %s: list price not kept", it.Name, o.CapacityType)
			}
		}
	}
	if applied["savings-plan"] != 1 || applied["flat"] != 1 || applied["other-pool"] != 0 {
		t.Errorf("applied = %v", applied)
	}
	if types[0].Offerings[0].PricePerHour != 0.1 {
		t.Errorf("the provider's instance type was changed: %v", types[0].Offerings[0].PricePerHour)
	}
	// The same overlays for the batch NodePool: other-pool wins everywhere (weight 100).
	got, _, err = ApplyOverlays(types, "batch", overlays)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range got {
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeReserved {
				continue
			}
			if o.Overlay != "other-pool" {
				t.Errorf("batch %s %s priced by %q, want other-pool", it.Name, o.CapacityType, o.Overlay)
			}
		}
	}
}
