package ec2sim

import (
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/catalog"
)

func TestDescribeNetwork(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	discovery := ec2types.Filter{Name: aws.String("tag:" + DiscoveryTagKey), Values: []string{"tailor"}}

	zones, err := h.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatalf("DescribeAvailabilityZones: %v", err)
	}
	var got []string
	for _, z := range zones.AvailabilityZones {
		got = append(got, aws.ToString(z.ZoneName)+"="+aws.ToString(z.ZoneId))
	}
	if diff := cmp.Diff([]string{"us-east-1a=use1-az1", "us-east-1b=use1-az2", "us-east-1c=use1-az3"}, got); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}

	tests := []struct {
		name    string
		filters []ec2types.Filter
		ids     []string
		want    int
		code    string
	}{
		{name: "discovery tag", filters: []ec2types.Filter{discovery}, want: 3},
		{name: "wildcard tag value", filters: []ec2types.Filter{{Name: aws.String("tag:" + DiscoveryTagKey), Values: []string{"tai*"}}}, want: 3},
		{name: "question mark wildcard", filters: []ec2types.Filter{{Name: aws.String("tag:" + DiscoveryTagKey), Values: []string{"tailo?"}}}, want: 3},
		{name: "other cluster", filters: []ec2types.Filter{{Name: aws.String("tag:" + DiscoveryTagKey), Values: []string{"other"}}}, want: 0},
		{name: "tag-key", filters: []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{DiscoveryTagKey}}}, want: 3},
		{name: "filters are ANDed", filters: []ec2types.Filter{discovery, {Name: aws.String("availability-zone"), Values: []string{"us-east-1b"}}}, want: 1},
		{name: "values are ORed", filters: []ec2types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1a", "us-east-1c"}}}, want: 2},
		{name: "by id", ids: []string{h.subnetIDs()["us-east-1c"]}, want: 1},
		{name: "unknown id", ids: []string{"subnet-00000000000000000"}, code: "InvalidSubnetID.NotFound"},
		{name: "unknown filter", filters: []ec2types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}, code: "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run("subnets "+tc.name, func(t *testing.T) {
			out, err := h.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: tc.filters, SubnetIds: tc.ids})
			if got := errorCode(err); got != tc.code {
				t.Fatalf("error code = %q, want %q (%v)", got, tc.code, err)
			}
			if err == nil && len(out.Subnets) != tc.want {
				t.Errorf("got %d subnets, want %d", len(out.Subnets), tc.want)
			}
		})
	}

	subnets, err := h.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{h.subnetIDs()["us-east-1a"]}})
	if err != nil {
		t.Fatalf("DescribeSubnets: %v", err)
	}
	s := subnets.Subnets[0]
	gotSubnet := []any{aws.ToString(s.AvailabilityZone), aws.ToString(s.AvailabilityZoneId), aws.ToString(s.CidrBlock),
		aws.ToInt32(s.AvailableIpAddressCount), aws.ToString(s.VpcId) == h.sim.cloud.cfg.VPC.ID}
	if diff := cmp.Diff([]any{"us-east-1a", "use1-az1", "10.0.0.0/20", int32(4091), true}, gotSubnet); diff != "" {
		t.Errorf("subnet (-want +got):\n%s", diff)
	}

	groups, err := h.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{discovery}})
	if err != nil {
		t.Fatalf("DescribeSecurityGroups: %v", err)
	}
	if len(groups.SecurityGroups) != 1 || aws.ToString(groups.SecurityGroups[0].GroupName) != "tailor-node" {
		t.Errorf("security groups = %+v, want the one tailor-node group", groups.SecurityGroups)
	}
	_, err = h.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0123456789abcdef0"}})
	if got := errorCode(err); got != "InvalidGroup.NotFound" {
		t.Errorf("unknown group: error code %q, want InvalidGroup.NotFound", got)
	}
}

