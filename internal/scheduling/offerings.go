package scheduling

import (
	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// offeringIndex numbers the zones and capacity types of the offerings the NodePools may use, so that testing an
// offering against a claim's requirements is two bit tests rather than two binary searches over strings: the
// planner does it for every type of every claim it finalizes.
type offeringIndex struct {
	zoneIDs, ctIDs map[string]uint8
	zones, cts     []string
	// overflow is set when there are more than 64 zones or capacity types; filters then compare strings.
	overflow bool
}

// offeringID is an offering's zone and capacity type as positions in the offeringIndex.
type offeringID struct{ zone, ct uint8 }

func (x *offeringIndex) id(zone, ct string) offeringID {
	if x.zoneIDs == nil {
		x.zoneIDs, x.ctIDs = map[string]uint8{}, map[string]uint8{}
	}
	return offeringID{zone: x.intern(x.zoneIDs, &x.zones, zone), ct: x.intern(x.ctIDs, &x.cts, ct)}
}

func (x *offeringIndex) intern(ids map[string]uint8, values *[]string, v string) uint8 {
	if id, ok := ids[v]; ok {
		return id
	}
	if len(*values) >= 64 {
		x.overflow = true
		return 0
	}
	id := uint8(len(*values))
	ids[v] = id
	*values = append(*values, v)
	return id
}

// mask has bit i set when set allows values[i] (every bit when set is nil: the key is unconstrained).
func mask(values []string, set *valueSet) uint64 {
	var m uint64
	for i, v := range values {
		if set == nil || set.allows(v) {
			m |= 1 << i
		}
	}
	return m
}

// offeringFilter is the part of reqs that decides which offerings a type may be bought as (and so its price): its
// zone and capacity-type sets, compiled to bit masks.
func (s *solver) offeringFilter(reqs Requirements) typeFilter {
	f := typeFilter{zone: reqs.get(apiv1.ZoneLabelKey), ct: reqs.get(apiv1.CapacityTypeLabelKey)}
	if !s.offers.overflow {
		f.masked = true
		f.zoneMask, f.ctMask = mask(s.offers.zones, f.zone), mask(s.offers.cts, f.ct)
	}
	return f
}

// offeringOK reports whether the filter allows t's i-th offering.
func (f *typeFilter) offeringOK(t *typeInfo, i int) bool {
	if f.masked {
		id := t.ids[i]
		return f.zoneMask&(1<<id.zone) != 0 && f.ctMask&(1<<id.ct) != 0
	}
	o := &t.offerings[i]
	return (f.zone == nil || f.zone.allows(o.Zone)) && (f.ct == nil || f.ct.allows(o.CapacityType))
}
