package ec2sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/catalog"
)

const euConfig = `
region: eu-west-1
clusterName: prod
zones:
- name: eu-west-1a
- name: eu-west-1b
subnets:
- zone: eu-west-1a
  cidr: 10.0.0.0/24
  tags: {tailor.sh/discovery: prod, kind: small}
- zone: eu-west-1b
  cidr: 10.0.1.0/24
  tags: {tailor.sh/discovery: prod}
queues: [prod-interruptions]
capacity:
- {instanceType: "m5.*", capacityType: spot, capacity: 0}
`

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ec2sim.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigFile(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, euConfig))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	cat := catalog.MustLoad(catalog.DefaultName)
	h := newHarness(t, func(o *Options) {
		o.Config = cfg
		o.InstanceTypes = InstanceTypesFromCatalog(cat, cfg.Region, DefaultVMMemoryOverheadPercent)
	})
	ctx := t.Context()
	zones, err := h.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatalf("DescribeAvailabilityZones: %v", err)
	}
	var got []string
	for _, z := range zones.AvailabilityZones {
		got = append(got, aws.ToString(z.ZoneName)+"="+aws.ToString(z.ZoneId)+" in "+aws.ToString(z.RegionName))
	}
	if diff := cmp.Diff([]string{"eu-west-1a=euw1-az1 in eu-west-1", "eu-west-1b=euw1-az2 in eu-west-1"}, got); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	subnets, err := h.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:kind"), Values: []string{"small"}}}})
	if err != nil || len(subnets.Subnets) != 1 || aws.ToInt32(subnets.Subnets[0].AvailableIpAddressCount) != 251 {
		t.Errorf("small subnet: %v %+v, want one /24 with 251 free addresses", err, subnets)
	}
	offerings, err := h.ec2.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters:      []ec2types.Filter{{Name: aws.String("instance-type"), Values: []string{"m5.large"}}},
	})
	if err != nil || len(offerings.InstanceTypeOfferings) != 2 || aws.ToString(offerings.InstanceTypeOfferings[0].Location) != "eu-west-1a" {
		t.Errorf("m5.large offerings: %v %+v, want the catalogue's zones renamed into eu-west-1a and b", err, offerings)
	}
	lt := h.launchTemplate("lt-eu", "x86_64", "")
	out := h.fleet(lt, "spot", 1, [2]string{"m5.large", "eu-west-1a"})
	if _, errs := placement(h, out); len(errs) != 1 || !strings.HasSuffix(errs[0], "InsufficientInstanceCapacity") {
		t.Errorf("m5 spot is empty by the config's capacity rule; errors %v", errs)
	}
	ids := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "eu-west-1a"}))
	if len(ids) != 1 || h.sim.Instances()[0].NodeName != "ip-10-0-0-4.eu-west-1.compute.internal" {
		t.Errorf("on-demand launch %v, node name %v", ids, h.sim.Instances())
	}
	if _, err := h.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("prod-interruptions")}); err != nil {
		t.Errorf("the configured queue: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"unknown field", "regoin: us-east-1\n", "unknown field"},
		{"zone outside the region", "zones: [{name: eu-west-1a}]\n", "zones[0].name"},
		{"subnet outside the VPC", "subnets: [{zone: us-east-1a, cidr: 192.168.0.0/24}]\n", "subnets[0].cidr"},
		{"subnet in an unknown zone", "subnets: [{zone: us-east-1z, cidr: 10.0.0.0/24}]\n", "subnets[0].zone"},
		{"bad account", "accountID: abc\n", "accountID"},
		{"bad capacity type", "capacity: [{capacityType: reserved, capacity: 1}]\n", "capacity[0].capacityType"},
		{"bad image architecture", "images: [{name: x, architecture: sparc}]\n", "images[0].architecture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.config))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