func TestImagesAndSSM(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	param, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/arm64/standard/recommended/image_id")})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	amiID := aws.ToString(param.Parameter.Value)
	images, err := h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{amiID}})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	if len(images.Images) != 1 {
		t.Fatalf("got %d images, want 1", len(images.Images))
	}
	img := images.Images[0]
	got := []string{aws.ToString(img.Name), string(img.Architecture), aws.ToString(img.OwnerId), string(img.State)}
	want := []string{"amazon-eks-node-al2023-arm64-standard-1.34-v20260115", "arm64", eksOwnerID, "available"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("image (-want +got):\n%s", diff)
	}

	byName, err := h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"amazon-eks-node-al2023-*-standard-1.35-*"}}},
	})
	if err != nil {
		t.Fatalf("DescribeImages by name: %v", err)
	}
	var names []string
	for _, i := range byName.Images {
		names = append(names, aws.ToString(i.Name))
	}
	sort.Strings(names)
	wantNames := []string{"amazon-eks-node-al2023-arm64-standard-1.35-v20260115", "amazon-eks-node-al2023-x86_64-standard-1.35-v20260115"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("images by name (-want +got):\n%s", diff)
	}
	self, err := h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	if err != nil || len(self.Images) != 0 {
		t.Errorf("owner self: %d images, err %v; want none", len(self.Images), err)
	}

	_, err = h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0000000000000000f"}})
	if got := errorCode(err); got != "InvalidAMIID.NotFound" {
		t.Errorf("unknown image: code %q, want InvalidAMIID.NotFound", got)
	}
	_, err = h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"not-an-ami"}})
	if got := errorCode(err); got != "InvalidAMIID.Malformed" {
		t.Errorf("malformed image: code %q, want InvalidAMIID.Malformed", got)
	}
	_, err = h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/nope")})
	if got := errorCode(err); got != "ParameterNotFound" {
		t.Errorf("unknown parameter: code %q, want ParameterNotFound", got)
	}
}

