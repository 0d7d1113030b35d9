package ec2sim

import (
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// ec2Handler answers one EC2 Query action with a response struct to marshal as XML.
type ec2Handler func(c *cloud, f form, requestID string) (any, error)

// ec2Actions are the EC2 actions ec2sim serves; any other is InvalidAction.
var ec2Actions = map[string]ec2Handler{
	"DescribeInstanceTypes":         describeInstanceTypesAction,
	"DescribeInstanceTypeOfferings": describeInstanceTypeOfferingsAction,
	"DescribeAvailabilityZones":     describeAvailabilityZonesAction,
	"DescribeSubnets":               describeSubnetsAction,
	"DescribeSecurityGroups":        describeSecurityGroupsAction,
	"DescribeImages":                describeImagesAction,
	"DescribeSpotPriceHistory":      describeSpotPriceHistoryAction,
	"CreateLaunchTemplate":          createLaunchTemplateAction,
	"DescribeLaunchTemplates":       describeLaunchTemplatesAction,
	"DeleteLaunchTemplate":          deleteLaunchTemplateAction,
	"CreateFleet":                   createFleetAction,
	"DescribeInstances":             describeInstancesAction,
	"TerminateInstances":            terminateInstancesAction,
	"CreateTags":                    createTagsAction,
	"DescribeCapacityReservations":  describeCapacityReservationsAction,
}

// ec2Time formats timestamps as EC2 does.
func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ---- instances ----

func (c *cloud) xmlInstance(i *instance) xmlInstance {
	groups := make([]xmlGroup, 0, len(i.SecurityGroupIDs))
	for _, g := range i.SecurityGroupIDs {
		xg := xmlGroup{GroupID: g}
		if sg, ok := c.groups[g]; ok {
			xg.GroupName = sg.Name
		}
		groups = append(groups, xg)
	}
	arch := "x86_64"
	if it, ok := c.types.byName[i.InstanceType]; ok {
		arch = ec2Arch(it.Arch)
	}
	x := xmlInstance{
		InstanceID:         i.ID,
		ImageID:            i.ImageID,
		InstanceState:      xmlInstanceState{Code: stateCodes[i.State], Name: i.State},
		PrivateDNSName:     i.PrivateDNSName,
		InstanceType:       i.InstanceType,
		LaunchTime:         ec2Time(i.LaunchTime),
		Placement:          xmlPlacement{AvailabilityZone: i.Zone, AvailabilityZoneID: c.zoneID(i.Zone), Tenancy: "default"},
		Monitoring:         "disabled",
		SubnetID:           i.SubnetID,
		VpcID:              c.cfg.VPC.ID,
		PrivateIPAddress:   i.PrivateIP,
		Groups:             groups,
		Architecture:       arch,
		RootDeviceType:     "ebs",
		RootDeviceName:     "/dev/xvda",
		VirtualizationType: "hvm",
		ClientToken:        i.ClientToken,
		Tags:               xmlTags(i.Tags),
		Hypervisor:         "xen",
		EbsOptimized:       true,
		EnaSupport:         true,
		BootMode:           "uefi-preferred",
		PlatformDetails:    "Linux/UNIX",
		UsageOperation:     "RunInstances",
		NetworkInterfaces: []xmlNetworkInterface{{
			NetworkInterfaceID: "eni-" + strings.TrimPrefix(i.ID, "i-"),
			SubnetID:           i.SubnetID,
			VpcID:              c.cfg.VPC.ID,
			PrivateIPAddress:   i.PrivateIP,
			PrivateDNSName:     i.PrivateDNSName,
			Status:             "in-use",
			Groups:             groups,
		}},
	}
	if i.State == stateTerminated {
		x.NetworkInterfaces = nil
		x.PrivateIPAddress = ""
	}
	if i.CapacityType == v1.CapacityTypeSpot {
		x.InstanceLifecycle = "spot"
		x.SpotInstanceRequestID = i.SpotRequestID
	}
	if i.CapacityReservationID != "" {
		x.CapacityReservationID = i.CapacityReservationID
	}
	if i.StateReason != "" {
		code, msg, _ := strings.Cut(i.StateReason, ": ")
		x.StateReason = &xmlStateReason{Code: code, Message: i.StateReason}
		x.Reason = msg
	}
	if i.IAMInstanceProfile != "" {
		x.IAMInstanceProfile = &xmlIAMProfile{
			Arn: "arn:aws:iam::" + c.cfg.AccountID + ":instance-profile/" + i.IAMInstanceProfile,
			ID:  "AIPA" + strings.ToUpper(strings.TrimPrefix(i.ID, "i-")),
		}
	}
	return x
}

func describeInstancesAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("InstanceId")
	if err != nil {
		return nil, err
	}
	list, next, err := c.describeInstances(in)
	if err != nil {
		return nil, err
	}
	resp := &describeInstancesResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	c.mu.Lock()
	defer c.mu.Unlock()
	// One reservation per instance: each CreateFleet instance is its own reservation in EC2 too.
	for _, i := range list {
		resp.Reservations = append(resp.Reservations, xmlReservation{
			ReservationID: "r-" + strings.TrimPrefix(i.ID, "i-"),
			OwnerID:       c.cfg.AccountID,
			Instances:     []xmlInstance{c.xmlInstance(i)},
		})
	}
	return resp, nil
}

