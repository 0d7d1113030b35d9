package aws

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ReservedPriceFactor prices a reserved offering: its type's on-demand price times this factor. A reservation is
// paid for whether it is used or not, so launching into it costs nothing more; the tiny positive price keeps it
// cheaper than any spot or on-demand offering (so reservations fill first) while bigger reserved types still cost
// more than smaller ones (so a small claim does not take a big reserved slot when a small one is free).
const ReservedPriceFactor = 1e-4

// reservationCapacityErrorCodes are the CreateFleet errors of a launch into a full (or no longer usable)
// reservation: the reserved offering is marked unavailable and the launch falls back to spot or on-demand.
var reservationCapacityErrorCodes = []string{
	"ReservationCapacityExceeded",
	"InsufficientInstanceCapacity",
	"InvalidCapacityReservationId.Malformed",
	"InvalidCapacityReservationId.NotFound",
}

// reservedCapacityType is the key of a reservation in the unavailable-offerings cache: one per reservation, so a
// full reservation does not hide another of the same type and zone.
func reservedCapacityType(id string) string { return apiv1.CapacityTypeReserved + "/" + id }

// reservationLaunches keeps, per reservation, the free count this provider last read from EC2 and the launches it
// made into it since, so the offerings' remaining counts hold between two reads. The provider's own read is used
// rather than the node class's status, which reaches the informer cache a moment after the read: the status's
// count with the launches forgotten at the read would offer capacity that is gone.
type reservationLaunches struct {
	mu   sync.Mutex
	read map[string]int32
	// launches are the sequence numbers of the launches into each reservation not yet seen in a read.
	launches map[string][]uint64
	seq      uint64
	version  uint64
}

func (r *reservationLaunches) launched(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.launches == nil {
		r.launches = map[string][]uint64{}
	}
	r.seq++
	r.launches[id] = append(r.launches[id], r.seq)
	r.version++
}

// mark is taken before reading the reservations: launches after it may be missing from what the read returns.
func (r *reservationLaunches) mark() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// reset records the free counts read after mark and forgets the launches made before mark, which the counts include.
func (r *reservationLaunches) reset(reservations []apiv1.CapacityReservation, mark uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = map[string]int32{}
	}
	if r.launches == nil {
		r.launches = map[string][]uint64{}
	}
	for _, cr := range reservations {
		r.read[cr.ID] = cr.AvailableInstanceCount
		r.launches[cr.ID] = slices.DeleteFunc(r.launches[cr.ID], func(seq uint64) bool { return seq <= mark })
	}
	r.version++
}

// left is how many instances the reservation still holds: the last count this provider read (the status's when it
// read none) less its launches since.
func (r *reservationLaunches) left(cr apiv1.CapacityReservation) int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	free, ok := r.read[cr.ID]
	if !ok {
		free = cr.AvailableInstanceCount
	}
	return max(0, free-int32(len(r.launches[cr.ID])))
}

