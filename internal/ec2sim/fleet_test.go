package ec2sim

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
)

// placement summarises a CreateFleet answer: "type zone capacity-type ×count" per group, and "type zone code" per
// error.
func placement(h *harness, out *ec2.CreateFleetOutput) (launched, errs []string) {
	zoneOf := map[string]string{}
	for zone, id := range h.subnetIDs() {
		zoneOf[id] = zone
	}
	for _, i := range out.Instances {
		o := i.LaunchTemplateAndOverrides.Overrides
		launched = append(launched, fmt.Sprintf("%s %s %s x%d", o.InstanceType, zoneOf[aws.ToString(o.SubnetId)],
			i.Lifecycle, len(i.InstanceIds)))
	}
	for _, e := range out.Errors {
		o := e.LaunchTemplateAndOverrides.Overrides
		errs = append(errs, fmt.Sprintf("%s %s %s", o.InstanceType, zoneOf[aws.ToString(o.SubnetId)], aws.ToString(e.ErrorCode)))
	}
	sort.Strings(launched)
	sort.Strings(errs)
	return launched, errs
}

func TestCreateFleetAllocation(t *testing.T) {
	all := [][2]string{
		{"m5.large", "us-east-1a"}, {"m5.large", "us-east-1b"}, {"m5.large", "us-east-1c"},
		{"m5.xlarge", "us-east-1a"}, {"m5.xlarge", "us-east-1b"},
	}
	tests := []struct {
		name         string
		capacity     []CapacityRule
		faults       []FleetErrorFault
		capacityType string
		count        int32
		overrides    [][2]string
		wantLaunched []string
		wantErrors   []string
	}{
		{
			name: "spot price-capacity-optimized takes the cheapest deep pool", capacityType: "spot", count: 2,
			overrides: all, wantLaunched: []string{"m5.large us-east-1b spot x2"},
		},
		{
			name: "spot skips a pool too shallow for the request", capacityType: "spot", count: 3,
			capacity:     []CapacityRule{{InstanceType: "m5.large", Zone: "us-east-1b", CapacityType: "spot", Capacity: 2}},
			overrides:    all,
			wantLaunched: []string{"m5.large us-east-1a spot x3"},
		},
		{
			name: "on-demand lowest-price", capacityType: "on-demand", count: 2,
			overrides: [][2]string{{"m5.xlarge", "us-east-1a"}, {"m5.large", "us-east-1c"}}, wantLaunched: []string{"m5.large us-east-1c on-demand x2"},
		},
		{
			name: "on-demand spills over when the cheapest pool runs out", capacityType: "on-demand", count: 3,
			capacity:     []CapacityRule{{InstanceType: "m5.large", Capacity: 1}},
			overrides:    [][2]string{{"m5.large", "us-east-1a"}, {"m5.xlarge", "us-east-1a"}},
			wantLaunched: []string{"m5.large us-east-1a on-demand x1", "m5.xlarge us-east-1a on-demand x2"},
			wantErrors:   []string{"m5.large us-east-1a InsufficientInstanceCapacity"},
		},
		{
			name: "empty cheapest pool answers ICE and launches the next", capacityType: "on-demand", count: 1,
			capacity:     []CapacityRule{{InstanceType: "m5.large", Zone: "us-east-1a", Capacity: 0}},
			overrides:    [][2]string{{"m5.large", "us-east-1a"}, {"m5.xlarge", "us-east-1b"}},
			wantLaunched: []string{"m5.xlarge us-east-1b on-demand x1"},
			wantErrors:   []string{"m5.large us-east-1a InsufficientInstanceCapacity"},
		},
		{
			name: "every pool empty", capacityType: "spot", count: 1,
			capacity:   []CapacityRule{{CapacityType: "spot", Capacity: 0}},
			overrides:  [][2]string{{"m5.large", "us-east-1a"}, {"m5.xlarge", "us-east-1b"}},
			wantErrors: []string{"m5.large us-east-1a InsufficientInstanceCapacity", "m5.xlarge us-east-1b InsufficientInstanceCapacity"},
		},
		{
			name: "type not sold as spot is Unsupported", capacityType: "spot", count: 1,
			overrides:    [][2]string{{"p3.2xlarge", "us-east-1a"}, {"m5.large", "us-east-1a"}},
			wantLaunched: []string{"m5.large us-east-1a spot x1"},
			wantErrors:   []string{"p3.2xlarge us-east-1a Unsupported"},
		},
		{
			name: "type not sold in the zone is Unsupported", capacityType: "on-demand", count: 1,
			overrides:  [][2]string{{"t3.micro", "us-east-1b"}},
			wantErrors: []string{"t3.micro us-east-1b Unsupported"},
		},
		{
			name: "architecture must match the image", capacityType: "on-demand", count: 1,
			overrides:    [][2]string{{"c6g.large", "us-east-1a"}, {"m5.large", "us-east-1a"}},
			wantLaunched: []string{"m5.large us-east-1a on-demand x1"},
			wantErrors:   []string{"c6g.large us-east-1a InvalidParameterValue"},
		},
		{
			name: "unknown type", capacityType: "on-demand", count: 1,
			overrides:  [][2]string{{"m99.large", "us-east-1a"}},
			wantErrors: []string{"m99.large us-east-1a InvalidParameterValue"},
		},
		{
			name: "injected InsufficientInstanceCapacity fails the matching override only", capacityType: "spot", count: 1,
			faults:       []FleetErrorFault{{Code: FleetErrorInsufficientCapacity, InstanceType: "m5.large", Zone: "us-east-1b"}},
			overrides:    [][2]string{{"m5.large", "us-east-1b"}, {"m5.xlarge", "us-east-1a"}},
			wantLaunched: []string{"m5.xlarge us-east-1a spot x1"},
			wantErrors:   []string{"m5.large us-east-1b InsufficientInstanceCapacity"},
		},
		{
			name: "injected UnfulfillableCapacity on every override launches nothing", capacityType: "on-demand", count: 1,
			faults:     []FleetErrorFault{{Code: FleetErrorUnfulfillableCapacity, InstanceType: "m5.*"}},
			overrides:  [][2]string{{"m5.large", "us-east-1a"}, {"m5.xlarge", "us-east-1b"}},
			wantErrors: []string{"m5.large us-east-1a UnfulfillableCapacity", "m5.xlarge us-east-1b UnfulfillableCapacity"},
		},
		{
			name: "no spot service-linked role fails every spot override", capacityType: "spot", count: 1,
			faults:    []FleetErrorFault{{Code: FleetErrorSpotServiceLinkedRole}},
			overrides: [][2]string{{"m5.large", "us-east-1a"}, {"m5.xlarge", "us-east-1b"}},
			wantErrors: []string{"m5.large us-east-1a AuthFailure.ServiceLinkedRoleCreationNotPermitted",
				"m5.xlarge us-east-1b AuthFailure.ServiceLinkedRoleCreationNotPermitted"},
		},
		{
			name: "no spot service-linked role leaves on-demand alone", capacityType: "on-demand", count: 1,
			faults:       []FleetErrorFault{{Code: FleetErrorSpotServiceLinkedRole}},
			overrides:    [][2]string{{"m5.large", "us-east-1a"}},
			wantLaunched: []string{"m5.large us-east-1a on-demand x1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.Config = DefaultConfig("tailor"); o.Config.Capacity = tc.capacity })
			if err := h.sim.SetFaults(Faults{FleetErrors: tc.faults}); err != nil {
				t.Fatalf("SetFaults: %v", err)
			}
			lt := h.launchTemplate("lt-default", "x86_64", "")
			out := h.fleet(lt, tc.capacityType, tc.count, tc.overrides...)
			launched, errs := placement(h, out)
			if diff := cmp.Diff(tc.wantLaunched, launched); diff != "" {
				t.Errorf("launched (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErrors, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateFleetRequestErrorsAndIdempotency(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")

	in := h.fleetInput(lt, "on-demand", 2, [2]string{"m5.large", "us-east-1a"})
	in.ClientToken = aws.String("token-1")
	first, err := h.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatalf("CreateFleet: %v", err)
	}
	again, err := h.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatalf("CreateFleet retried: %v", err)
	}
	if diff := cmp.Diff(launchedIDs(first), launchedIDs(again)); diff != "" || len(launchedIDs(first)) != 2 {
		t.Errorf("a retried CreateFleet must answer the same two instances (-first +again):\n%s", diff)
	}
	if n := len(h.sim.Instances()); n != 2 {
		t.Errorf("%d instances exist after a retried CreateFleet, want 2", n)
	}

	tests := []struct {
		name   string
		mutate func(*ec2.CreateFleetInput)
		code   string
	}{
		{"unknown launch template name", func(in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification = &ec2types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateName: aws.String("nope")}
		}, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown launch template id", func(in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].LaunchTemplateSpecification.LaunchTemplateId = aws.String("lt-0123456789abcdef0")
		}, "InvalidLaunchTemplateId.NotFound"},
		{"unknown subnet", func(in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides[0].SubnetId = aws.String("subnet-0123456789abcdef0")
		}, "InvalidSubnetID.NotFound"},
		{"maintain fleets are not simulated", func(in *ec2.CreateFleetInput) { in.Type = ec2types.FleetTypeMaintain }, "InvalidParameterValue"},
		{"zero capacity", func(in *ec2.CreateFleetInput) { in.TargetCapacitySpecification.TotalTargetCapacity = aws.Int32(0) }, "InvalidParameterValue"},
		{"bad spot strategy", func(in *ec2.CreateFleetInput) { in.SpotOptions.AllocationStrategy = "cheapest" }, "InvalidParameterValue"},
		{"unknown image", func(in *ec2.CreateFleetInput) {
			in.LaunchTemplateConfigs[0].Overrides[0].ImageId = aws.String("ami-0123456789abcdef0")
		}, "InvalidAMIID.NotFound"},
		// EC2 refuses spot request tags on a fleet that creates no spot request.
		{"spot request tags on an on-demand fleet", func(in *ec2.CreateFleetInput) {
			in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{
				ResourceType: ec2types.ResourceTypeSpotInstancesRequest,
				Tags:         []ec2types.Tag{{Key: aws.String("tailor.sh/cluster"), Value: aws.String("tailor")}},
			})
		}, "InvalidParameterCombination"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := h.fleetInput(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"})
			tc.mutate(in)
			_, err := h.ec2.CreateFleet(ctx, in)
			if got := errorCode(err); got != tc.code {
				t.Errorf("code %q, want %q (%v)", got, tc.code, err)
			}
		})
	}
}