func terminateInstancesAction(c *cloud, f form, rid string) (any, error) {
	changes, err := c.terminateInstances(f.list("InstanceId"))
	if err != nil {
		return nil, err
	}
	resp := &terminateInstancesResponse{Xmlns: ec2Namespace, RequestID: rid}
	for _, ch := range changes {
		resp.Instances = append(resp.Instances, xmlStateChange{
			InstanceID:    ch.ID,
			CurrentState:  xmlInstanceState{Code: stateCodes[ch.Current], Name: ch.Current},
			PreviousState: xmlInstanceState{Code: stateCodes[ch.Previous], Name: ch.Previous},
		})
	}
	return resp, nil
}

func createTagsAction(c *cloud, f form, rid string) (any, error) {
	if err := c.createTags(f.list("ResourceId"), f.tags("Tag")); err != nil {
		return nil, err
	}
	return &createTagsResponse{Xmlns: ec2Namespace, RequestID: rid, Return: true}, nil
}

// ---- fleets ----

func parseFleetRequest(f form) (*fleetRequest, error) {
	req := &fleetRequest{
		ClientToken:         f.str("ClientToken"),
		Type:                f.str("Type"),
		DefaultCapacityType: f.str("TargetCapacitySpecification.DefaultTargetCapacityType"),
		SpotStrategy:        f.str("SpotOptions.AllocationStrategy"),
		OnDemandStrategy:    f.str("OnDemandOptions.AllocationStrategy"),
	}
	specs := f.tagSpecs("TagSpecification")
	req.InstanceTags = specs["instance"]
	for rt := range specs {
		req.TaggedResourceTypes = append(req.TaggedResourceTypes, rt)
	}
	slices.Sort(req.TaggedResourceTypes)
	if req.Type == "" {
		req.Type = "maintain"
	}
	var err error
	if req.TotalTarget, err = f.integer("TargetCapacitySpecification.TotalTargetCapacity"); err != nil {
		return nil, err
	}
	if req.OnDemandTarget, err = f.integer("TargetCapacitySpecification.OnDemandTargetCapacity"); err != nil {
		return nil, err
	}
	if req.SpotTarget, err = f.integer("TargetCapacitySpecification.SpotTargetCapacity"); err != nil {
		return nil, err
	}
	for _, n := range f.indices("LaunchTemplateConfigs") {
		p := "LaunchTemplateConfigs." + strconv.Itoa(n)
		cfg := fleetConfig{
			LaunchTemplateID:   f.str(p + ".LaunchTemplateSpecification.LaunchTemplateId"),
			LaunchTemplateName: f.str(p + ".LaunchTemplateSpecification.LaunchTemplateName"),
			Version:            f.str(p + ".LaunchTemplateSpecification.Version"),
		}
		for _, m := range f.indices(p + ".Overrides") {
			op := p + ".Overrides." + strconv.Itoa(m)
			o := fleetOverride{
				InstanceType: f.str(op + ".InstanceType"),
				SubnetID:     f.str(op + ".SubnetId"),
				Zone:         f.str(op + ".AvailabilityZone"),
				ImageID:      f.str(op + ".ImageId"),
				MaxPrice:     f.str(op + ".MaxPrice"),
			}
			if v := f.str(op + ".Priority"); v != "" {
				prio, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, errInvalidParameterValue("%s.Priority %q: expecting a number", op, v)
				}
				o.Priority = &prio
			}
			cfg.Overrides = append(cfg.Overrides, o)
		}
		req.Configs = append(req.Configs, cfg)
	}
	return req, nil
}

