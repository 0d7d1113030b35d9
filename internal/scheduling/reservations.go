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

// holdReservations makes the plan launch no more NodeClaims into a reservation than its remaining count: claims in
// plan order take a slot when their launch option is reserved; once a reservation is used up, the later claims
// are finalized again without it, so their types fall back to their next offering (spot or on-demand).
func (s *solver) holdReservations() {
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
				}
			}
		}
		if slices.ContainsFunc(n.options, func(o InstanceTypeOption) bool { return s.reservationExhausted(&o.Offering) }) {
			prev, target := n.options, n.target
			s.finalize(n)
			if len(n.options) == 0 {
				// Nothing but the full reservation fits: keep the claim as it was; the launch finds the
				// reservation full and the pods wait for the next plan.
				n.options = prev
				if target != nil {
					n.setTarget(target)
				}
			}
		}
		if id := n.options[0].Offering.ReservationID; id != "" {
			s.reservedLeft[id]--
		}
	}
}
