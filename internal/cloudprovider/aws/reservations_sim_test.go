package aws

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// reservationEnv is ec2sim with two reservations of m5.xlarge in us-east-1b: cr-0team (2 instances, tagged
// team=a) and cr-0other (1 instance, untagged), and a node class selecting team=a's.
func reservationEnv(t *testing.T) *simEnv {
	t.Helper()
	cfg := ec2sim.DefaultConfig(testCluster)
	cfg.CapacityReservations = []ec2sim.CapacityReservationConfig{
		{ID: "cr-0team", InstanceType: "m5.xlarge", Zone: "us-east-1b", Count: 2, Tags: map[string]string{"team": "a"}},
		{ID: "cr-0other", InstanceType: "m5.xlarge", Zone: "us-east-1b", Count: 1},
	}
	e := newSimEnvConfig(t, cfg, simTypes(), nil)
	nc := nodeClass("default")
	nc.Spec.CapacityReservationSelectorTerms = []apiv1.CapacityReservationSelectorTerm{{Tags: map[string]string{"team": "a"}}}
	e.addNodeClass(nc)
	return e
}

func TestSimResolveNodeClassListsSelectedReservations(t *testing.T) {
	e := reservationEnv(t)
	nc, err := e.provider.nodeClass(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	got := nc.Status.CapacityReservations
	if len(got) != 1 || got[0].ID != "cr-0team" || got[0].InstanceType != "m5.xlarge" || got[0].AvailabilityZone != "us-east-1b" ||
		got[0].AvailableInstanceCount != 2 || got[0].TotalInstanceCount != 2 || got[0].InstanceMatchCriteria != "targeted" ||
		got[0].OwnerID != "123456789012" || got[0].State != "active" {
		t.Fatalf("status.capacityReservations = %+v, want cr-0team (m5.xlarge, us-east-1b, 2 of 2 free)", got)
	}
	types, err := e.provider.instanceTypesFor(t.Context(), nc)
	if err != nil {
		t.Fatal(err)
	}
	var reserved []cloudprovider.Offering
	var od float64
	for _, it := range types {
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeReserved {
				if it.Name != "m5.xlarge" {
					t.Errorf("reserved offering on %s", it.Name)
				}
				reserved = append(reserved, o)
			}
			if it.Name == "m5.xlarge" && o.CapacityType == apiv1.CapacityTypeOnDemand {
				od = o.PricePerHour
			}
		}
	}
	if len(reserved) != 1 || reserved[0].Zone != "us-east-1b" || reserved[0].ReservationID != "cr-0team" ||
		reserved[0].ReservationCapacity != 2 || !reserved[0].Available || reserved[0].PricePerHour != od*ReservedPriceFactor {
		t.Errorf("reserved offerings = %+v, want one in us-east-1b for cr-0team, 2 left, at %v", reserved, od*ReservedPriceFactor)
	}
}