func xmlTemplateAndOverrides(t fleetTemplate, o fleetOverride) xmlLaunchTemplateAndOverrides {
	x := xmlLaunchTemplateAndOverrides{
		LaunchTemplateSpecification: xmlFleetTemplateSpec{LaunchTemplateID: t.LaunchTemplateID, Version: t.Version},
		Overrides: xmlFleetOverrides{InstanceType: o.InstanceType, SubnetID: o.SubnetID, AvailabilityZone: o.Zone,
			ImageID: o.ImageID, MaxPrice: o.MaxPrice},
	}
	if o.Priority != nil {
		x.Overrides.Priority = strconv.FormatFloat(*o.Priority, 'f', -1, 64)
	}
	return x
}

func createFleetAction(c *cloud, f form, rid string) (any, error) {
	req, err := parseFleetRequest(f)
	if err != nil {
		return nil, err
	}
	res, err := c.createFleet(req)
	if err != nil {
		return nil, err
	}
	resp := &createFleetResponse{Xmlns: ec2Namespace, RequestID: rid, FleetID: res.FleetID}
	for _, l := range res.Instances {
		resp.Instances = append(resp.Instances, xmlFleetInstance{
			LaunchTemplateAndOverrides: xmlTemplateAndOverrides(l.Template, l.Override),
			Lifecycle:                  l.CapacityType,
			InstanceIDs:                l.InstanceIDs,
			InstanceType:               l.Override.InstanceType,
		})
	}
	for _, e := range res.Errors {
		resp.Errors = append(resp.Errors, xmlFleetError{
			LaunchTemplateAndOverrides: xmlTemplateAndOverrides(e.Template, e.Override),
			Lifecycle:                  e.CapacityType,
			ErrorCode:                  e.Code,
			ErrorMessage:               e.Message,
		})
	}
	return resp, nil
}

// ---- launch templates ----

func parseLaunchTemplateData(f form) (launchTemplateData, error) {
	const p = "LaunchTemplateData."
	d := launchTemplateData{
		ImageID:            f.str(p + "ImageId"),
		InstanceType:       f.str(p + "InstanceType"),
		UserData:           f.str(p + "UserData"),
		SecurityGroupIDs:   f.list(p + "SecurityGroupId"),
		KeyName:            f.str(p + "KeyName"),
		IAMInstanceProfile: f.str(p + "IamInstanceProfile.Name"),
		HTTPTokens:         f.str(p + "MetadataOptions.HttpTokens"),

		CapacityReservationID: f.str(p + "CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId"),
	}
	if d.IAMInstanceProfile == "" {
		if arn := f.str(p + "IamInstanceProfile.Arn"); arn != "" {
			_, d.IAMInstanceProfile, _ = strings.Cut(arn, "instance-profile/")
		}
	}
	hop, err := f.integer(p + "MetadataOptions.HttpPutResponseHopLimit")
	if err != nil {
		return d, err
	}
	d.HTTPPutHopLimit = int64(hop)
	for _, n := range f.indices(p + "NetworkInterface") {
		np := p + "NetworkInterface." + strconv.Itoa(n)
		if idx, _ := f.integer(np + ".DeviceIndex"); idx == 0 {
			d.SecurityGroupIDs = append(d.SecurityGroupIDs, f.list(np+".SecurityGroupId")...)
			if s := f.str(np + ".SubnetId"); s != "" {
				d.SubnetID = s
			}
		}
	}
	for _, n := range f.indices(p + "BlockDeviceMapping") {
		bp := p + "BlockDeviceMapping." + strconv.Itoa(n)
		size, err := f.integer(bp + ".Ebs.VolumeSize")
		if err != nil {
			return d, err
		}
		d.BlockDeviceMappings = append(d.BlockDeviceMappings, blockDevice{
			DeviceName: f.str(bp + ".DeviceName"),
			VolumeSize: int64(size),
			VolumeType: f.str(bp + ".Ebs.VolumeType"),
			Encrypted:  f.str(bp+".Ebs.Encrypted") == "true",
		})
	}
	specs := f.tagSpecs(p + "TagSpecification")
	d.InstanceTags = specs["instance"]
	delete(specs, "instance")
	if len(specs) > 0 {
		d.OtherTagSpecs = map[string]tagsMap{}
		for rt, tags := range specs {
			d.OtherTagSpecs[rt] = tags
		}
	}
	return d, nil
}