func TestCreateFleetSpotRequestTagsOnSpotFleet(t *testing.T) {
	h := newHarness(t, nil)
	lt := h.launchTemplate("lt-default", "x86_64", "")
	in := h.fleetInput(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"})
	in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{
		ResourceType: ec2types.ResourceTypeSpotInstancesRequest,
		Tags:         []ec2types.Tag{{Key: aws.String("tailor.sh/cluster"), Value: aws.String("tailor")}},
	})
	out, err := h.ec2.CreateFleet(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateFleet of spot with spot request tags: %v", err)
	}
	if len(launchedIDs(out)) != 1 {
		t.Errorf("launched %v, want one spot instance", launchedIDs(out))
	}
}

func TestFleetErrorFaultValidation(t *testing.T) {
	for _, f := range []FleetErrorFault{
		{Code: "SpotMaxPriceTooLow"},
		{Code: FleetErrorSpotServiceLinkedRole, CapacityType: "on-demand"},
		{Code: FleetErrorUnfulfillableCapacity, CapacityType: "reserved"},
	} {
		if err := (Faults{FleetErrors: []FleetErrorFault{f}}).Validate(); err == nil {
			t.Errorf("fault %+v validated, want an error", f)
		}
	}
}

func TestDescribeInstancesFiltersAndPagination(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")
	spot := launchedIDs(h.fleet(lt, "spot", 7, [2]string{"m5.large", "us-east-1b"}))
	onDemand := launchedIDs(h.fleet(lt, "on-demand", 5, [2]string{"m5.xlarge", "us-east-1a"}))
	if _, err := h.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: onDemand[:2],
		Tags: []ec2types.Tag{{Key: aws.String("tailor.sh/nodeclaim"), Value: aws.String("default-abcde")}}}); err != nil {
		t.Fatalf("CreateTags: %v", err)
	}
	if _, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: spot[:1]}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	describe := func(in *ec2.DescribeInstancesInput) ([]string, error) {
		var ids []string
		p := ec2.NewDescribeInstancesPaginator(h.ec2, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, r := range out.Reservations {
				for _, i := range r.Instances {
					ids = append(ids, aws.ToString(i.InstanceId))
				}
			}
		}
		return ids, nil
	}
	filter := func(name string, values ...string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String(name), Values: values}
	}
	all := append(slices.Clone(spot), onDemand...)
	tests := []struct {
		name string
		in   *ec2.DescribeInstancesInput
		want []string
		code string
	}{
		{"paginated by 5", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)}, all, ""},
		{"tag value", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("tag:tailor.sh/nodeclaim", "default-abcde")}}, onDemand[:2], ""},
		{"tag value wildcard", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("tag:tailor.sh/nodeclaim", "default-*")}}, onDemand[:2], ""},
		{"tag-key", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("tag-key", "tailor.sh/nodepool")}}, all, ""},
		{"tag from the launch template", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("tag:from-template", "lt-default")}}, all, ""},
		{"state", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("instance-state-name", "shutting-down", "terminated")}}, spot[:1], ""},
		{"state and type", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			filter("instance-state-name", "pending", "running"), filter("instance-type", "m5.large")}}, spot[1:], ""},
		{"instance-id filter", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("instance-id", onDemand[4], spot[3])}}, []string{spot[3], onDemand[4]}, ""},
		{"instance ids", &ec2.DescribeInstancesInput{InstanceIds: []string{onDemand[1], spot[0]}}, []string{spot[0], onDemand[1]}, ""},
		{"lifecycle spot", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("instance-lifecycle", "spot")}}, spot, ""},
		{"ids and MaxResults", &ec2.DescribeInstancesInput{InstanceIds: spot[:1], MaxResults: aws.Int32(5)}, nil, "InvalidParameterCombination"},
		{"MaxResults too small", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(2)}, nil, "InvalidParameterValue"},
		{"unknown id", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}}, nil, "InvalidInstanceID.NotFound"},
		{"malformed id", &ec2.DescribeInstancesInput{InstanceIds: []string{"instance-1"}}, nil, "InvalidInstanceID.Malformed"},
		{"unknown filter", &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("colour", "red")}}, nil, "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := describe(tc.in)
			if code := errorCode(err); code != tc.code {
				t.Fatalf("code %q, want %q (%v)", code, tc.code, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
		})
	}

	page, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	if err != nil || page.NextToken == nil || len(page.Reservations) != 5 {
		t.Errorf("first page: %d reservations, next token %v, err %v; want 5 and a token", len(page.Reservations), page.NextToken, err)
	}
}

