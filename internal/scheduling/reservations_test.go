package scheduling

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// reservedType is m6.xlarge with a capacity reservation of room instances in test-1a, priced far below spot.
func reservedType(room int) *cloudprovider.InstanceType {
	it := instanceType("m6.xlarge", 4, 16, 0.192).obj()
	it.Offerings = append(it.Offerings, cloudprovider.Offering{Zone: "test-1a", CapacityType: apiv1.CapacityTypeReserved,
		PricePerHour: 0.192 * 1e-4, Available: room > 0, ReservationID: "cr-0a", ReservationCapacity: room})
	return it
}

func TestReservedCapacityHoldsItsCountAndNeedsOptIn(t *testing.T) {
	pods := replicas(3, "p", func(name string) *podBuilder { return pod(name).req("3", "4Gi") })
	tests := []struct {
		name string
		pool *NodePool
		want []string // capacity type of each claim, sorted
	}{
		{"reserved then spot: two claims take the two slots, the third goes spot",
			nodePool("np", reservedType(2)).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeReserved, apiv1.CapacityTypeSpot)).obj(),
			[]string{"reserved", "reserved", "spot"}},
		{"reserved then on-demand with one slot: one claim reserved, the others on-demand",
			nodePool("np", reservedType(1)).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeReserved, apiv1.CapacityTypeOnDemand)).obj(),
			[]string{"on-demand", "on-demand", "reserved"}},
		{"reserved only with one slot: one claim reserved, the other pods unschedulable",
			nodePool("np", reservedType(1)).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeReserved)).obj(),
			[]string{"reserved"}},
		{"no capacity-type requirement: reservations are not used",
			nodePool("np", reservedType(2)).obj(),
			[]string{"spot", "spot", "spot"}},
		{"spot and on-demand only: reservations are not used",
			nodePool("np", reservedType(2)).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeSpot, apiv1.CapacityTypeOnDemand)).obj(),
			[]string{"spot", "spot", "spot"}},
		{"a full reservation is not planned on",
			nodePool("np", reservedType(0)).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeReserved, apiv1.CapacityTypeSpot)).obj(),
			[]string{"spot", "spot", "spot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := solve(t, &Snapshot{NodePools: []*NodePool{tt.pool}}, pods, Options{})
			var got []string
			for _, c := range r.NodeClaims {
				o := c.Cheapest()
				got = append(got, o.Offering.CapacityType)
				if o.Offering.CapacityType == apiv1.CapacityTypeReserved && (o.Offering.Zone != "test-1a" || o.Offering.ReservationID != "cr-0a") {
					t.Errorf("reserved claim in %s / %q, want test-1a / cr-0a", o.Offering.Zone, o.Offering.ReservationID)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("capacity types of the claims (-want +got):\n%s\nplan: %v", diff, summary(r))
			}
			if want := len(pods) - len(tt.want); len(r.Unschedulable) != want {
				t.Errorf("%d pods unschedulable, want %d: %v", len(r.Unschedulable), want, reasonsOf(r))
			}
			for _, u := range r.Unschedulable {
				if len(u.Reasons) != 1 || !strings.Contains(u.Reasons[0].String(), "capacity reservation cr-0a is full") {
					t.Errorf("pod %s: reasons %q, want the full reservation named", u.Pod.Name, u.Reasons)
				}
			}
		})
	}
}