func xmlTemplate(lt *launchTemplate) xmlLaunchTemplate {
	return xmlLaunchTemplate{
		LaunchTemplateID:     lt.ID,
		LaunchTemplateName:   lt.Name,
		CreateTime:           ec2Time(lt.CreateTime),
		CreatedBy:            "arn:aws:iam::123456789012:user/ec2sim",
		DefaultVersionNumber: 1,
		LatestVersionNumber:  1,
		Tags:                 xmlTags(lt.Tags),
	}
}

func createLaunchTemplateAction(c *cloud, f form, rid string) (any, error) {
	data, err := parseLaunchTemplateData(f)
	if err != nil {
		return nil, err
	}
	lt, err := c.createLaunchTemplate(f.str("LaunchTemplateName"), data, f.tagSpecs("TagSpecification")["launch-template"])
	if err != nil {
		return nil, err
	}
	return &createLaunchTemplateResponse{Xmlns: ec2Namespace, RequestID: rid, LaunchTemplate: xmlTemplate(lt)}, nil
}

func describeLaunchTemplatesAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("LaunchTemplateId")
	if err != nil {
		return nil, err
	}
	list, next, err := c.describeLaunchTemplates(in, f.list("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	resp := &describeLaunchTemplatesResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for i := range list {
		resp.LaunchTemplates = append(resp.LaunchTemplates, xmlTemplate(&list[i]))
	}
	return resp, nil
}

