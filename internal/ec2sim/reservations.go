package ec2sim

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// CapacityReservationConfig is an on-demand capacity reservation (ODCR) of the simulated account: Count instances of
// InstanceType held in Zone. A launch whose launch template targets it (CapacityReservationSpecification
// .CapacityReservationTarget.CapacityReservationId) runs in it while it has room and fails with
// ReservationCapacityExceeded when it is full; terminating such an instance frees its slot.
type CapacityReservationConfig struct {
	// ID, for example "cr-0123456789abcdef0"; default a stable ID from the type and zone.
	ID           string `json:"id,omitempty"`
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone"`
	Count        int    `json:"count"`
	// InstanceMatchCriteria is "targeted" (default: only launches naming it) or "open".
	InstanceMatchCriteria string `json:"instanceMatchCriteria,omitempty"`
	// OwnerID defaults to the account.
	OwnerID string `json:"ownerID,omitempty"`
	// State defaults to "active"; "expired", "cancelled" and the like take no launches.
	State string `json:"state,omitempty"`
	// EndDate, when set, is when the reservation expires (it is then reported expired).
	EndDate *time.Time        `json:"endDate,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// completeReservations fills the reservations' defaults and checks them.
func (c *Config) completeReservations() error {
	seen := map[string]bool{}
	for i := range c.CapacityReservations {
		r := &c.CapacityReservations[i]
		field := fmt.Sprintf("capacityReservations[%d]", i)
		if r.InstanceType == "" || r.Zone == "" {
			return fmt.Errorf("%s: instanceType and zone are required", field)
		}
		if r.Count < 0 {
			return fmt.Errorf("%s.count %d: must be 0 or more", field, r.Count)
		}
		if r.ID == "" {
			r.ID = stableID("cr", fmt.Sprintf("%s/%s/%d", r.InstanceType, r.Zone, i))
		}
		if seen[r.ID] {
			return fmt.Errorf("%s.id %q: used twice", field, r.ID)
		}
		seen[r.ID] = true
		switch r.InstanceMatchCriteria {
		case "":
			r.InstanceMatchCriteria = "targeted"
		case "targeted", "open":
		default:
			return fmt.Errorf("%s.instanceMatchCriteria %q: use \"targeted\" or \"open\"", field, r.InstanceMatchCriteria)
		}
		if r.OwnerID == "" {
			r.OwnerID = c.AccountID
		}
		if r.State == "" {
			r.State = "active"
		}
	}
	return nil
}

// reservation finds a reservation by ID.
func (c *cloud) reservation(id string) (*CapacityReservationConfig, bool) {
	for i := range c.cfg.CapacityReservations {
		if c.cfg.CapacityReservations[i].ID == id {
			return &c.cfg.CapacityReservations[i], true
		}
	}
	return nil, false
}

// reservationState is the reservation's state now: "expired" once its end date has passed.
func (c *cloud) reservationState(r *CapacityReservationConfig) string {
	if r.State == "active" && r.EndDate != nil && !c.clock.Now().Before(*r.EndDate) {
		return "expired"
	}
	return r.State
}

// reservationUsed counts the live instances launched into the reservation.
func (c *cloud) reservationUsed(id string) int {
	n := 0
	for _, i := range c.instances {
		if i.alive() && i.CapacityReservationID == id {
			n++
		}
	}
	return n
}

// reservationPool checks that a candidate may launch into the reservation its launch template targets and returns
// the room left, or the fleet error EC2 gives.
func (c *cloud) reservationPool(cand *candidate, capacityType string, id string) (int, *fleetError) {
	ferr := func(code, format string, args ...any) *fleetError {
		return &fleetError{Template: cand.template, Override: cand.override, CapacityType: capacityType, Code: code,
			Message: fmt.Sprintf(format, args...)}
	}
	r, ok := c.reservation(id)
	switch {
	case !ok:
		return 0, ferr("InvalidCapacityReservationId.NotFound", "The capacity reservation '%s' does not exist", id)
	case capacityType != "on-demand":
		return 0, ferr("InvalidParameterCombination", "Capacity reservations take on-demand launches only, not %s", capacityType)
	case c.reservationState(r) != "active":
		return 0, ferr("InvalidCapacityReservationId.Malformed", "The capacity reservation '%s' is %s", id, c.reservationState(r))
	case r.InstanceType != cand.it.Name || r.Zone != cand.subnet.Zone:
		return 0, ferr("InvalidParameterValue", "The capacity reservation '%s' holds %s in %s, not %s in %s",
			id, r.InstanceType, r.Zone, cand.it.Name, cand.subnet.Zone)
	}
	return max(0, r.Count-c.reservationUsed(id)), nil
}

// reservationView is a reservation as DescribeCapacityReservations reports it.
type reservationView struct {
	CapacityReservationConfig
	State     string
	Available int
}

func (c *cloud) describeCapacityReservations(in describeInput) ([]reservationView, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := func(r CapacityReservationConfig) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "capacity-reservation-id":
				return []string{r.ID}, true
			case "instance-type":
				return []string{r.InstanceType}, true
			case "availability-zone":
				return []string{r.Zone}, true
			case "owner-id":
				return []string{r.OwnerID}, true
			case "state":
				return []string{c.reservationState(&r)}, true
			case "instance-match-criteria":
				return []string{r.InstanceMatchCriteria}, true
			}
			return tagAttrs(r.Tags, name)
		}
	}
	if err := validateFilters(in.Filters, attrs(CapacityReservationConfig{})); err != nil {
		return nil, "", err
	}
	for _, id := range in.IDs {
		if _, ok := c.reservation(id); !ok {
			return nil, "", errBadRequest("InvalidCapacityReservationId.NotFound", "The capacity reservation ID '%s' does not exist", id)
		}
	}
	var out []reservationView
	for _, r := range c.cfg.CapacityReservations {
		if len(in.IDs) > 0 && !slices.Contains(in.IDs, r.ID) {
			continue
		}
		ok, err := matchFilters(in.Filters, attrs(r))
		if err != nil {
			return nil, "", err
		}
		if ok {
			r.Tags = mergeTags(r.Tags)
			state := c.reservationState(&r)
			avail := max(0, r.Count-c.reservationUsed(r.ID))
			if state != "active" {
				avail = 0
			}
			out = append(out, reservationView{CapacityReservationConfig: r, State: state, Available: avail})
		}
	}
	p, err := paginate("DescribeCapacityReservations", len(out), in.MaxResults, in.NextToken, 1, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	return out[p.start:p.end], p.next, nil
}

type xmlCapacityReservation struct {
	CapacityReservationID  string   `xml:"capacityReservationId"`
	CapacityReservationArn string   `xml:"capacityReservationArn"`
	OwnerID                string   `xml:"ownerId"`
	InstanceType           string   `xml:"instanceType"`
	InstancePlatform       string   `xml:"instancePlatform"`
	AvailabilityZone       string   `xml:"availabilityZone"`
	AvailabilityZoneID     string   `xml:"availabilityZoneId"`
	Tenancy                string   `xml:"tenancy"`
	TotalInstanceCount     int      `xml:"totalInstanceCount"`
	AvailableInstanceCount int      `xml:"availableInstanceCount"`
	InstanceMatchCriteria  string   `xml:"instanceMatchCriteria"`
	State                  string   `xml:"state"`
	EndDateType            string   `xml:"endDateType"`
	EndDate                string   `xml:"endDate,omitempty"`
	ReservationType        string   `xml:"reservationType"`
	Tags                   []xmlTag `xml:"tagSet>item"`
}

type describeCapacityReservationsResponse struct {
	XMLName      xml.Name                 `xml:"DescribeCapacityReservationsResponse"`
	Xmlns        string                   `xml:"xmlns,attr"`
	RequestID    string                   `xml:"requestId"`
	Reservations []xmlCapacityReservation `xml:"capacityReservationSet>item"`
	NextToken    string                   `xml:"nextToken,omitempty"`
}

func describeCapacityReservationsAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("CapacityReservationId")
	if err != nil {
		return nil, err
	}
	list, next, err := c.describeCapacityReservations(in)
	if err != nil {
		return nil, err
	}
	resp := &describeCapacityReservationsResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, r := range list {
		x := xmlCapacityReservation{
			CapacityReservationID:  r.ID,
			CapacityReservationArn: "arn:aws:ec2:" + c.cfg.Region + ":" + r.OwnerID + ":capacity-reservation/" + r.ID,
			OwnerID:                r.OwnerID, InstanceType: r.InstanceType, InstancePlatform: "Linux/UNIX",
			AvailabilityZone: r.Zone, AvailabilityZoneID: c.zoneID(r.Zone), Tenancy: "default",
			TotalInstanceCount: r.Count, AvailableInstanceCount: r.Available,
			InstanceMatchCriteria: r.InstanceMatchCriteria, State: r.State, EndDateType: "unlimited",
			ReservationType: "default", Tags: xmlTags(r.Tags),
		}
		if r.EndDate != nil {
			x.EndDateType, x.EndDate = "limited", ec2Time(*r.EndDate)
		}
		resp.Reservations = append(resp.Reservations, x)
	}
	return resp, nil
}

// reservationCapacityExceeded is the fleet error of a launch into a full reservation.
func reservationCapacityExceeded(p *pool) fleetError {
	return fleetError{Template: p.template, Override: p.override, CapacityType: p.capacityType,
		Code: "ReservationCapacityExceeded", Message: "Insufficient capacity in the capacity reservation " + p.reservationID +
			" (" + strconv.Itoa(p.reservationTotal) + " instances, all in use)"}
}