func (r *reservationLaunches) Version() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// resolveCapacityReservations returns the active, unexpired reservations matching any term, sorted by id.
func (p *Provider) resolveCapacityReservations(ctx context.Context, terms []apiv1.CapacityReservationSelectorTerm) ([]apiv1.CapacityReservation, error) {
	found := map[string]ec2types.CapacityReservation{}
	now := p.clk.Now()
	for _, t := range terms {
		in := &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{filter("state", "active")}}
		if t.ID != "" {
			in.CapacityReservationIds = []string{t.ID}
		} else {
			in.Filters = append(in.Filters, tagFilters(t.Tags)...)
			if t.OwnerID != "" {
				in.Filters = append(in.Filters, filter("owner-id", t.OwnerID))
			}
		}
		pager := ec2.NewDescribeCapacityReservationsPaginator(p.ec2, in)
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				if t.ID != "" && strings.HasPrefix(errorCode(err), "InvalidCapacityReservationId") {
					break // a reservation that no longer exists selects nothing
				}
				return nil, fmt.Errorf("describing capacity reservations: %w", err)
			}
			for _, r := range page.CapacityReservations {
				if r.State != ec2types.CapacityReservationStateActive || (r.EndDate != nil && !now.Before(*r.EndDate)) {
					continue
				}
				found[aws.ToString(r.CapacityReservationId)] = r
			}
		}
	}
	out := make([]apiv1.CapacityReservation, 0, len(found))
	for _, r := range found {
		cr := apiv1.CapacityReservation{
			ID: aws.ToString(r.CapacityReservationId), InstanceType: aws.ToString(r.InstanceType),
			AvailabilityZone: aws.ToString(r.AvailabilityZone), OwnerID: aws.ToString(r.OwnerId),
			InstanceMatchCriteria: string(r.InstanceMatchCriteria), ReservationType: string(r.ReservationType),
			State: string(r.State), TotalInstanceCount: aws.ToInt32(r.TotalInstanceCount),
			AvailableInstanceCount: aws.ToInt32(r.AvailableInstanceCount),
		}
		if cr.ReservationType == "" {
			cr.ReservationType = "default"
		}
		if r.EndDate != nil {
			t := metav1.NewTime(*r.EndDate)
			cr.EndTime = &t
		}
		out = append(out, cr)
	}
	slices.SortFunc(out, func(a, b apiv1.CapacityReservation) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// reservedOfferings are the offerings of capacity type reserved the node class's reservations add to an instance
// type: one per reservation of the type in a zone the node class has subnets in, priced by ReservedPriceFactor,
// with the reservation's remaining count (as last read, less the launches since) and available while it is above
// zero and EC2 has not answered that the reservation is full.
func (p *Provider) reservedOfferings(it *cloudprovider.InstanceType, reservations []apiv1.CapacityReservation, zones []string) []cloudprovider.Offering {
	var out []cloudprovider.Offering
	odPrice := -1.0
	for _, o := range it.Offerings {
		if o.CapacityType == apiv1.CapacityTypeOnDemand && (odPrice < 0 || o.PricePerHour < odPrice) {
			odPrice = o.PricePerHour
		}
	}
	if odPrice < 0 {
		return nil
	}
	for _, r := range reservations {
		if r.InstanceType != it.Name || !slices.Contains(zones, r.AvailabilityZone) {
			continue
		}
		left := p.reservationLaunches.left(r)
		out = append(out, cloudprovider.Offering{
			Zone: r.AvailabilityZone, CapacityType: apiv1.CapacityTypeReserved, PricePerHour: odPrice * ReservedPriceFactor,
			Available:     left > 0 && !p.unavailable.IsUnavailable(it.Name, r.AvailabilityZone, reservedCapacityType(r.ID)),
			ReservationID: r.ID, ReservationCapacity: int(left),
		})
	}
	return out
}

// withReservations adds the reserved offerings to the instance types (copies of those that get any).
func (p *Provider) withReservations(types []*cloudprovider.InstanceType, nc *apiv1.EC2NodeClass, zones []string) []*cloudprovider.InstanceType {
	if len(nc.Status.CapacityReservations) == 0 {
		return types
	}
	out := make([]*cloudprovider.InstanceType, len(types))
	for i, it := range types {
		out[i] = it
		if reserved := p.reservedOfferings(it, nc.Status.CapacityReservations, zones); len(reserved) > 0 {
			c := *it
			c.Offerings = append(slices.Clone(it.Offerings), reserved...)
			out[i] = &c
		}
	}
	return out
}

// allowsReserved tells whether requirements opt into reserved capacity: a requirement on the capacity type whose
// In values name reserved. Requirements that leave the capacity type open do not.
func allowsReserved(reqs []apiv1.NodeSelectorRequirementWithMinValues) bool {
	for _, r := range reqs {
		if r.Key == apiv1.CapacityTypeLabelKey && r.Operator == "In" && slices.Contains(r.Values, apiv1.CapacityTypeReserved) {
			return true
		}
	}
	return false
}
