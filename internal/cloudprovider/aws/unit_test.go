package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// fakeEC2 implements the calls a test needs; any other call panics on the nil embedded interface.
type fakeEC2 struct {
	EC2API
	mu          sync.Mutex
	templates   []*ec2.CreateLaunchTemplateInput
	fleets      []*ec2.CreateFleetInput
	fleetOut    func(in *ec2.CreateFleetInput) *ec2.CreateFleetOutput
	instances   []ec2types.Instance
	terminated  []string
	describeErr error
}

func (f *fakeEC2) DescribeLaunchTemplates(_ context.Context, in *ec2.DescribeLaunchTemplatesInput, _ ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.templates {
		if aws.ToString(t.LaunchTemplateName) == in.LaunchTemplateNames[0] {
			return &ec2.DescribeLaunchTemplatesOutput{LaunchTemplates: []ec2types.LaunchTemplate{{
				LaunchTemplateName: t.LaunchTemplateName, LaunchTemplateId: aws.String("lt-" + aws.ToString(t.LaunchTemplateName)),
			}}}, nil
		}
	}
	return nil, &smithy.GenericAPIError{Code: "InvalidLaunchTemplateName.NotFoundException", Message: "not found"}
}

func (f *fakeEC2) CreateLaunchTemplate(_ context.Context, in *ec2.CreateLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.templates = append(f.templates, in)
	return &ec2.CreateLaunchTemplateOutput{LaunchTemplate: &ec2types.LaunchTemplate{LaunchTemplateId: aws.String("lt-" + aws.ToString(in.LaunchTemplateName))}}, nil
}

func (f *fakeEC2) CreateFleet(_ context.Context, in *ec2.CreateFleetInput, _ ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fleets = append(f.fleets, in)
	return f.fleetOut(in), nil
}

func (f *fakeEC2) DescribeInstances(_ context.Context, _ *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	return &ec2.DescribeInstancesOutput{Reservations: []ec2types.Reservation{{Instances: f.instances}}}, nil
}

func (f *fakeEC2) TerminateInstances(_ context.Context, in *ec2.TerminateInstancesInput, _ ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	f.terminated = append(f.terminated, in.InstanceIds...)
	return &ec2.TerminateInstancesOutput{}, nil
}

// launchFirst answers CreateFleet with the first override launched.
func launchFirst(in *ec2.CreateFleetInput) *ec2.CreateFleetOutput {
	ov := in.LaunchTemplateConfigs[0].Overrides[0]
	return &ec2.CreateFleetOutput{Instances: []ec2types.CreateFleetInstance{{
		InstanceIds: []string{"i-0123456789abcdef0"},
		Lifecycle:   ec2types.InstanceLifecycle(in.TargetCapacitySpecification.DefaultTargetCapacityType),
		LaunchTemplateAndOverrides: &ec2types.LaunchTemplateAndOverridesResponse{Overrides: &ec2types.FleetLaunchTemplateOverrides{
			InstanceType: ov.InstanceType, SubnetId: ov.SubnetId, AvailabilityZone: ov.AvailabilityZone,
		}},
	}}}
}

func unitProvider(t *testing.T, api *fakeEC2) *Provider {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options{Region: "us-east-1", ClusterName: "unit", ClusterCABundle: testCABundle(t)}
	if err := opts.Complete(); err != nil {
		t.Fatal(err)
	}
	return &Provider{
		opts: opts, ec2: api, clk: clk,
		unavailable: NewUnavailableOfferings(clk, time.Minute),
		templates:   &launchTemplates{ec2: api, clk: clk, byName: map[string]string{}, usedAt: map[string]time.Time{}},
	}
}

func readyNodeClass() *apiv1.EC2NodeClass {
	nc := nodeClass("default")
	nc.Status = apiv1.EC2NodeClassStatus{
		Subnets:         []apiv1.Subnet{{ID: "subnet-a", Zone: "us-east-1a"}, {ID: "subnet-b", Zone: "us-east-1b"}},
		SecurityGroups:  []apiv1.SecurityGroup{{ID: "sg-2"}, {ID: "sg-1"}},
		AMIs:            []apiv1.AMI{{ID: "ami-x86", Requirements: []corev1.NodeSelectorRequirement{{Key: apiv1.ArchLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}}}},
		InstanceProfile: "tailor-node",
	}
	return nc
}

