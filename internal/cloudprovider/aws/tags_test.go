package aws

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// TestLaunchTagsWhatThePolicyRequires checks CreateFleet's tag specifications against docs/aws-iam.md, which requires
// the cluster tag in the request on the fleet, instance, volume and network interface, and on the spot instance
// request of spot launches; EC2 refuses a spot-instances-request tag specification on an on-demand fleet.
func TestLaunchTagsWhatThePolicyRequires(t *testing.T) {
	for capacityType, want := range map[string][]ec2types.ResourceType{
		"spot": {ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeNetworkInterface,
			ec2types.ResourceTypeSpotInstancesRequest, ec2types.ResourceTypeVolume},
		"on-demand": {ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeNetworkInterface,
			ec2types.ResourceTypeVolume},
	} {
		t.Run(capacityType, func(t *testing.T) {
			api := &fakeEC2{fleetOut: launchFirst}
			p := unitProvider(t, api)
			nc := readyNodeClass()
			types := unitTypes(2)
			if capacityType == "on-demand" {
				for _, it := range types {
					for _, o := range it.Offerings {
						if o.CapacityType == "spot" {
							p.unavailable.MarkUnavailable(it.Name, o.Zone, o.CapacityType)
						}
					}
				}
			}
			options := p.launchOptions(testNodeClaim("nc-1", "1"), nc, types)
			if len(options) == 0 || options[0].offering.CapacityType != capacityType {
				t.Fatalf("options = %+v, want %s ones", options, capacityType)
			}
			if _, _, err := p.launch(t.Context(), testNodeClaim("nc-1", "1"), nc, options); err != nil {
				t.Fatalf("launch: %v", err)
			}
			var got []ec2types.ResourceType
			for _, spec := range api.fleets[0].TagSpecifications {
				got = append(got, spec.ResourceType)
				if tags := fromEC2Tags(spec.Tags); tags[TagCluster] != "unit" {
					t.Errorf("%s tagged %s=%q, want %q", spec.ResourceType, TagCluster, tags[TagCluster], "unit")
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tagged resource types (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLaunchUnauthorizedIsNotHiddenAsCapacity: a fleet whose overrides failed partly for capacity and partly because
// IAM refused the launch is an authorization problem to report, not a capacity shortage to retry elsewhere.
func TestLaunchUnauthorizedIsNotHiddenAsCapacity(t *testing.T) {
	api := &fakeEC2{fleetOut: func(in *ec2.CreateFleetInput) *ec2.CreateFleetOutput {
		var errs []ec2types.CreateFleetError
		for i, ov := range in.LaunchTemplateConfigs[0].Overrides {
			code := "InsufficientInstanceCapacity"
			if i > 0 {
				code = "UnauthorizedOperation"
			}
			errs = append(errs, ec2types.CreateFleetError{ErrorCode: aws.String(code), ErrorMessage: aws.String("no"),
				LaunchTemplateAndOverrides: &ec2types.LaunchTemplateAndOverridesResponse{Overrides: &ec2types.FleetLaunchTemplateOverrides{
					InstanceType: ov.InstanceType, SubnetId: ov.SubnetId, AvailabilityZone: ov.AvailabilityZone}}})
		}
		return &ec2.CreateFleetOutput{Errors: errs}
	}}
	p := unitProvider(t, api)
	nc := readyNodeClass()
	claim := testNodeClaim("nc-1", "1")
	_, _, err := p.launch(t.Context(), claim, nc, p.launchOptions(claim, nc, unitTypes(2)))
	if err == nil || cloudprovider.IsInsufficientCapacityError(err) || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("launch = %v, want an error naming UnauthorizedOperation", err)
	}
}