func TestDescribeInstanceTypesCatalogPagination(t *testing.T) {
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatalf("loading catalogue: %v", err)
	}
	h := newHarness(t, func(o *Options) {
		o.InstanceTypes = InstanceTypesFromCatalog(cat, "us-east-1", DefaultVMMemoryOverheadPercent)
	})
	ctx := t.Context()
	var names []string
	pages := 0
	p := ec2.NewDescribeInstanceTypesPaginator(h.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(out.InstanceTypes) > 100 {
			t.Fatalf("page %d has %d types, more than MaxResults", pages, len(out.InstanceTypes))
		}
		for _, it := range out.InstanceTypes {
			names = append(names, string(it.InstanceType))
		}
	}
	if len(names) != len(cat.InstanceTypes) || pages != (len(cat.InstanceTypes)+99)/100 {
		t.Errorf("got %d types in %d pages, want %d types in %d pages", len(names), pages, len(cat.InstanceTypes), (len(cat.InstanceTypes)+99)/100)
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("types are not listed once each in order")
	}

	arm, err := h.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
		InstanceTypes: []ec2types.InstanceType{"m5.large", "c7g.xlarge", "g5.xlarge"},
	})
	if err != nil {
		t.Fatalf("DescribeInstanceTypes: %v", err)
	}
	type summary struct {
		Name        string
		Arch        string
		VCPUs       int32
		MemoryMiB   int64
		ENIs        int32
		IPsPerENI   int32
		GPUs        int32
		SpotSupport bool
	}
	var got []summary
	for _, it := range arm.InstanceTypes {
		s := summary{Name: string(it.InstanceType), Arch: string(it.ProcessorInfo.SupportedArchitectures[0]),
			VCPUs: aws.ToInt32(it.VCpuInfo.DefaultVCpus), MemoryMiB: aws.ToInt64(it.MemoryInfo.SizeInMiB),
			ENIs: aws.ToInt32(it.NetworkInfo.MaximumNetworkInterfaces), IPsPerENI: aws.ToInt32(it.NetworkInfo.Ipv4AddressesPerInterface),
			SpotSupport: slices.Contains(it.SupportedUsageClasses, ec2types.UsageClassTypeSpot)}
		if it.GpuInfo != nil {
			s.GPUs = aws.ToInt32(it.GpuInfo.Gpus[0].Count)
		}
		got = append(got, s)
	}
	var want []summary
	for _, name := range []string{"c7g.xlarge", "g5.xlarge", "m5.large"} {
		e, _ := cat.Lookup(name)
		arch := "x86_64"
		if e.Arch == "arm64" {
			arch = "arm64"
		}
		want = append(want, summary{Name: name, Arch: arch, VCPUs: int32(e.CPU), MemoryMiB: e.MemoryMiB,
			ENIs: int32(e.ENIs), IPsPerENI: int32(e.IPsPerENI), GPUs: int32(e.GPUs), SpotSupport: true})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance types (-want +got):\n%s", diff)
	}

	armOnly, err := h.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("processor-info.supported-architecture"), Values: []string{"arm64"}},
			{Name: aws.String("instance-type"), Values: []string{"c7g.*"}},
		},
	})
	if err != nil {
		t.Fatalf("DescribeInstanceTypes with filters: %v", err)
	}
	if len(armOnly.InstanceTypes) == 0 {
		t.Errorf("no c7g types found")
	}
	for _, it := range armOnly.InstanceTypes {
		if it.ProcessorInfo.SupportedArchitectures[0] != ec2types.ArchitectureTypeArm64 {
			t.Errorf("%s is not arm64", it.InstanceType)
		}
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeInstanceTypesInput
		code string
	}{
		{"unknown type", &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"m99.huge"}}, "InvalidInstanceType"},
		{"MaxResults too big", &ec2.DescribeInstanceTypesInput{MaxResults: aws.Int32(1000)}, "InvalidParameterValue"},
		{"bad token", &ec2.DescribeInstanceTypesInput{NextToken: aws.String("garbage")}, "InvalidPaginationToken"},
		{"unknown filter", &ec2.DescribeInstanceTypesInput{Filters: []ec2types.Filter{{Name: aws.String("price"), Values: []string{"1"}}}}, "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.ec2.DescribeInstanceTypes(ctx, tc.in)
			if got := errorCode(err); got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

// DescribeInstanceTypes answers as EC2 does for multi-card types (every card's interfaces in the maximum, the
// default card's in NetworkCards[DefaultNetworkCardIndex]) and names GPUs as EC2 does, not as label values.
func TestDescribeInstanceTypesRealShapes(t *testing.T) {
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatalf("loading catalogue: %v", err)
	}
	h := newHarness(t, func(o *Options) {
		o.InstanceTypes = InstanceTypesFromCatalog(cat, "us-east-1", DefaultVMMemoryOverheadPercent)
	})
	type shape struct {
		Cards, MaxENIs, DefaultCardENIs int32
		GPU, Maker                      string
	}
	want := map[string]shape{
		"p5.48xlarge":      {Cards: 32, MaxENIs: 64, DefaultCardENIs: 2, GPU: "H100", Maker: "NVIDIA"},
		"p4d.24xlarge":     {Cards: 4, MaxENIs: 60, DefaultCardENIs: 15, GPU: "A100", Maker: "NVIDIA"},
		"m6idn.32xlarge":   {Cards: 2, MaxENIs: 16, DefaultCardENIs: 8},
		"c8gn.48xlarge":    {Cards: 2, MaxENIs: 24, DefaultCardENIs: 12},
		"g4ad.xlarge":      {Cards: 1, MaxENIs: 2, DefaultCardENIs: 2, GPU: "Radeon Pro V520", Maker: "AMD"},
		"g5g.xlarge":       {Cards: 1, MaxENIs: 4, DefaultCardENIs: 4, GPU: "T4g", Maker: "NVIDIA"},
		"g5.xlarge":        {Cards: 1, MaxENIs: 4, DefaultCardENIs: 4, GPU: "A10G", Maker: "NVIDIA"},
		"m5.large":         {Cards: 1, MaxENIs: 3, DefaultCardENIs: 3},
		"p6-b200.48xlarge": {Cards: 8, MaxENIs: 32, DefaultCardENIs: 4, GPU: "B200", Maker: "NVIDIA"},
	}
	var names []ec2types.InstanceType
	for n := range want {
		names = append(names, ec2types.InstanceType(n))
	}
	out, err := h.ec2.DescribeInstanceTypes(t.Context(), &ec2.DescribeInstanceTypesInput{InstanceTypes: names})
	if err != nil {
		t.Fatalf("DescribeInstanceTypes: %v", err)
	}
	got := map[string]shape{}
	for _, it := range out.InstanceTypes {
		n := it.NetworkInfo
		s := shape{Cards: aws.ToInt32(n.MaximumNetworkCards), MaxENIs: aws.ToInt32(n.MaximumNetworkInterfaces)}
		if int(s.Cards) != len(n.NetworkCards) {
			t.Errorf("%s: MaximumNetworkCards %d but %d cards listed", it.InstanceType, s.Cards, len(n.NetworkCards))
		}
		for _, c := range n.NetworkCards {
			if aws.ToInt32(c.NetworkCardIndex) == aws.ToInt32(n.DefaultNetworkCardIndex) {
				s.DefaultCardENIs = aws.ToInt32(c.MaximumNetworkInterfaces)
			}
		}
		if it.GpuInfo != nil {
			s.GPU, s.Maker = aws.ToString(it.GpuInfo.Gpus[0].Name), aws.ToString(it.GpuInfo.Gpus[0].Manufacturer)
		}
		got[string(it.InstanceType)] = s
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance types (-want +got):\n%s", diff)
	}
}