func deleteLaunchTemplateAction(c *cloud, f form, rid string) (any, error) {
	lt, err := c.deleteLaunchTemplate(f.str("LaunchTemplateId"), f.str("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	return &deleteLaunchTemplateResponse{Xmlns: ec2Namespace, RequestID: rid, LaunchTemplate: xmlTemplate(lt)}, nil
}

// ---- instance types ----

func xmlTypeInfo(it *InstanceType) xmlInstanceTypeInfo {
	f := factsOf(it)
	// Card 0 is the default; every card takes the same number of interfaces.
	cards := make([]xmlNetworkCard, max(1, it.NetworkCards))
	for i := range cards {
		cards[i] = xmlNetworkCard{NetworkCardIndex: i, NetworkPerformance: f.networkPerfStr, MaximumNetworkInterfaces: it.ENIs}
	}
	threads := int64(2)
	if it.Arch == "arm64" || it.VCPUs == 1 {
		threads = 1
	}
	x := xmlInstanceTypeInfo{
		InstanceType:                  it.Name,
		CurrentGeneration:             f.current,
		FreeTierEligible:              it.Name == "t2.micro" || it.Name == "t3.micro",
		SupportedUsageClasses:         f.usageClasses,
		SupportedRootDeviceTypes:      []string{"ebs"},
		SupportedVirtualizationTypes:  []string{"hvm"},
		BareMetal:                     f.bareMetal,
		Hypervisor:                    f.hypervisor,
		SupportedArchitectures:        []string{ec2Arch(it.Arch)},
		Manufacturer:                  f.manufacturer,
		DefaultVCPUs:                  it.VCPUs,
		DefaultCores:                  max(1, it.VCPUs/threads),
		DefaultThreadsPerCore:         threads,
		MemorySizeMiB:                 it.MemoryMiB,
		InstanceStorageSupported:      f.instanceLocal,
		EbsInfo:                       xmlEbsInfo{EbsOptimizedSupport: "default", EncryptionSupport: "supported", NvmeSupport: "required"},
		PlacementGroupStrategies:      []string{"cluster", "partition", "spread"},
		HibernationSupported:          !f.bareMetal,
		BurstablePerformanceSupported: f.burstable,
		DedicatedHostsSupported:       !f.burstable,
		AutoRecoverySupported:         true,
		SupportedBootModes:            []string{"uefi"},
		NetworkInfo: xmlNetworkInfo{
			NetworkPerformance:        f.networkPerfStr,
			MaximumNetworkInterfaces:  it.ENIs * int64(len(cards)),
			MaximumNetworkCards:       len(cards),
			NetworkCards:              cards,
			IPv4AddressesPerInterface: it.IPsPerENI,
			IPv6AddressesPerInterface: it.IPsPerENI,
			IPv6Supported:             true,
			EnaSupport:                "required",
		},
	}
	if it.Arch == "amd64" {
		x.SupportedBootModes = []string{"legacy-bios", "uefi"}
	}
	if f.hypervisor == "xen" {
		x.EbsInfo.NvmeSupport = "unsupported"
	}
	if it.GPUs > 0 {
		x.GPUInfo = &xmlGPUInfo{
			GPUs: []xmlGPU{{Name: gpuModelName(it.GPUName), Manufacturer: gpuManufacturerName(it.GPUManufacturer), Count: it.GPUs,
				MemoryMiB: it.GPUMemoryMiB}},
			TotalGPUMemoryMB: it.GPUs * it.GPUMemoryMiB,
		}
	}
	return x
}

// gpuModelNames are the GPU names DescribeInstanceTypes reports, by the catalogue's label-safe name.
var gpuModelNames = map[string]string{
	"a10g": "A10G", "a100": "A100", "b200": "B200", "h100": "H100", "h200": "H200", "l4": "L4", "l40s": "L40S",
	"t4": "T4", "t4g": "T4g", "v100": "V100", "radeon-pro-v520": "Radeon Pro V520", "gaudi-hl-205": "Gaudi HL-205",
}

// gpuModelName is the name EC2 gives the GPU: real case and spaces ("Radeon Pro V520"), not a label value.
func gpuModelName(name string) string {
	if n, ok := gpuModelNames[strings.ToLower(name)]; ok {
		return n
	}
	return name
}

func gpuManufacturerName(m string) string {
	switch strings.ToLower(m) {
	case "nvidia":
		return "NVIDIA"
	case "amd":
		return "AMD"
	}
	return m
}

func describeInstanceTypesAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("InstanceType")
	if err != nil {
		return nil, err
	}
	list, next, err := c.describeInstanceTypes(in)
	if err != nil {
		return nil, err
	}
	resp := &describeInstanceTypesResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, it := range list {
		resp.InstanceTypes = append(resp.InstanceTypes, xmlTypeInfo(it))
	}
	return resp, nil
}

func describeInstanceTypeOfferingsAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("")
	if err != nil {
		return nil, err
	}
	rows, next, err := c.describeInstanceTypeOfferings(f.str("LocationType"), in)
	if err != nil {
		return nil, err
	}
	resp := &describeInstanceTypeOfferingsResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, r := range rows {
		resp.Offerings = append(resp.Offerings, xmlTypeOffering(r))
	}
	return resp, nil
}

// ---- zones, subnets, security groups, images, prices ----

