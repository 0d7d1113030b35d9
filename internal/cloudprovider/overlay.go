package cloudprovider

import (
	"maps"
	"sort"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// ApplyOverlays returns the instance types of a NodePool with each offering's price as the NodeOverlays say: the
// overlay of highest weight (equal weights: the first by name) whose requirements the offering meets — its instance
// type's labels, its zone and capacity type, and tailor.sh/nodepool — sets or adjusts the price, records its name in
// Offering.Overlay and keeps the provider's price in Offering.ListPrice. Types no overlay touches are returned as
// they are; the others are copies, so the provider's cache is never changed. Overlays being deleted are ignored.
// applied counts, per overlay, the offerings it priced.
func ApplyOverlays(types []*InstanceType, nodePool string, overlays []apiv1.NodeOverlay) (out []*InstanceType, applied map[string]int, err error) {
	live := make([]*apiv1.NodeOverlay, 0, len(overlays))
	for i := range overlays {
		if overlays[i].DeletionTimestamp.IsZero() {
			live = append(live, &overlays[i])
		}
	}
	if len(live) == 0 {
		return types, nil, nil
	}
	sort.SliceStable(live, func(i, j int) bool {
		wi, wj := weight(live[i]), weight(live[j])
		if wi != wj {
			return wi > wj
		}
		return live[i].Name < live[j].Name
	})
	applied = map[string]int{}
	out = make([]*InstanceType, len(types))
	for i, it := range types {
		out[i] = it
		var offerings []Offering
		labels := overlayLabels(it, nodePool)
		for j, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeReserved {
				continue // capacity already paid for: its nominal price keeps it first, whatever the price lists say
			}
			labels[apiv1.ZoneLabelKey], labels[apiv1.CapacityTypeLabelKey] = o.Zone, o.CapacityType
			ov := firstMatch(live, labels)
			if ov == nil {
				continue
			}
			price, err := ov.Reprice(o.PricePerHour)
			if err != nil {
				return nil, nil, err
			}
			if offerings == nil {
				offerings = append([]Offering(nil), it.Offerings...)
			}
			offerings[j].ListPrice = o.PricePerHour
			offerings[j].PricePerHour = price
			offerings[j].Overlay = ov.Name
			applied[ov.Name]++
		}
		if offerings != nil {
			c := *it
			c.Offerings = offerings
			out[i] = &c
		}
	}
	return out, applied, nil
}

func weight(o *apiv1.NodeOverlay) int32 {
	if o.Spec.Weight == nil {
		return 0
	}
	return *o.Spec.Weight
}

// overlayLabels are the labels an overlay's requirements see for the instance type's offerings in nodePool: the
// type's own, its name and the NodePool's; ApplyOverlays sets the zone and capacity type of each offering in turn.
func overlayLabels(it *InstanceType, nodePool string) map[string]string {
	labels := maps.Clone(it.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[apiv1.NodePoolLabelKey] = nodePool
	if _, ok := labels[apiv1.InstanceTypeLabelKey]; !ok {
		labels[apiv1.InstanceTypeLabelKey] = it.Name
	}
	return labels
}

// firstMatch is the first overlay (in precedence order) whose every requirement the offering's labels meet.
func firstMatch(overlays []*apiv1.NodeOverlay, labels map[string]string) *apiv1.NodeOverlay {
	for _, ov := range overlays {
		matches := true
		for _, r := range ov.Spec.Requirements {
			v, ok := labels[r.Key]
			if !requirementMatches(r.Operator, r.Values, v, ok) {
				matches = false
				break
			}
		}
		if matches {
			return ov
		}
	}
	return nil
}