func TestInstanceTypeOfferingsAndSpotPrices(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	offerings, err := h.ec2.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters:      []ec2types.Filter{{Name: aws.String("instance-type"), Values: []string{"t3.micro", "c6g.large"}}},
	})
	if err != nil {
		t.Fatalf("DescribeInstanceTypeOfferings: %v", err)
	}
	var got []string
	for _, o := range offerings.InstanceTypeOfferings {
		got = append(got, string(o.InstanceType)+"@"+aws.ToString(o.Location))
	}
	want := []string{"c6g.large@us-east-1a", "c6g.large@us-east-1b", "c6g.large@us-east-1c", "t3.micro@us-east-1a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("offerings (-want +got):\n%s", diff)
	}
	region, err := h.ec2.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{})
	if err != nil || len(region.InstanceTypeOfferings) != len(testTypes()) {
		t.Errorf("region offerings: %d, err %v; want one per type", len(region.InstanceTypeOfferings), err)
	}

	prices, err := h.ec2.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes:       []ec2types.InstanceType{"m5.large"},
		ProductDescriptions: []string{"Linux/UNIX"},
	})
	if err != nil {
		t.Fatalf("DescribeSpotPriceHistory: %v", err)
	}
	var gotPrices []string
	for _, p := range prices.SpotPriceHistory {
		gotPrices = append(gotPrices, aws.ToString(p.AvailabilityZone)+"="+aws.ToString(p.SpotPrice))
	}
	wantPrices := []string{"us-east-1a=0.035000", "us-east-1b=0.030000", "us-east-1c=0.040000"}
	if diff := cmp.Diff(wantPrices, gotPrices); diff != "" {
		t.Errorf("spot prices (-want +got):\n%s", diff)
	}
	none, err := h.ec2.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: []ec2types.InstanceType{"p3.2xlarge"},
	})
	if err != nil || len(none.SpotPriceHistory) != 0 {
		t.Errorf("p3.2xlarge has no spot offering: got %d prices, err %v", len(none.SpotPriceHistory), err)
	}
}

