package ec2sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// reservationHarness sells two reservations of m5.large in us-east-1a (cr-0a: 2, tagged team=a; cr-0b: 1, expired
// an hour after t0) and one of m5.xlarge in us-east-1b owned by another account (cr-0c, open).
func reservationHarness(t *testing.T) *harness {
	t.Helper()
	end := t0.Add(time.Hour)
	return newHarness(t, func(o *Options) {
		o.Config = DefaultConfig("tailor")
		o.Config.CapacityReservations = []CapacityReservationConfig{
			{ID: "cr-0a", InstanceType: "m5.large", Zone: "us-east-1a", Count: 2, Tags: map[string]string{"team": "a"}},
			{ID: "cr-0b", InstanceType: "m5.large", Zone: "us-east-1a", Count: 1, EndDate: &end},
			{ID: "cr-0c", InstanceType: "m5.xlarge", Zone: "us-east-1b", Count: 1, OwnerID: "210987654321", InstanceMatchCriteria: "open"},
		}
	})
}

func (h *harness) reservations(in *ec2.DescribeCapacityReservationsInput) []string {
	h.t.Helper()
	out, err := h.ec2.DescribeCapacityReservations(h.t.Context(), in)
	if err != nil {
		h.t.Fatalf("DescribeCapacityReservations: %v", err)
	}
	var got []string
	for _, r := range out.CapacityReservations {
		got = append(got, strings.Join([]string{aws.ToString(r.CapacityReservationId), aws.ToString(r.InstanceType),
			aws.ToString(r.AvailabilityZone), string(r.State), string(r.InstanceMatchCriteria), aws.ToString(r.OwnerId),
			fmt.Sprintf("%d/%d", aws.ToInt32(r.AvailableInstanceCount), aws.ToInt32(r.TotalInstanceCount))}, " "))
	}
	return got
}

func TestDescribeCapacityReservationsFilters(t *testing.T) {
	h := reservationHarness(t)
	filter := func(name string, values ...string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String(name), Values: values}
	}
	tests := []struct {
		name string
		in   *ec2.DescribeCapacityReservationsInput
		want []string
	}{
		{"all", &ec2.DescribeCapacityReservationsInput{}, []string{
			"cr-0a m5.large us-east-1a active targeted 123456789012 2/2",
			"cr-0b m5.large us-east-1a active targeted 123456789012 1/1",
			"cr-0c m5.xlarge us-east-1b active open 210987654321 1/1"}},
		{"by id", &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{"cr-0c"}}, []string{
			"cr-0c m5.xlarge us-east-1b active open 210987654321 1/1"}},
		{"by tag and state", &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{filter("tag:team", "a"), filter("state", "active")}}, []string{
			"cr-0a m5.large us-east-1a active targeted 123456789012 2/2"}},
		{"by owner", &ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{filter("owner-id", "210987654321")}}, []string{
			"cr-0c m5.xlarge us-east-1b active open 210987654321 1/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, h.reservations(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	_, err := h.ec2.DescribeCapacityReservations(t.Context(), &ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{"cr-0nope"}})
	if code := errorCode(err); code != "InvalidCapacityReservationId.NotFound" {
		t.Errorf("unknown id: %q, want InvalidCapacityReservationId.NotFound", code)
	}
	// Past its end date a reservation is expired, with nothing available, and the state=active filter drops it.
	h.step(2 * time.Hour)
	got := h.reservations(&ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{"cr-0b"}})
	if diff := cmp.Diff([]string{"cr-0b m5.large us-east-1a expired targeted 123456789012 0/1"}, got); diff != "" {
		t.Errorf("expired reservation (-want +got):\n%s", diff)
	}
	if got := h.reservations(&ec2.DescribeCapacityReservationsInput{Filters: []ec2types.Filter{filter("state", "active"), filter("instance-type", "m5.large")}}); len(got) != 1 {
		t.Errorf("active m5.large reservations after cr-0b expired: %v, want cr-0a only", got)
	}
}

// A launch template targeting a reservation launches into it until it is full (ReservationCapacityExceeded), and a
// terminated instance gives its slot back.
func TestCreateFleetIntoReservation(t *testing.T) {
	h := reservationHarness(t)
	ctx := t.Context()
	lt, err := h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("reserved"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId: aws.String("resolve:ssm:/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id"),
			CapacityReservationSpecification: &ec2types.LaunchTemplateCapacityReservationSpecificationRequest{
				CapacityReservationTarget: &ec2types.CapacityReservationTarget{CapacityReservationId: aws.String("cr-0a")},
			},
		},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate: %v", err)
	}
	ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	out := h.fleet(ltID, "on-demand", 3, [2]string{"m5.large", "us-east-1a"})
	launched, errs := placement(h, out)
	if diff := cmp.Diff([]string{"m5.large us-east-1a on-demand x2"}, launched); diff != "" {
		t.Errorf("launched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"m5.large us-east-1a ReservationCapacityExceeded"}, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	ids := launchedIDs(out)
	desc, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	if got := aws.ToString(desc.Reservations[0].Instances[0].CapacityReservationId); got != "cr-0a" {
		t.Errorf("instance's capacityReservationId = %q, want cr-0a", got)
	}
	if got := h.reservations(&ec2.DescribeCapacityReservationsInput{CapacityReservationIds: []string{"cr-0a"}}); got[0][len(got[0])-3:] != "0/2" {
		t.Errorf("after two launches: %v, want 0/2 available", got)
	}
	// Full: the next launch fails, and the wrong type for the reservation is refused.
	_, errs = placement(h, h.fleet(ltID, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))
	if diff := cmp.Diff([]string{"m5.large us-east-1a ReservationCapacityExceeded"}, errs); diff != "" {
		t.Errorf("launch into the full reservation (-want +got):\n%s", diff)
	}
	_, errs = placement(h, h.fleet(ltID, "on-demand", 1, [2]string{"m5.xlarge", "us-east-1a"}))
	if diff := cmp.Diff([]string{"m5.xlarge us-east-1a InvalidParameterValue"}, errs); diff != "" {
		t.Errorf("launch of another type into the reservation (-want +got):\n%s", diff)
	}
	// Terminating one instance frees a slot.
	if _, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	h.step(10 * time.Second)
	launched, errs = placement(h, h.fleet(ltID, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))
	if len(launched) != 1 || len(errs) != 0 {
		t.Errorf("after a termination: launched %v, errors %v; want one launch", launched, errs)
	}
}
