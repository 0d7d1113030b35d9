package ec2sim

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/catalog"
)

// Not every type is sold in every zone: the default region's third zone (use1-az3) lacks GPU families and bare
// metal. DescribeInstanceTypeOfferings says so and CreateFleet refuses them there.
func TestPerZoneAvailability(t *testing.T) {
	cat := catalog.MustLoad(catalog.DefaultName)
	h := newHarness(t, func(o *Options) {
		o.InstanceTypes = InstanceTypesFromCatalog(cat, "us-east-1", DefaultVMMemoryOverheadPercent)
	})
	zonesOf := map[string][]string{}
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(h.ec2, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: ec2types.LocationTypeAvailabilityZone})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("DescribeInstanceTypeOfferings: %v", err)
		}
		for _, o := range out.InstanceTypeOfferings {
			zonesOf[string(o.InstanceType)] = append(zonesOf[string(o.InstanceType)], aws.ToString(o.Location))
		}
	}
	all, twoZones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}, []string{"us-east-1a", "us-east-1b"}
	for name, want := range map[string][]string{
		"m5.large": all, "m6g.large": all, "c7g.xlarge": all, "t4g.medium": all, "m7i.48xlarge": all,
		"g5.xlarge": twoZones, "p5.48xlarge": twoZones, "m5.metal": twoZones, "c7i.metal-48xl": twoZones,
		"c8g.large": all, "r8gn.48xlarge": all, "g6e.48xlarge": twoZones, "m8g.metal-24xl": twoZones,
	} {
		got := slices.Sorted(slices.Values(zonesOf[name]))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s zones (-want +got):\n%s", name, diff)
		}
	}
	// Every type is sold somewhere, and most everywhere.
	everywhere := 0
	for _, it := range cat.InstanceTypes {
		switch len(zonesOf[it.Name]) {
		case 0:
			t.Errorf("%s is sold nowhere", it.Name)
		case 3:
			everywhere++
		}
	}
	if everywhere < len(cat.InstanceTypes)/2 {
		t.Errorf("only %d of %d types are sold in every zone", everywhere, len(cat.InstanceTypes))
	}

	lt := h.launchTemplate("lt-default", "x86_64", "")
	out := h.fleet(lt, "on-demand", 1, [2]string{"g5.xlarge", "us-east-1c"}, [2]string{"m5.large", "us-east-1c"})
	launched, errs := placement(h, out)
	if diff := cmp.Diff([]string{"m5.large us-east-1c on-demand x1"}, launched); diff != "" {
		t.Errorf("launched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"g5.xlarge us-east-1c Unsupported"}, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestConfiguredZonesSellEverything(t *testing.T) {
	cfg := &Config{ClusterName: "tailor", Zones: []ZoneConfig{{Name: "us-east-1a"}, {Name: "us-east-1b"}, {Name: "us-east-1c"}}}
	if err := cfg.complete(); err != nil {
		t.Fatal(err)
	}
	for _, z := range cfg.Zones {
		if len(z.UnsupportedInstanceTypes) != 0 {
			t.Errorf("zone %s named in the config lacks %v; only defaulted zones get the default rule", z.Name, z.UnsupportedInstanceTypes)
		}
	}
}