func TestLaunchTemplates(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	id := h.launchTemplate("tailor/default/abc", "x86_64", "")
	_, err := h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("tailor/default/abc"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-1")},
	})
	if got := errorCode(err); got != "InvalidLaunchTemplateName.AlreadyExistsException" {
		t.Errorf("duplicate name: code %q", got)
	}
	_, err = h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("other"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String("not base64!")},
	})
	if got := errorCode(err); got != "InvalidUserData.Malformed" {
		t.Errorf("bad user data: code %q", got)
	}
	_, err = h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("tagged"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: []ec2types.Tag{{Key: aws.String("tailor.sh/cluster"), Value: aws.String("tailor")}}}},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate tagged: %v", err)
	}

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeLaunchTemplatesInput
		want []string
		code string
	}{
		{"all", &ec2.DescribeLaunchTemplatesInput{}, []string{"tailor/default/abc", "tagged"}, ""},
		{"by name", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"tagged"}}, []string{"tagged"}, ""},
		{"by id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}}, []string{"tailor/default/abc"}, ""},
		{"by tag", &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:tailor.sh/cluster"), Values: []string{"tailor"}}}}, []string{"tagged"}, ""},
		{"by name filter", &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{{Name: aws.String("launch-template-name"), Values: []string{"tailor/*"}}}}, []string{"tailor/default/abc"}, ""},
		{"unknown name", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"nope"}}, nil, "InvalidLaunchTemplateName.NotFoundException"},
		{"unknown id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"lt-0123456789abcdef0"}}, nil, "InvalidLaunchTemplateId.NotFound"},
		{"malformed id", &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{"lt-x"}}, nil, "InvalidLaunchTemplateId.Malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := h.ec2.DescribeLaunchTemplates(ctx, tc.in)
			if got := errorCode(err); got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			if err != nil {
				return
			}
			var names []string
			for _, lt := range out.LaunchTemplates {
				names = append(names, aws.ToString(lt.LaunchTemplateName))
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("templates (-want +got):\n%s", diff)
			}
		})
	}

	del, err := h.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
	if err != nil || aws.ToString(del.LaunchTemplate.LaunchTemplateName) != "tailor/default/abc" {
		t.Fatalf("DeleteLaunchTemplate: %v %+v", err, del)
	}
	_, err = h.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)})
	if got := errorCode(err); got != "InvalidLaunchTemplateId.NotFound" {
		t.Errorf("second delete: code %q", got)
	}
}

func TestImageReleaseThroughAdmin(t *testing.T) {
	stateFile := t.TempDir() + "/state.json"
	h := newHarness(t, func(o *Options) { o.StateFile = stateFile })
	ctx := t.Context()
	const param = "/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id"
	before, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	if err != nil {
		t.Fatalf("GetParameter: %v", err)
	}
	var added ImageConfig
	release := ImageConfig{Name: "amazon-eks-node-al2023-x86_64-standard-1.34-v20260301", Architecture: "x86_64",
		SSMParameters: []string{param}}
	if code := h.admin(http.MethodPost, "/admin/images", release, &added); code != http.StatusOK || added.ID == "" {
		t.Fatalf("POST /admin/images: %d %+v", code, added)
	}
	check := func(h *harness) {
		t.Helper()
		after, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		if err != nil {
			t.Fatalf("GetParameter: %v", err)
		}
		if got := aws.ToString(after.Parameter.Value); got != added.ID || got == aws.ToString(before.Parameter.Value) {
			t.Errorf("the recommended image is %s, want the new release %s (was %s)", got, added.ID, aws.ToString(before.Parameter.Value))
		}
		images, err := h.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{added.ID}})
		if err != nil || len(images.Images) != 1 || aws.ToString(images.Images[0].Name) != release.Name {
			t.Errorf("DescribeImages of the new release: %v %+v", err, images)
		}
	}
	check(h)
	check(newHarness(t, func(o *Options) { o.StateFile = stateFile }))

	var bad map[string]string
	if code := h.admin(http.MethodPost, "/admin/images", ImageConfig{Name: "x", Architecture: "sparc"}, &bad); code != http.StatusBadRequest {
		t.Errorf("bad architecture: %d %v, want 400", code, bad)
	}
	if code := h.admin(http.MethodPut, "/admin/parameters", ParameterRequest{Name: "/custom/ami", Value: added.ID}, nil); code != http.StatusOK {
		t.Errorf("PUT /admin/parameters: %d", code)
	}
	custom, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/custom/ami")})
	if err != nil || aws.ToString(custom.Parameter.Value) != added.ID {
		t.Errorf("custom parameter: %v %+v", err, custom)
	}
}
