package scheduling

import (
	"slices"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// optsIntoReserved tells whether a NodePool may use reserved offerings: its requirements must name the capacity type
// reserved among the values they allow (In). A NodePool that leaves the capacity type open, or only excludes values
// (NotIn), does not use reservations, so capacity set aside for one workload is not taken by every NodePool.
func optsIntoReserved(np *NodePool) bool {
	s := np.Requirements.get(apiv1.CapacityTypeLabelKey)
	return s != nil && !s.complement && slices.Contains(s.values, apiv1.CapacityTypeReserved)
}

// offeringAllowed is poolType's test of one offering: available, in a zone and capacity type the NodePool's
// requirements allow, and reserved only for a NodePool that opts into reservations.
func offeringAllowed(np *NodePool, base Requirements, o cloudprovider.Offering) bool {
	if !o.Available || !base.Has(apiv1.ZoneLabelKey, o.Zone) || !base.Has(apiv1.CapacityTypeLabelKey, o.CapacityType) {
		return false
	}
	return o.CapacityType != apiv1.CapacityTypeReserved || optsIntoReserved(np)
}

// reservationExhausted tells whether finalize must pass over a reserved offering: the plan already put as many
// NodeClaims on its reservation as it has room for. Before holdReservations runs nothing is exhausted.
func (s *solver) reservationExhausted(o *cloudprovider.Offering) bool {
	if s.reservedLeft == nil || o.ReservationID == "" {
		return false
	}
	left, ok := s.reservedLeft[o.ReservationID]
	return ok && left <= 0
}

// reasonReservationFull is the reason of pods whose NodeClaim could launch only into a capacity reservation the plan
// has already filled.
const reasonReservationFull = "capacity reservation %s is full: the plan already uses its %d remaining instance(s), and the NodePool allows no other offering of the claim's instance types"

// holdReservations makes the plan launch no more NodeClaims into a reservation than its remaining count: claims in
// plan order take a slot when their launch option is reserved; once a reservation is used up, the later claims
// are finalized again without it, so their types fall back to their next offering (spot or on-demand). A claim
// left with no offering is dropped and its pods returned, unschedulable with reasonReservationFull.
func (s *solver) holdReservations() []*podInfo {
	var dropped []*podInfo
	initial := map[string]int{}
	s.reservedLeft = map[string]int{}
	uses := func(n *node) bool {
		return slices.ContainsFunc(n.options, func(o InstanceTypeOption) bool { return o.Offering.ReservationID != "" })
	}
	for _, n := range s.claims {
		if n.merged || len(n.pods) == 0 || !uses(n) {
			continue
		}
		for _, t := range n.types {
			for _, o := range t.offerings {
				if _, ok := s.reservedLeft[o.ReservationID]; o.ReservationID != "" && !ok {
					s.reservedLeft[o.ReservationID] = o.ReservationCapacity
					initial[o.ReservationID] = o.ReservationCapacity
				}
			}
		}
		if slices.ContainsFunc(n.options, func(o InstanceTypeOption) bool { return s.reservationExhausted(&o.Offering) }) {
			var full string
			for _, o := range n.options {
				if s.reservationExhausted(&o.Offering) {
					full = o.Offering.ReservationID
					break
				}
			}
			s.finalize(n)
			if len(n.options) == 0 {
				for _, p := range n.pods {
					r := reasonf(ReasonReservationFull, reasonReservationFull, full, initial[full])
					p.refusal = &r
				}
				dropped = append(dropped, n.pods...)
				n.pods = nil
				continue
			}
		}
		if id := n.options[0].Offering.ReservationID; id != "" {
			s.reservedLeft[id]--
		}
	}
	return dropped
}