// A NodeClaim allowing reserved and spot launches into the reservation while it has room, labelled with it; once it
// is full the next goes spot; terminating a reserved instance frees its slot.
func TestSimCreateUsesReservationFirstThenSpot(t *testing.T) {
	e := reservationEnv(t)
	reservedOrSpot := requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeReserved, apiv1.CapacityTypeSpot)
	var launched []*apiv1.NodeClaim
	for _, name := range []string{"nc-1", "nc-2", "nc-3"} {
		got, err := e.provider.Create(t.Context(), testNodeClaim(name, "3", reservedOrSpot))
		if err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
		launched = append(launched, got)
	}
	for i, want := range []string{"reserved", "reserved", "spot"} {
		got := launched[i]
		if ct := got.Labels[apiv1.CapacityTypeLabelKey]; ct != want {
			t.Errorf("%s launched %s, want %s", got.Name, ct, want)
		}
		inst, _ := e.simInstance(instanceIDOf(t, got))
		wantID := map[string]string{"reserved": "cr-0team", "spot": ""}[want]
		if got.Labels[apiv1.CapacityReservationIDLabelKey] != wantID || inst.CapacityReservationID != wantID {
			t.Errorf("%s: label %q, ec2sim reservation %q; want %q", got.Name, got.Labels[apiv1.CapacityReservationIDLabelKey], inst.CapacityReservationID, wantID)
		}
		if want == "reserved" && (inst.CapacityType != apiv1.CapacityTypeOnDemand || inst.InstanceType != "m5.xlarge" || inst.Zone != "us-east-1b") {
			t.Errorf("%s: ec2sim instance %+v, want on-demand m5.xlarge in us-east-1b", got.Name, inst)
		}
	}
	// The provider counted its own launches: the reserved offering is now out without another DescribeCapacityReservations.
	nc, _ := e.provider.nodeClass(t.Context(), "default")
	types, _ := e.provider.instanceTypesFor(t.Context(), nc)
	for _, it := range types {
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeReserved && (o.Available || o.ReservationCapacity != 0) {
				t.Errorf("reserved offering after two launches: %+v, want unavailable with 0 left", o)
			}
		}
	}

	// A resolution reads 0 free before the node class's new status reaches the cache: the stale status (2 free)
	// must not offer the reservation again.
	if err := e.provider.ResolveNodeClass(t.Context(), nc.DeepCopy()); err != nil {
		t.Fatalf("ResolveNodeClass: %v", err)
	}
	types, _ = e.provider.instanceTypesFor(t.Context(), nc)
	for _, it := range types {
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeReserved && o.Available {
				t.Errorf("reserved offering after a resolution the cache has not seen yet: %+v, want unavailable", o)
			}
		}
	}

	// Terminating one reserved instance frees its slot: the next read of the reservation shows it.
	if err := e.provider.Delete(t.Context(), launched[0]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	e.step(10e9)
	e.updateNodeClass("default", func(*apiv1.EC2NodeClass) {})
	got, err := e.provider.Create(t.Context(), testNodeClaim("nc-4", "3", reservedOrSpot))
	if err != nil {
		t.Fatalf("Create nc-4: %v", err)
	}
	if got.Labels[apiv1.CapacityTypeLabelKey] != apiv1.CapacityTypeReserved {
		t.Errorf("after a reserved instance terminated, nc-4 launched %s, want reserved", got.Labels[apiv1.CapacityTypeLabelKey])
	}
}

func TestSimCreateWithoutReservedInRequirementsNeverUsesReservations(t *testing.T) {
	for _, reqs := range [][]apiv1.NodeSelectorRequirementWithMinValues{
		nil,
		{requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand)},
	} {
		e := reservationEnv(t)
		got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "3", reqs...))
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if ct := got.Labels[apiv1.CapacityTypeLabelKey]; ct == apiv1.CapacityTypeReserved || got.Labels[apiv1.CapacityReservationIDLabelKey] != "" {
			t.Errorf("requirements %v launched into a reservation (%s)", reqs, got.Labels[apiv1.CapacityReservationIDLabelKey])
		}
	}
}

// A reservation filled behind Tailor's back (by another launcher) answers ReservationCapacityExceeded: the reserved
// offering is marked unavailable and the same Create falls back to spot.
func TestSimCreateFallsBackWhenTheReservationIsFull(t *testing.T) {
	e := reservationEnv(t)
	// Fill the reservation: two launches whose count is then forgotten below.
	reservedOnly := requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeReserved, apiv1.CapacityTypeSpot)
	for _, name := range []string{"other-1", "other-2"} {
		if _, err := e.provider.Create(t.Context(), testNodeClaim(name, "3", reservedOnly)); err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
	}
	// As if another launcher had filled it: the provider's own count forgotten, its last read saying 2 free.
	e.provider.reservationLaunches.reset([]apiv1.CapacityReservation{{ID: "cr-0team", AvailableInstanceCount: 2}}, e.provider.reservationLaunches.mark())
	got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "3", reservedOnly))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if ct := got.Labels[apiv1.CapacityTypeLabelKey]; ct != apiv1.CapacityTypeSpot {
		t.Errorf("launched %s into a full reservation, want the spot fallback", ct)
	}
	if !e.provider.UnavailableOfferings().IsUnavailable("m5.xlarge", "us-east-1b", reservedCapacityType("cr-0team")) {
		t.Errorf("the full reservation is not marked unavailable")
	}
}