func describeAvailabilityZonesAction(c *cloud, f form, rid string) (any, error) {
	zones, err := c.describeAvailabilityZones(f.list("ZoneName"), f.list("ZoneId"), f.filters())
	if err != nil {
		return nil, err
	}
	resp := &describeAvailabilityZonesResponse{Xmlns: ec2Namespace, RequestID: rid}
	for _, z := range zones {
		resp.Zones = append(resp.Zones, xmlZone{
			ZoneName: z.Name, ZoneID: z.ID, ZoneState: "available", RegionName: c.cfg.Region,
			GroupName: c.cfg.Region, NetworkBorderGroup: c.cfg.Region, ZoneType: "availability-zone",
			OptInStatus: "opt-in-not-required",
		})
	}
	return resp, nil
}

func describeSubnetsAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("SubnetId")
	if err != nil {
		return nil, err
	}
	subnets, next, err := c.describeSubnets(in)
	if err != nil {
		return nil, err
	}
	resp := &describeSubnetsResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, s := range subnets {
		resp.Subnets = append(resp.Subnets, xmlSubnet{
			SubnetID:                s.ID,
			SubnetArn:               "arn:aws:ec2:" + c.cfg.Region + ":" + s.OwnerID + ":subnet/" + s.ID,
			State:                   "available",
			VpcID:                   s.VPCID,
			OwnerID:                 s.OwnerID,
			CidrBlock:               s.CIDR,
			AvailableIPAddressCount: s.AvailableIPs,
			AvailabilityZone:        s.Zone,
			AvailabilityZoneID:      s.ZoneID,
			Tags:                    xmlTags(s.Tags),
		})
	}
	return resp, nil
}

func describeSecurityGroupsAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("GroupId")
	if err != nil {
		return nil, err
	}
	groups, next, err := c.describeSecurityGroups(in, f.list("GroupName"))
	if err != nil {
		return nil, err
	}
	resp := &describeSecurityGroupsResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, xmlSecurityGroup{
			OwnerID: c.cfg.AccountID, GroupID: g.ID, GroupName: g.Name, GroupDescription: g.Description,
			VpcID:            c.cfg.VPC.ID,
			SecurityGroupArn: "arn:aws:ec2:" + c.cfg.Region + ":" + c.cfg.AccountID + ":security-group/" + g.ID,
			Tags:             xmlTags(g.Tags),
		})
	}
	return resp, nil
}

func describeImagesAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("ImageId")
	if err != nil {
		return nil, err
	}
	images, next, err := c.describeImages(in, f.list("Owner"))
	if err != nil {
		return nil, err
	}
	resp := &describeImagesResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, img := range images {
		resp.Images = append(resp.Images, xmlImage{
			ImageID: img.ID, ImageLocation: img.OwnerID + "/" + img.Name, ImageState: "available",
			ImageOwnerID: img.OwnerID, CreationDate: img.CreationDate, IsPublic: img.OwnerID != c.cfg.AccountID,
			Architecture: img.Architecture, ImageType: "machine", ImageOwnerAlias: img.OwnerAlias, Name: img.Name,
			Description: img.Description, RootDeviceType: "ebs", RootDeviceName: "/dev/xvda",
			VirtualizationType: "hvm", Hypervisor: "xen", EnaSupport: true, PlatformDetails: "Linux/UNIX",
			UsageOperation: "RunInstances", Tags: xmlTags(img.Tags),
		})
	}
	return resp, nil
}

func describeSpotPriceHistoryAction(c *cloud, f form, rid string) (any, error) {
	in, err := f.describe("")
	if err != nil {
		return nil, err
	}
	rows, next, err := c.describeSpotPriceHistory(f.list("InstanceType"), f.list("ProductDescription"),
		f.str("AvailabilityZone"), in)
	if err != nil {
		return nil, err
	}
	resp := &describeSpotPriceHistoryResponse{Xmlns: ec2Namespace, RequestID: rid, NextToken: next}
	for _, r := range rows {
		resp.Prices = append(resp.Prices, xmlSpotPrice{
			InstanceType: r.InstanceType, ProductDescription: r.ProductDescription,
			SpotPrice: strconv.FormatFloat(r.Price, 'f', 6, 64), Timestamp: ec2Time(r.Timestamp),
			AvailabilityZone: r.Zone, AvailabilityZoneID: r.ZoneID,
		})
	}
	return resp, nil
}
