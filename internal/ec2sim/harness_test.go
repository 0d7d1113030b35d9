package ec2sim

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	testingclock "k8s.io/utils/clock/testing"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// testTypes is a handful of shapes with known prices: m5.large is the cheapest on-demand amd64 type, its spot
// price differs by zone, c6g.large is arm64, p3.2xlarge has a GPU and no spot offering, t3.micro is sold only in
// zone a.
func testTypes() []InstanceType {
	offer := func(od float64, spot ...float64) []Offering {
		var out []Offering
		for i, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
			out = append(out, Offering{Zone: z, CapacityType: "on-demand", PricePerHour: od})
			if i < len(spot) {
				out = append(out, Offering{Zone: z, CapacityType: "spot", PricePerHour: spot[i]})
			}
		}
		return out
	}
	return []InstanceType{
		{Name: "m5.large", Arch: "amd64", VCPUs: 2, MemoryMiB: 8192, ENIs: 3, IPsPerENI: 10,
			Offerings: offer(0.096, 0.035, 0.030, 0.040)},
		{Name: "m5.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, ENIs: 4, IPsPerENI: 15,
			Offerings: offer(0.192, 0.060, 0.070, 0.065)},
		{Name: "c6g.large", Arch: "arm64", VCPUs: 2, MemoryMiB: 4096, ENIs: 3, IPsPerENI: 10,
			Offerings: offer(0.068, 0.025, 0.026, 0.027)},
		{Name: "p3.2xlarge", Arch: "amd64", VCPUs: 8, MemoryMiB: 62464, ENIs: 4, IPsPerENI: 15, GPUs: 1,
			GPUName: "v100", GPUManufacturer: "nvidia", GPUMemoryMiB: 16384, Offerings: offer(3.06)},
		{Name: "t3.micro", Arch: "amd64", VCPUs: 2, MemoryMiB: 1024, ENIs: 2, IPsPerENI: 2,
			Offerings: []Offering{{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 0.0104}}},
	}
}

// harness is a simulator behind an httptest server on 127.0.0.1 with real SDK clients pointed at it.
type harness struct {
	t       testing.TB
	sim     *Sim
	clock   *testingclock.FakeClock
	url     string
	ec2     *ec2.Client
	ssm     *ssm.Client
	sqs     *sqs.Client
	pricing *pricing.Client
	cfg     aws.Config
}

// newHarness starts a simulator on a fake clock; mutate adjusts its options first.
func newHarness(t testing.TB, mutate func(*Options)) *harness {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	opts := Options{
		InstanceTypes: testTypes(),
		Seed:          42,
		Clock:         clk,
		Timing: Timing{
			LaunchLatency: 2 * time.Second, BootLatency: 3 * time.Second, TerminateLatency: 3 * time.Second,
			InterruptionNotice: 2 * time.Minute,
		},
	}
	if mutate != nil {
		mutate(&opts)
	}
	sim, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server is not on 127.0.0.1: %s", srv.URL)
	}
	sim.SetEndpoint(srv.URL)
	h := &harness{t: t, sim: sim, clock: clk, url: srv.URL}
	h.cfg = aws.Config{
		Region:           sim.Region(),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       SDKHTTPClient(),
	}
	h.connect(h.cfg)
	return h
}

// connect builds the SDK clients from cfg, with the simulator as base endpoint.
func (h *harness) connect(cfg aws.Config) {
	h.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(h.url) })
	h.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(h.url) })
	h.sqs = sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(h.url) })
	h.pricing = pricing.NewFromConfig(cfg, func(o *pricing.Options) { o.BaseEndpoint = aws.String(h.url) })
}

// step moves the fake clock and lets the simulator catch up.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.clock.Step(d)
	if err := h.sim.Tick(h.t.Context()); err != nil {
		h.t.Fatalf("Tick: %v", err)
	}
}

// errorCode is the AWS error code of an SDK error, "" for nil.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "not an API error: " + err.Error()
}

// launchTemplate creates a launch template with the AL2023 image of the architecture and returns its ID.
func (h *harness) launchTemplate(name, arch, userData string) string {
	h.t.Helper()
	out, err := h.ec2.CreateLaunchTemplate(h.t.Context(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId:          aws.String("resolve:ssm:/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/" + arch + "/standard/recommended/image_id"),
			UserData:         aws.String(userData),
			SecurityGroupIds: []string{h.sim.cloud.cfg.SecurityGroups[0].ID},
			BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
				DeviceName: aws.String("/dev/xvda"),
				Ebs:        &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(50), VolumeType: ec2types.VolumeTypeGp3},
			}},
			TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{
				ResourceType: ec2types.ResourceTypeInstance,
				Tags:         []ec2types.Tag{{Key: aws.String("from-template"), Value: aws.String(name)}},
			}},
		},
	})
	if err != nil {
		h.t.Fatalf("CreateLaunchTemplate %s: %v", name, err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

// subnetIDs returns the subnets of the default config by zone.
func (h *harness) subnetIDs() map[string]string {
	out := map[string]string{}
	for _, s := range h.sim.cloud.cfg.Subnets {
		out[s.Zone] = s.ID
	}
	return out
}

// fleet launches count instances of the overrides (type, zone) with one capacity type.
func (h *harness) fleet(ltID, capacityType string, count int32, overrides ...[2]string) *ec2.CreateFleetOutput {
	h.t.Helper()
	out, err := h.ec2.CreateFleet(h.t.Context(), h.fleetInput(ltID, capacityType, count, overrides...))
	if err != nil {
		h.t.Fatalf("CreateFleet: %v", err)
	}
	return out
}

func (h *harness) fleetInput(ltID, capacityType string, count int32, overrides ...[2]string) *ec2.CreateFleetInput {
	subnets := h.subnetIDs()
	var ovs []ec2types.FleetLaunchTemplateOverridesRequest
	for _, o := range overrides {
		ovs = append(ovs, ec2types.FleetLaunchTemplateOverridesRequest{
			InstanceType: ec2types.InstanceType(o[0]), SubnetId: aws.String(subnets[o[1]]),
		})
	}
	return &ec2.CreateFleetInput{
		Type: ec2types.FleetTypeInstant,
		LaunchTemplateConfigs: []ec2types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{
				LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest"),
			},
			Overrides: ovs,
		}},
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity:       aws.Int32(count),
			DefaultTargetCapacityType: ec2types.DefaultTargetCapacityType(capacityType),
		},
		SpotOptions:     &ec2types.SpotOptionsRequest{AllocationStrategy: ec2types.SpotAllocationStrategyPriceCapacityOptimized},
		OnDemandOptions: &ec2types.OnDemandOptionsRequest{AllocationStrategy: ec2types.FleetOnDemandAllocationStrategyLowestPrice},
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeInstance,
			Tags:         []ec2types.Tag{{Key: aws.String("tailor.sh/nodepool"), Value: aws.String("default")}},
		}},
	}
}

// launchedIDs flattens a CreateFleet answer's instance IDs.
func launchedIDs(out *ec2.CreateFleetOutput) []string {
	var ids []string
	for _, i := range out.Instances {
		ids = append(ids, i.InstanceIds...)
	}
	return ids
}