func TestInstanceShape(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")
	id := launchedIDs(h.fleet(lt, "spot", 1, [2]string{"m5.large", "us-east-1c"}))[0]
	out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	i := out.Reservations[0].Instances[0]
	got := map[string]string{
		"type": string(i.InstanceType), "zone": aws.ToString(i.Placement.AvailabilityZone), "state": string(i.State.Name),
		"lifecycle": string(i.InstanceLifecycle), "ip": aws.ToString(i.PrivateIpAddress), "dns": aws.ToString(i.PrivateDnsName),
		"subnet": aws.ToString(i.SubnetId), "arch": string(i.Architecture), "image": aws.ToString(i.ImageId),
		"group": aws.ToString(i.SecurityGroups[0].GroupId), "nodepool": tagValue(i.Tags, "tailor.sh/nodepool"),
		"launch": i.LaunchTime.UTC().Format(time.RFC3339),
	}
	want := map[string]string{
		"type": "m5.large", "zone": "us-east-1c", "state": "pending", "lifecycle": "spot", "ip": "10.0.32.4",
		"dns": "ip-10-0-32-4.ec2.internal", "subnet": h.subnetIDs()["us-east-1c"], "arch": "x86_64",
		"image": h.sim.cloud.cfg.Parameters["/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id"],
		"group": h.sim.cloud.cfg.SecurityGroups[0].ID, "nodepool": "default", "launch": t0.Format(time.RFC3339),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
}

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func TestInstanceLifecycleAndTags(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")
	ids := launchedIDs(h.fleet(lt, "on-demand", 2, [2]string{"m5.large", "us-east-1a"}))
	state := func() []string {
		out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		var s []string
		for _, r := range out.Reservations {
			s = append(s, string(r.Instances[0].State.Name))
		}
		return s
	}
	if diff := cmp.Diff([]string{"pending", "pending"}, state()); diff != "" {
		t.Errorf("at launch (-want +got):\n%s", diff)
	}
	h.step(2 * time.Second)
	if diff := cmp.Diff([]string{"running", "running"}, state()); diff != "" {
		t.Errorf("after the launch latency (-want +got):\n%s", diff)
	}
	term, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
	if err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	c := term.TerminatingInstances[0]
	if c.PreviousState.Name != ec2types.InstanceStateNameRunning || c.CurrentState.Name != ec2types.InstanceStateNameShuttingDown ||
		aws.ToInt32(c.CurrentState.Code) != 32 {
		t.Errorf("terminate answered %s → %s (%d), want running → shutting-down (32)", c.PreviousState.Name, c.CurrentState.Name, aws.ToInt32(c.CurrentState.Code))
	}
	h.step(3 * time.Second)
	if diff := cmp.Diff([]string{"terminated", "running"}, state()); diff != "" {
		t.Errorf("after the terminate latency (-want +got):\n%s", diff)
	}
	again, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids[:1]})
	if err != nil || again.TerminatingInstances[0].CurrentState.Name != ec2types.InstanceStateNameTerminated {
		t.Errorf("terminating a terminated instance: %v %+v", err, again)
	}
	_, err = h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	if got := errorCode(err); got != "InvalidInstanceID.NotFound" {
		t.Errorf("terminating an unknown instance: code %q", got)
	}
	h.step(time.Hour)
	out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || len(out.Reservations) != 1 || aws.ToString(out.Reservations[0].Instances[0].InstanceId) != ids[1] {
		t.Errorf("after the retention only %s should be listed: %v %+v", ids[1], err, out)
	}

	for _, tc := range []struct {
		name string
		in   *ec2.CreateTagsInput
		code string
	}{
		{"reserved prefix", &ec2.CreateTagsInput{Resources: ids[1:], Tags: []ec2types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}}, "InvalidParameterValue"},
		{"unknown instance", &ec2.CreateTagsInput{Resources: []string{"i-0123456789abcdef0"}, Tags: []ec2types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}, "InvalidInstanceID.NotFound"},
		{"launch template", &ec2.CreateTagsInput{Resources: []string{lt}, Tags: []ec2types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}, ""},
		{"unknown kind", &ec2.CreateTagsInput{Resources: []string{"vol-1"}, Tags: []ec2types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}, "InvalidID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.ec2.CreateTags(ctx, tc.in)
			if got := errorCode(err); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	run := func(seed uint64) []string {
		h := newHarness(t, func(o *Options) { o.Seed = seed })
		lt := h.launchTemplate("lt-default", "x86_64", "")
		out := h.fleet(lt, "spot", 3, [2]string{"m5.large", "us-east-1a"}, [2]string{"m5.large", "us-east-1b"})
		var got []string
		for _, i := range h.sim.Instances() {
			got = append(got, i.ID+" "+i.Zone+" "+i.PrivateIP)
		}
		return append(got, aws.ToString(out.FleetId), lt)
	}
	first, second, other := run(7), run(7), run(8)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("same seed, different results (-first +second):\n%s", diff)
	}
	if cmp.Equal(first, other) {
		t.Errorf("different seeds gave the same IDs: %v", first)
	}
}