// unitTypes are n amd64 types with spot offerings in two zones, priced by index, and one on-demand offering each.
func unitTypes(n int) []*cloudprovider.InstanceType {
	var out []*cloudprovider.InstanceType
	for i := range n {
		shape := catalog.InstanceType{Name: fmt.Sprintf("m%d.large", i+1), Arch: "amd64", CPU: 2, MemoryMiB: 8192, Pods: 29}
		it := shape.ToInstanceType("us-east-1", catalog.Options{})
		it.Offerings = []cloudprovider.Offering{
			{Zone: "us-east-1a", CapacityType: "spot", PricePerHour: 0.01 * float64(n-i), Available: true},
			{Zone: "us-east-1b", CapacityType: "spot", PricePerHour: 0.01*float64(n-i) + 0.001, Available: true},
			{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 1, Available: true},
		}
		out = append(out, it)
	}
	return out
}

func TestLaunchRequestShape(t *testing.T) {
	api := &fakeEC2{fleetOut: launchFirst}
	p := unitProvider(t, api)
	nc := readyNodeClass()
	claim := testNodeClaim("nc-1", "1")
	claim.Spec.StartupTaints = []corev1.Taint{{Key: "cni-not-ready", Effect: corev1.TaintEffectNoSchedule}}
	options := p.launchOptions(claim, nc, unitTypes(40))
	if len(options) != maxFleetOverrides {
		t.Fatalf("%d launch options from 80 spot offerings, want the %d cheapest", len(options), maxFleetOverrides)
	}
	for i := 1; i < len(options); i++ {
		if options[i].offering.PricePerHour < options[i-1].offering.PricePerHour {
			t.Fatalf("options not cheapest first at %d", i)
		}
		if options[i].offering.CapacityType != "spot" {
			t.Fatalf("option %d is %s; spot is allowed so only spot is asked for", i, options[i].offering.CapacityType)
		}
	}
	got, _, err := p.launch(t.Context(), claim, nc, options)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	if got.Status.ProviderID != "aws:///us-east-1a/i-0123456789abcdef0" || got.Labels[apiv1.InstanceTypeLabelKey] != "m40.large" {
		t.Errorf("launched %s as %s, want m40.large (the cheapest) in us-east-1a", got.Labels[apiv1.InstanceTypeLabelKey], got.Status.ProviderID)
	}

	if len(api.templates) != 1 {
		t.Fatalf("%d launch templates created, want 1 (one AMI, one kubelet shape)", len(api.templates))
	}
	lt := api.templates[0].LaunchTemplateData
	if lt.MetadataOptions.HttpTokens != ec2types.LaunchTemplateHttpTokensStateRequired || aws.ToInt32(lt.MetadataOptions.HttpPutResponseHopLimit) != 1 {
		t.Errorf("metadata options = %+v, want IMDSv2 required with hop limit 1", lt.MetadataOptions)
	}
	if diff := cmp.Diff([]string{"sg-1", "sg-2"}, lt.SecurityGroupIds); diff != "" {
		t.Errorf("security groups (-want +got):\n%s", diff)
	}
	if aws.ToString(lt.ImageId) != "ami-x86" || aws.ToString(lt.IamInstanceProfile.Name) != "tailor-node" {
		t.Errorf("image %s, profile %s", aws.ToString(lt.ImageId), aws.ToString(lt.IamInstanceProfile.Name))
	}
	if len(lt.BlockDeviceMappings) != 1 || aws.ToString(lt.BlockDeviceMappings[0].DeviceName) != "/dev/xvda" ||
		aws.ToInt32(lt.BlockDeviceMappings[0].Ebs.VolumeSize) != 20 || !aws.ToBool(lt.BlockDeviceMappings[0].Ebs.Encrypted) {
		t.Errorf("block devices = %+v, want an encrypted 20GiB root volume on /dev/xvda", lt.BlockDeviceMappings)
	}
	ud, err := base64.StdEncoding.DecodeString(aws.ToString(lt.UserData))
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	for _, want := range []string{"kind: NodeConfig", "--node-labels=tailor.sh/nodepool=default,team=a", "maxPods: 29",
		"key: dedicated", "key: cni-not-ready", "certificateAuthority: " + p.opts.ClusterCABundle} {
		if !strings.Contains(string(ud), want) {
			t.Errorf("user data lacks %q:\n%s", want, ud)
		}
	}

	fleet := api.fleets[0]
	if fleet.Type != ec2types.FleetTypeInstant || fleet.SpotOptions.AllocationStrategy != ec2types.SpotAllocationStrategyPriceCapacityOptimized ||
		fleet.OnDemandOptions.AllocationStrategy != ec2types.FleetOnDemandAllocationStrategyLowestPrice ||
		fleet.TargetCapacitySpecification.DefaultTargetCapacityType != ec2types.DefaultTargetCapacityTypeSpot {
		t.Errorf("fleet request = %+v", fleet)
	}
	if n := len(fleet.LaunchTemplateConfigs[0].Overrides); n != maxFleetOverrides {
		t.Errorf("%d overrides, want %d", n, maxFleetOverrides)
	}
	tags := fromEC2Tags(fleet.TagSpecifications[0].Tags)
	for k, v := range map[string]string{TagCluster: "unit", "kubernetes.io/cluster/unit": "owned", TagNodeClaim: "nc-1", TagNodePool: "default", TagName: "nc-1"} {
		if tags[k] != v {
			t.Errorf("instance tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if fleet.ClientToken == nil || len(*fleet.ClientToken) == 0 {
		t.Errorf("CreateFleet without a client token")
	}
}

func TestLaunchOptionsFallBackToOnDemand(t *testing.T) {
	p := unitProvider(t, &fakeEC2{})
	nc := readyNodeClass()
	types := unitTypes(1)
	claim := testNodeClaim("nc-1", "1")
	p.unavailable.MarkUnavailable("m1.large", "us-east-1a", "spot")
	p.unavailable.MarkUnavailable("m1.large", "us-east-1b", "spot")
	options := p.launchOptions(claim, nc, types)
	if len(options) != 1 || options[0].offering.CapacityType != "on-demand" {
		t.Fatalf("options = %+v, want the on-demand offering once spot is out", options)
	}
	tooBig := testNodeClaim("nc-2", "3")
	if got := p.launchOptions(tooBig, nc, types); len(got) != 0 {
		t.Errorf("%d options for a NodeClaim no type fits", len(got))
	}
	arm := testNodeClaim("nc-3", "1", requirement(apiv1.ArchLabelKey, corev1.NodeSelectorOpIn, "arm64"))
	if got := p.launchOptions(arm, nc, types); len(got) != 0 {
		t.Errorf("%d options for arm64 with only amd64 types", len(got))
	}
}

func TestRecordFleetErrors(t *testing.T) {
	p := unitProvider(t, &fakeEC2{})
	errs := []ec2types.CreateFleetError{
		{ErrorCode: aws.String("InsufficientInstanceCapacity"), Lifecycle: ec2types.InstanceLifecycleSpot,
			LaunchTemplateAndOverrides: &ec2types.LaunchTemplateAndOverridesResponse{Overrides: &ec2types.FleetLaunchTemplateOverrides{
				InstanceType: "m5.large", SubnetId: aws.String("subnet-a"), AvailabilityZone: aws.String("us-east-1a")}}},
		{ErrorCode: aws.String("InvalidParameterValue"), ErrorMessage: aws.String("bad"),
			LaunchTemplateAndOverrides: &ec2types.LaunchTemplateAndOverridesResponse{Overrides: &ec2types.FleetLaunchTemplateOverrides{
				InstanceType: "c5.large", SubnetId: aws.String("subnet-b")}}},
	}
	failed, other := p.recordFleetErrors(t.Context(), errs, map[[2]string]launchOption{}, "spot")
	if diff := cmp.Diff([]string{"m5.large/us-east-1a/spot (InsufficientInstanceCapacity)"}, failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if len(other) != 1 || !strings.Contains(other[0], "InvalidParameterValue") {
		t.Errorf("other = %v", other)
	}
	if !p.unavailable.IsUnavailable("m5.large", "us-east-1a", "spot") || p.unavailable.IsUnavailable("c5.large", "us-east-1b", "spot") {
		t.Errorf("only the capacity error should mark its pool unavailable")
	}
}

func TestLaunchWithOnlyNonCapacityErrorsIsNotInsufficientCapacity(t *testing.T) {
	api := &fakeEC2{fleetOut: func(in *ec2.CreateFleetInput) *ec2.CreateFleetOutput {
		return &ec2.CreateFleetOutput{Errors: []ec2types.CreateFleetError{{ErrorCode: aws.String("UnauthorizedOperation"), ErrorMessage: aws.String("denied")}}}
	}}
	p := unitProvider(t, api)
	nc := readyNodeClass()
	claim := testNodeClaim("nc-1", "1")
	_, _, err := p.launch(t.Context(), claim, nc, p.launchOptions(claim, nc, unitTypes(1)))
	if err == nil || cloudprovider.IsInsufficientCapacityError(err) || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Errorf("launch = %v, want a plain error naming UnauthorizedOperation", err)
	}
}

func TestDeleteRefusesForeignInstance(t *testing.T) {
	tests := []struct {
		name           string
		tags           map[string]string
		state          ec2types.InstanceStateName
		wantTerminated bool
		wantNotFound   bool
		wantNotOwned   bool
	}{
		{name: "own running", tags: map[string]string{TagCluster: "unit"}, state: "running", wantTerminated: true},
		{name: "owned tag of kubernetes only", tags: map[string]string{"kubernetes.io/cluster/unit": "owned"}, state: "running", wantNotOwned: true},
		{name: "other cluster", tags: map[string]string{TagCluster: "other"}, state: "running", wantNotOwned: true},
		{name: "own shutting down", tags: map[string]string{TagCluster: "unit"}, state: "shutting-down"},
		{name: "own terminated", tags: map[string]string{TagCluster: "unit"}, state: "terminated", wantNotFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeEC2{instances: []ec2types.Instance{{InstanceId: aws.String("i-1"), Tags: toEC2Tags(tt.tags), State: &ec2types.InstanceState{Name: tt.state}}}}
			p := unitProvider(t, api)
			claim := testNodeClaim("nc-1", "1")
			claim.Status.ProviderID = "aws:///us-east-1a/i-1"
			err := p.Delete(t.Context(), claim)
			if got := errors.Is(err, ErrNotOwned); got != tt.wantNotOwned {
				t.Errorf("Delete = %v; not owned %v, want %v", err, got, tt.wantNotOwned)
			}
			if got := cloudprovider.IsNodeClaimNotFoundError(err); got != tt.wantNotFound {
				t.Errorf("Delete = %v; not found %v, want %v", err, got, tt.wantNotFound)
			}
			if got := len(api.terminated) > 0; got != tt.wantTerminated {
				t.Errorf("terminated = %v, want %v", api.terminated, tt.wantTerminated)
			}
		})
	}
}

func TestParseProviderID(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "aws:///us-east-1a/i-0123456789abcdef0", want: "i-0123456789abcdef0"},
		{in: "aws:///i-0abc", want: "i-0abc"},
		{in: "gce:///zone/i-1", wantErr: true},
		{in: "aws:///us-east-1a/", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseProviderID(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseProviderID(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseEvent(t *testing.T) {
	ec2Event := func(detailType, detail string) string {
		return `{"version":"0","id":"e-1","detail-type":"` + detailType + `","source":"aws.ec2","time":"2026-03-02T10:00:00Z","detail":` + detail + `}`
	}
	tests := []struct {
		name        string
		body        string
		want        Event
		wantErr     string
		unsupported bool
	}{
		{name: "spot interruption", body: ec2Event("EC2 Spot Instance Interruption Warning", `{"instance-id":"i-1","instance-action":"terminate"}`),
			want: Event{Kind: EventSpotInterruption, InstanceIDs: []string{"i-1"}, Action: "terminate"}},
		{name: "rebalance", body: ec2Event("EC2 Instance Rebalance Recommendation", `{"instance-id":"i-2"}`),
			want: Event{Kind: EventRebalanceRecommendation, InstanceIDs: []string{"i-2"}}},
		{name: "state change", body: ec2Event("EC2 Instance State-change Notification", `{"instance-id":"i-3","state":"stopping"}`),
			want: Event{Kind: EventStateChange, InstanceIDs: []string{"i-3"}, State: "stopping"}},
		{name: "scheduled change", body: `{"id":"e-1","detail-type":"AWS Health Event","source":"aws.health","time":"2026-03-02T10:00:00Z","detail":{"service":"EC2","eventTypeCategory":"scheduledChange","eventTypeCode":"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED","affectedEntities":[{"entityValue":"i-4"},{"entityValue":"i-5"}]}}`,
			want: Event{Kind: EventScheduledChange, InstanceIDs: []string{"i-4", "i-5"}, EventTypeCode: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"}},
		{name: "not json", body: `{oops`, wantErr: "decoding event"},
		{name: "not an event", body: `{"hello":"world"}`, wantErr: "not an EventBridge event"},
		{name: "state change without state", body: ec2Event("EC2 Instance State-change Notification", `{"instance-id":"i-3"}`), wantErr: "detail.state is empty"},
		{name: "bad instance id", body: ec2Event("EC2 Instance Rebalance Recommendation", `{"instance-id":"vol-1"}`), wantErr: "not an instance id"},
		{name: "other health category", body: `{"id":"e-1","detail-type":"AWS Health Event","source":"aws.health","detail":{"service":"EC2","eventTypeCategory":"issue"}}`, unsupported: true},
		{name: "other kind", body: ec2Event("EC2 AMI State Change", `{"instance-id":"i-1"}`), unsupported: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent(tt.body)
			switch {
			case tt.unsupported:
				if !errors.Is(err, ErrUnsupportedEvent) {
					t.Errorf("ParseEvent error = %v, want ErrUnsupportedEvent", err)
				}
				return
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseEvent error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("ParseEvent: %v", err)
			}
			tt.want.ID = "e-1"
			tt.want.Time = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAliasParameters(t *testing.T) {
	tests := []struct {
		alias   string
		want    []string
		wantErr bool
	}{
		{alias: "al2023@latest", want: []string{
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id standard",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/recommended/image_id nvidia",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/neuron/recommended/image_id neuron",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/recommended/image_id standard",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/nvidia/recommended/image_id nvidia"}},
		{alias: "al2023@v20260115", want: []string{
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.35-v20260115/image_id standard",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.35-v20260115/image_id nvidia",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/neuron/amazon-eks-node-al2023-x86_64-neuron-1.35-v20260115/image_id neuron",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/standard/amazon-eks-node-al2023-arm64-standard-1.35-v20260115/image_id standard",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/arm64/nvidia/amazon-eks-node-al2023-arm64-nvidia-1.35-v20260115/image_id nvidia"}},
		{alias: "al2@latest", want: []string{
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2/recommended/image_id ",
			"/aws/service/eks/optimized-ami/1.35/amazon-linux-2-arm64/recommended/image_id "}},
		{alias: "bottlerocket@v1.20.0", want: []string{
			"/aws/service/bottlerocket/aws-k8s-1.35/x86_64/1.20.0/image_id ",
			"/aws/service/bottlerocket/aws-k8s-1.35/arm64/1.20.0/image_id "}},
		{alias: "ubuntu@latest", wantErr: true},
		{alias: "al2023", wantErr: true},
	}
	for _, tt := range tests {
		params, err := aliasParameters(tt.alias, "1.35")
		if (err != nil) != tt.wantErr {
			t.Errorf("aliasParameters(%q) error = %v, want error %v", tt.alias, err, tt.wantErr)
			continue
		}
		var got []string
		for _, p := range params {
			got = append(got, p.name+" "+string(p.variant))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("aliasParameters(%q) (-want +got):\n%s", tt.alias, diff)
		}
	}
}

func TestInstanceTypeForKubeletSettings(t *testing.T) {
	shape := catalog.InstanceType{Name: "m5.xlarge", Arch: "amd64", CPU: 4, MemoryMiB: 16384, Pods: 58}
	opts := &Options{Region: "us-east-1", VMMemoryOverheadPercent: 0.075}
	tests := []struct {
		name           string
		kubelet        *apiv1.KubeletConfiguration
		wantPods       string
		wantKubeCPU    string
		wantKubeMemory string
		wantEviction   corev1.ResourceList
	}{
		{name: "defaults", wantPods: "58", wantKubeCPU: "80m", wantKubeMemory: "893Mi",
			wantEviction: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("2147483648")}},
		{name: "maxPods and podsPerCore", kubelet: &apiv1.KubeletConfiguration{MaxPods: aws.Int32(110), PodsPerCore: aws.Int32(10)},
			wantPods: "40", wantKubeCPU: "80m", wantKubeMemory: "695Mi",
			wantEviction: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi"), corev1.ResourceEphemeralStorage: resource.MustParse("2147483648")}},
		{name: "kubeReserved and evictionHard", kubelet: &apiv1.KubeletConfiguration{
			KubeReserved: map[string]string{"cpu": "200m"}, EvictionHard: map[string]string{"memory.available": "5%", "nodefs.available": "1Gi"}},
			wantPods: "58", wantKubeCPU: "200m", wantKubeMemory: "893Mi",
			// 5% of 16384Mi less 7.5% (15155Mi) is 757.75Mi, rounded up to the byte.
			wantEviction: corev1.ResourceList{corev1.ResourceMemory: *resource.NewQuantity(794558464, resource.BinarySI), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := readyNodeClass()
			nc.Spec.Kubelet = tt.kubelet
			s, err := settingsFor(nc)
			if err != nil {
				t.Fatalf("settingsFor: %v", err)
			}
			it, err := instanceTypeFor(shape, s, opts)
			if err != nil {
				t.Fatalf("instanceTypeFor: %v", err)
			}
			got := []string{it.Capacity.Pods().String(), it.Overhead.KubeReserved.Cpu().String(), it.Overhead.KubeReserved.Memory().String()}
			if diff := cmp.Diff([]string{tt.wantPods, tt.wantKubeCPU, tt.wantKubeMemory}, got); diff != "" {
				t.Errorf("pods, kube-reserved cpu and memory (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEviction, it.Overhead.EvictionThreshold, quantityCmp); diff != "" {
				t.Errorf("eviction threshold (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserDataFormats(t *testing.T) {
	b := bootstrap{
		clusterName: "c", clusterEndpoint: "https://api", clusterCIDR: "10.100.0.0/16",
		labels:  map[string]string{"team": "a", apiv1.NodePoolLabelKey: "default"},
		taints:  []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}},
		maxPods: 29, kubeReserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("70m"), corev1.ResourceMemory: resource.MustParse("574Mi")},
		evictionHard: map[string]string{"memory.available": "100Mi"},
	}
	t.Run("AL2023 NodeConfig", func(t *testing.T) {
		custom := b
		custom.customUserData = "#!/bin/bash\necho hello\n"
		ud, err := userData(AMIFamilyAL2023, custom)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := parseMIME(ud)
		if err != nil {
			t.Fatalf("user data is not MIME: %v", err)
		}
		if len(parts) != 2 || !strings.HasPrefix(parts[0].contentType, "text/x-shellscript") || parts[1].contentType != "application/node.eks.aws" {
			t.Fatalf("parts = %+v, want the user's script then the NodeConfig", parts)
		}
		var got nodeConfig
		if err := yaml.Unmarshal([]byte(parts[1].body), &got); err != nil {
			t.Fatalf("NodeConfig: %v", err)
		}
		want := map[string]any{
			"maxPods":            float64(29),
			"kubeReserved":       map[string]any{"cpu": "70m", "memory": "574Mi"},
			"evictionHard":       map[string]any{"memory.available": "100Mi"},
			"registerWithTaints": []any{map[string]any{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}},
		}
		if diff := cmp.Diff(want, got.Spec.Kubelet.Config); diff != "" {
			t.Errorf("kubelet config (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"--node-labels=tailor.sh/nodepool=default,team=a"}, got.Spec.Kubelet.Flags); diff != "" {
			t.Errorf("kubelet flags (-want +got):\n%s", diff)
		}
	})
	t.Run("AL2 bootstrap.sh", func(t *testing.T) {
		ud, err := userData(AMIFamilyAL2, b)
		if err != nil {
			t.Fatal(err)
		}
		want := "--kubelet-extra-args '--max-pods=29 --kube-reserved=cpu=70m,memory=574Mi --eviction-hard=memory.available<100Mi " +
			"--node-labels=tailor.sh/nodepool=default,team=a --register-with-taints=dedicated=batch:NoSchedule'"
		if !strings.Contains(ud, "/etc/eks/bootstrap.sh 'c' --apiserver-endpoint 'https://api'") || !strings.Contains(ud, want) {
			t.Errorf("AL2 user data lacks the bootstrap call %q:\n%s", want, ud)
		}
	})
	t.Run("Custom is passed through", func(t *testing.T) {
		custom := b
		custom.customUserData = "anything"
		if ud, err := userData(AMIFamilyCustom, custom); err != nil || ud != "anything" {
			t.Errorf("Custom user data = %q, %v", ud, err)
		}
	})
}

func TestUserDataLabelsLeaveOutMachineLabels(t *testing.T) {
	got := userDataLabels(map[string]string{
		apiv1.NodePoolLabelKey: "default", "team": "a", apiv1.InstanceTypeLabelKey: "m5.large",
		apiv1.CapacityTypeLabelKey: "spot", apiv1.HostnameLabelKey: "x", apiv1.ZoneLabelKey: "us-east-1a",
	})
	if diff := cmp.Diff(map[string]string{apiv1.NodePoolLabelKey: "default", "team": "a"}, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestOptionsComplete(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "minimal", opts: Options{Region: "eu-west-1", ClusterName: "prod"}},
		{name: "no region", opts: Options{ClusterName: "prod"}, wantErr: "--aws-region"},
		{name: "no cluster", opts: Options{Region: "us-east-1"}, wantErr: "--cluster-name"},
		{name: "bad endpoint", opts: Options{Region: "us-east-1", ClusterName: "c", EndpointURL: "127.0.0.1:4566"}, wantErr: "absolute http(s) URL"},
		{name: "bad version", opts: Options{Region: "us-east-1", ClusterName: "c", KubernetesVersion: "v1.35"}, wantErr: "major.minor"},
		{name: "cluster uid", opts: Options{Region: "us-east-1", ClusterName: "c", ClusterUID: "4f1c2b9e-6a55-4c61-9a0e-2d0b8c1e7f3a"}},
		{name: "bad cluster uid", opts: Options{Region: "us-east-1", ClusterName: "c", ClusterUID: "a uid"}, wantErr: "--cluster-uid"},
		{name: "bad overhead", opts: Options{Region: "us-east-1", ClusterName: "c", VMMemoryOverheadPercent: 1.5}, wantErr: "vm memory overhead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Complete()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Complete: %v", err)
				}
				if tt.opts.MaxAttempts != DefaultMaxAttempts || tt.opts.UnavailableOfferingsTTL != 3*time.Minute {
					t.Errorf("defaults not filled: %+v", tt.opts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Complete = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestNodeClassHashIgnoresSelectorsAndStatus(t *testing.T) {
	a := readyNodeClass()
	b := a.DeepCopy()
	b.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{ID: "subnet-x"}}
	b.Status = apiv1.EC2NodeClassStatus{}
	b.ObjectMeta = metav1.ObjectMeta{Name: "other", Generation: 9}
	if NodeClassHash(a) != NodeClassHash(b) {
		t.Errorf("hash changed with selectors, status or metadata")
	}
	b.Spec.UserData = aws.String("#!/bin/bash")
	if NodeClassHash(a) == NodeClassHash(b) {
		t.Errorf("hash did not change with user data")
	}
}
