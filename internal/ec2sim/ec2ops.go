package ec2sim

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// describeInput is what every Describe call may carry.
type describeInput struct {
	IDs        []string
	Filters    []Filter
	MaxResults int
	NextToken  string
}

// ---- instances ----

func (c *cloud) instanceAttrs(i *instance) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return []string{i.ID}, true
		case "instance-type":
			return []string{i.InstanceType}, true
		case "instance-state-name":
			return []string{i.State}, true
		case "instance-state-code":
			return []string{strconv.Itoa(stateCodes[i.State])}, true
		case "availability-zone":
			return []string{i.Zone}, true
		case "subnet-id", "network-interface.subnet-id":
			return []string{i.SubnetID}, true
		case "vpc-id":
			return []string{c.cfg.VPC.ID}, true
		case "image-id":
			return []string{i.ImageID}, true
		case "private-ip-address":
			return []string{i.PrivateIP}, true
		case "private-dns-name":
			return []string{i.PrivateDNSName}, true
		case "instance-lifecycle":
			if i.CapacityType == v1.CapacityTypeSpot {
				return []string{"spot"}, true
			}
			return nil, true
		case "client-token":
			return []string{i.ClientToken}, true
		case "architecture":
			return []string{ec2Arch(c.types.byName[i.InstanceType].Arch)}, true
		case "instance.group-id", "group-id":
			return i.SecurityGroupIDs, true
		case "spot-instance-request-id":
			return []string{i.SpotRequestID}, true
		}
		return tagAttrs(i.Tags, name)
	}
}

func (c *cloud) describeInstances(in describeInput) ([]*instance, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	if in.MaxResults != 0 && len(in.IDs) > 0 {
		return nil, "", errBadRequest("InvalidParameterCombination",
			"The parameter instancesSet cannot be used with the parameter maxResults")
	}
	if err := validateFilters(in.Filters, c.instanceAttrs(&instance{})); err != nil {
		return nil, "", err
	}
	if err := c.checkInstanceIDs(in.IDs); err != nil {
		return nil, "", err
	}
	now := c.clock.Now()
	if err := c.checkVisible(in.IDs, now); err != nil {
		return nil, "", err
	}
	var matched []*instance
	for _, i := range c.orderedInstances() {
		if len(in.IDs) > 0 && !slices.Contains(in.IDs, i.ID) || !c.visible(i, now) {
			continue
		}
		ok, err := matchFilters(in.Filters, c.instanceAttrs(i))
		if err != nil {
			return nil, "", err
		}
		if ok {
			matched = append(matched, i.clone())
		}
	}
	p, err := paginate("DescribeInstances", len(matched), in.MaxResults, in.NextToken, 5, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	return matched[p.start:p.end], p.next, nil
}

// visible tells whether DescribeInstances shows the instance yet (Faults.DescribeInstancesDelay).
func (c *cloud) visible(i *instance, now time.Time) bool {
	return now.Sub(i.LaunchTime) >= c.faults.DescribeInstancesDelay.Duration
}

// checkVisible answers InvalidInstanceID.NotFound for IDs of instances launched too recently for DescribeInstances
// to show them, as EC2 does while its view catches up with a launch.
func (c *cloud) checkVisible(ids []string, now time.Time) error {
	var hidden []string
	for _, id := range ids {
		if i, ok := c.instances[id]; ok && !c.visible(i, now) {
			hidden = append(hidden, id)
		}
	}
	switch len(hidden) {
	case 0:
		return nil
	case 1:
		return errBadRequest("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", hidden[0])
	default:
		return errBadRequest("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(hidden, ", "))
	}
}

// ---- instance types ----

// previousGenerationFamilies are the families EC2 reports with currentGeneration false.
var previousGenerationFamilies = map[string]bool{
	"m1": true, "m2": true, "m3": true, "m4": true, "c1": true, "c3": true, "c4": true, "r3": true, "r4": true,
	"i2": true, "d2": true, "g2": true, "g3": true, "g3s": true, "p2": true, "t1": true, "x1": true, "x1e": true,
	"cr1": true, "hs1": true, "cc2": true,
}

// typeFacts are the DescribeInstanceTypes attributes derived from an instance type's name.
type typeFacts struct {
	family, size   string
	generation     int
	current        bool
	bareMetal      bool
	burstable      bool
	hypervisor     string
	manufacturer   string
	spotSupported  bool
	usageClasses   []string
	instanceLocal  bool
	networkPerfStr string
}

var familyPattern = regexp.MustCompile(`^([a-z]+?)(\d+)([a-z\-]*)$`)

func factsOf(it *InstanceType) typeFacts {
	f := typeFacts{current: true, hypervisor: "nitro"}
	f.family, f.size, _ = strings.Cut(it.Name, ".")
	if m := familyPattern.FindStringSubmatch(f.family); m != nil {
		f.generation, _ = strconv.Atoi(m[2])
		f.instanceLocal = strings.Contains(m[3], "d")
		switch {
		case it.Arch == "arm64":
			f.manufacturer = "AWS"
		case strings.Contains(m[3], "a"):
			f.manufacturer = "AMD"
		default:
			f.manufacturer = "Intel"
		}
	}
	f.current = !previousGenerationFamilies[f.family]
	f.bareMetal = strings.Contains(f.size, "metal")
	f.burstable = strings.HasPrefix(f.family, "t")
	switch {
	case f.bareMetal:
		f.hypervisor = ""
	case f.generation > 0 && f.generation < 5 && f.family != "t3" && f.family != "t3a" && f.family != "t4g":
		f.hypervisor = "xen"
	}
	f.usageClasses = []string{"on-demand"}
	for _, o := range it.Offerings {
		if o.CapacityType == v1.CapacityTypeSpot {
			f.spotSupported = true
			f.usageClasses = append(f.usageClasses, "spot")
			break
		}
	}
	switch {
	case it.VCPUs >= 96:
		f.networkPerfStr = "100 Gigabit"
	case it.VCPUs >= 48:
		f.networkPerfStr = "25 Gigabit"
	case it.VCPUs >= 16:
		f.networkPerfStr = "Up to 25 Gigabit"
	default:
		f.networkPerfStr = "Up to 12.5 Gigabit"
	}
	return f
}

func typeAttrs(it *InstanceType) attrFunc {
	f := factsOf(it)
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-type":
			return []string{it.Name}, true
		case "current-generation":
			return []string{strconv.FormatBool(f.current)}, true
		case "bare-metal":
			return []string{strconv.FormatBool(f.bareMetal)}, true
		case "burstable-performance-supported":
			return []string{strconv.FormatBool(f.burstable)}, true
		case "hypervisor":
			return []string{f.hypervisor}, true
		case "processor-info.supported-architecture":
			return []string{ec2Arch(it.Arch)}, true
		case "processor-info.manufacturer":
			return []string{f.manufacturer}, true
		case "supported-virtualization-type":
			return []string{"hvm"}, true
		case "supported-root-device-type":
			return []string{"ebs"}, true
		case "supported-usage-class":
			return f.usageClasses, true
		case "vcpu-info.default-vcpus":
			return []string{strconv.FormatInt(it.VCPUs, 10)}, true
		case "memory-info.size-in-mib":
			return []string{strconv.FormatInt(it.MemoryMiB, 10)}, true
		case "network-info.maximum-network-interfaces":
			return []string{strconv.FormatInt(it.ENIs*max(1, it.NetworkCards), 10)}, true
		case "network-info.ipv4-addresses-per-interface":
			return []string{strconv.FormatInt(it.IPsPerENI, 10)}, true
		case "instance-storage-supported":
			return []string{strconv.FormatBool(f.instanceLocal)}, true
		case "free-tier-eligible":
			return []string{strconv.FormatBool(it.Name == "t2.micro" || it.Name == "t3.micro")}, true
		}
		return nil, false
	}
}

func (c *cloud) describeInstanceTypes(in describeInput) ([]*InstanceType, string, error) {
	if err := validateFilters(in.Filters, typeAttrs(&InstanceType{})); err != nil {
		return nil, "", err
	}
	var missing []string
	for _, name := range in.IDs {
		if _, ok := c.types.byName[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, "", errBadRequest("InvalidInstanceType",
			"The following supplied instance types do not exist: [%s]", strings.Join(missing, ", "))
	}
	var matched []*InstanceType
	for _, it := range c.types.list {
		if len(in.IDs) > 0 && !slices.Contains(in.IDs, it.Name) {
			continue
		}
		ok, err := matchFilters(in.Filters, typeAttrs(it))
		if err != nil {
			return nil, "", err
		}
		if ok {
			matched = append(matched, it)
		}
	}
	p, err := paginate("DescribeInstanceTypes", len(matched), in.MaxResults, in.NextToken, 5, 100, 100)
	if err != nil {
		return nil, "", err
	}
	return matched[p.start:p.end], p.next, nil
}

// typeOffering is one row of DescribeInstanceTypeOfferings.
type typeOffering struct {
	InstanceType string
	LocationType string
	Location     string
}

func (c *cloud) describeInstanceTypeOfferings(locationType string, in describeInput) ([]typeOffering, string, error) {
	if locationType == "" {
		locationType = "region"
	}
	if locationType != "region" && locationType != "availability-zone" && locationType != "availability-zone-id" {
		return nil, "", errInvalidParameterValue(
			"LocationType %q: use region, availability-zone or availability-zone-id", locationType)
	}
	attrs := func(o typeOffering) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "instance-type":
				return []string{o.InstanceType}, true
			case "location":
				return []string{o.Location}, true
			}
			return nil, false
		}
	}
	if err := validateFilters(in.Filters, attrs(typeOffering{})); err != nil {
		return nil, "", err
	}
	var rows []typeOffering
	for _, it := range c.types.list {
		var locs []string
		for _, z := range c.cfg.Zones {
			if !slices.ContainsFunc(it.Offerings, func(o Offering) bool { return o.Zone == z.Name }) {
				continue
			}
			switch locationType {
			case "availability-zone":
				locs = append(locs, z.Name)
			case "availability-zone-id":
				locs = append(locs, z.ID)
			default:
				locs = []string{c.cfg.Region}
			}
		}
		for _, loc := range locs {
			o := typeOffering{InstanceType: it.Name, LocationType: locationType, Location: loc}
			ok, err := matchFilters(in.Filters, attrs(o))
			if err != nil {
				return nil, "", err
			}
			if ok {
				rows = append(rows, o)
			}
		}
	}
	p, err := paginate("DescribeInstanceTypeOfferings", len(rows), in.MaxResults, in.NextToken, 5, 1000, 1000)
	if err != nil {
		return nil, "", err
	}
	return rows[p.start:p.end], p.next, nil
}

// ---- zones, subnets, security groups, images ----

func (c *cloud) describeAvailabilityZones(names, ids []string, filters []Filter) ([]ZoneConfig, error) {
	attrs := func(z ZoneConfig) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "zone-name":
				return []string{z.Name}, true
			case "zone-id":
				return []string{z.ID}, true
			case "region-name":
				return []string{c.cfg.Region}, true
			case "state":
				return []string{"available"}, true
			case "zone-type":
				return []string{"availability-zone"}, true
			case "group-name":
				return []string{c.cfg.Region}, true
			case "opt-in-status":
				return []string{"opt-in-not-required"}, true
			}
			return nil, false
		}
	}
	if err := validateFilters(filters, attrs(ZoneConfig{})); err != nil {
		return nil, err
	}
	for _, n := range names {
		if !c.hasZone(n) {
			return nil, errInvalidParameterValue("The zone '%s' does not exist.", n)
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(c.cfg.Zones, func(z ZoneConfig) bool { return z.ID == id }) {
			return nil, errInvalidParameterValue("The zone ID '%s' does not exist.", id)
		}
	}
	var out []ZoneConfig
	for _, z := range c.cfg.Zones {
		if (len(names) > 0 || len(ids) > 0) && !slices.Contains(names, z.Name) && !slices.Contains(ids, z.ID) {
			continue
		}
		ok, err := matchFilters(filters, attrs(z))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, z)
		}
	}
	return out, nil
}

// subnetView is a subnet with its current free address count.
type subnetView struct {
	SubnetConfig
	ZoneID         string
	AvailableIPs   int
	VPCID          string
	OwnerID        string
	DefaultForZone bool
}

func (c *cloud) describeSubnets(in describeInput) ([]subnetView, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := func(s SubnetConfig) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "subnet-id":
				return []string{s.ID}, true
			case "vpc-id":
				return []string{c.cfg.VPC.ID}, true
			case "availability-zone":
				return []string{s.Zone}, true
			case "availability-zone-id":
				return []string{c.zoneID(s.Zone)}, true
			case "cidr-block", "cidr", "cidrBlock":
				return []string{s.CIDR}, true
			case "state":
				return []string{"available"}, true
			case "default-for-az", "defaultForAz":
				return []string{"false"}, true
			case "owner-id":
				return []string{c.cfg.AccountID}, true
			}
			return tagAttrs(s.Tags, name)
		}
	}
	if err := validateFilters(in.Filters, attrs(SubnetConfig{})); err != nil {
		return nil, "", err
	}
	for _, id := range in.IDs {
		if _, ok := c.subnets[id]; !ok {
			return nil, "", errBadRequest("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		}
	}
	var out []subnetView
	for _, s := range c.cfg.Subnets {
		if len(in.IDs) > 0 && !slices.Contains(in.IDs, s.ID) {
			continue
		}
		ok, err := matchFilters(in.Filters, attrs(s))
		if err != nil {
			return nil, "", err
		}
		if ok {
			s.Tags = mergeTags(s.Tags)
			out = append(out, subnetView{SubnetConfig: s, ZoneID: c.zoneID(s.Zone), AvailableIPs: c.freeAddresses(&s),
				VPCID: c.cfg.VPC.ID, OwnerID: c.cfg.AccountID})
		}
	}
	p, err := paginate("DescribeSubnets", len(out), in.MaxResults, in.NextToken, 5, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	return out[p.start:p.end], p.next, nil
}

func (c *cloud) describeSecurityGroups(in describeInput, names []string) ([]SecurityGroupConfig, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	attrs := func(g SecurityGroupConfig) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "group-id":
				return []string{g.ID}, true
			case "group-name":
				return []string{g.Name}, true
			case "vpc-id":
				return []string{c.cfg.VPC.ID}, true
			case "description":
				return []string{g.Description}, true
			case "owner-id":
				return []string{c.cfg.AccountID}, true
			}
			return tagAttrs(g.Tags, name)
		}
	}
	if err := validateFilters(in.Filters, attrs(SecurityGroupConfig{})); err != nil {
		return nil, "", err
	}
	for _, id := range in.IDs {
		if _, ok := c.groups[id]; !ok {
			return nil, "", errBadRequest("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(c.cfg.SecurityGroups, func(g SecurityGroupConfig) bool { return g.Name == n }) {
			return nil, "", errBadRequest("InvalidGroup.NotFound",
				"The security group '%s' does not exist in default VPC '%s'", n, c.cfg.VPC.ID)
		}
	}
	var out []SecurityGroupConfig
	for _, g := range c.cfg.SecurityGroups {
		if (len(in.IDs) > 0 || len(names) > 0) && !slices.Contains(in.IDs, g.ID) && !slices.Contains(names, g.Name) {
			continue
		}
		ok, err := matchFilters(in.Filters, attrs(g))
		if err != nil {
			return nil, "", err
		}
		if ok {
			g.Tags = mergeTags(g.Tags)
			out = append(out, g)
		}
	}
	p, err := paginate("DescribeSecurityGroups", len(out), in.MaxResults, in.NextToken, 5, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	return out[p.start:p.end], p.next, nil
}

var amiIDPattern = regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`)

func (c *cloud) imageAttrs(img ImageConfig) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "image-id":
			return []string{img.ID}, true
		case "name":
			return []string{img.Name}, true
		case "architecture":
			return []string{img.Architecture}, true
		case "owner-id":
			return []string{img.OwnerID}, true
		case "owner-alias":
			return []string{img.OwnerAlias}, true
		case "state":
			return []string{"available"}, true
		case "image-type":
			return []string{"machine"}, true
		case "is-public":
			return []string{strconv.FormatBool(img.OwnerID != c.cfg.AccountID)}, true
		case "root-device-type":
			return []string{"ebs"}, true
		case "virtualization-type":
			return []string{"hvm"}, true
		case "description":
			return []string{img.Description}, true
		}
		return tagAttrs(img.Tags, name)
	}
}

// ownedBy reports whether an image belongs to one of the Owners of DescribeImages: an account ID, an alias such
// as "amazon", or "self".
func (c *cloud) ownedBy(img ImageConfig, owners []string) bool {
	if len(owners) == 0 {
		return true
	}
	for _, o := range owners {
		if o == img.OwnerID || (o == "self" && img.OwnerID == c.cfg.AccountID) || (o != "" && o == img.OwnerAlias) {
			return true
		}
	}
	return false
}

func (c *cloud) checkImageIDs(ids []string) error {
	for _, id := range ids {
		if !amiIDPattern.MatchString(id) {
			return errBadRequest("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
		}
		if _, ok := c.images[id]; !ok {
			return errBadRequest("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	return nil
}

func (c *cloud) describeImages(in describeInput, owners []string) ([]ImageConfig, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := validateFilters(in.Filters, c.imageAttrs(ImageConfig{})); err != nil {
		return nil, "", err
	}
	if err := c.checkImageIDs(in.IDs); err != nil {
		return nil, "", err
	}
	var out []ImageConfig
	for _, ip := range c.imageOrder {
		img := *ip
		if (len(in.IDs) > 0 && !slices.Contains(in.IDs, img.ID)) || !c.ownedBy(img, owners) {
			continue
		}
		ok, err := matchFilters(in.Filters, c.imageAttrs(img))
		if err != nil {
			return nil, "", err
		}
		if ok {
			img.Tags = mergeTags(img.Tags)
			out = append(out, img)
		}
	}
	p, err := paginate("DescribeImages", len(out), in.MaxResults, in.NextToken, 1, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	return out[p.start:p.end], p.next, nil
}

// ---- spot prices ----

// spotPrice is one row of DescribeSpotPriceHistory.
type spotPrice struct {
	InstanceType       string
	Zone               string
	ZoneID             string
	ProductDescription string
	Price              float64
	Timestamp          time.Time
}

func (c *cloud) describeSpotPriceHistory(types, products []string, zone string, in describeInput) ([]spotPrice, string, error) {
	attrs := func(s spotPrice) attrFunc {
		return func(name string) ([]string, bool) {
			switch name {
			case "availability-zone":
				return []string{s.Zone}, true
			case "instance-type":
				return []string{s.InstanceType}, true
			case "product-description":
				return []string{s.ProductDescription}, true
			case "spot-price":
				return []string{strconv.FormatFloat(s.Price, 'f', 6, 64)}, true
			}
			return nil, false
		}
	}
	if err := validateFilters(in.Filters, attrs(spotPrice{})); err != nil {
		return nil, "", err
	}
	if zone != "" && !c.hasZone(zone) {
		return nil, "", errInvalidParameterValue("The zone '%s' does not exist.", zone)
	}
	if len(products) == 0 {
		products = []string{"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}
	}
	// Prices are as of the start of the current hour, as AWS updates them at most that often.
	ts := c.clock.Now().UTC().Truncate(time.Hour)
	var rows []spotPrice
	for _, it := range c.types.list {
		if len(types) > 0 && !slices.Contains(types, it.Name) {
			continue
		}
		for _, z := range c.cfg.Zones {
			if zone != "" && z.Name != zone {
				continue
			}
			off, ok := it.offering(z.Name, v1.CapacityTypeSpot)
			if !ok {
				continue
			}
			for _, pd := range products {
				row := spotPrice{InstanceType: it.Name, Zone: z.Name, ZoneID: z.ID, ProductDescription: pd,
					Price: off.PricePerHour, Timestamp: ts}
				ok, err := matchFilters(in.Filters, attrs(row))
				if err != nil {
					return nil, "", err
				}
				if ok {
					rows = append(rows, row)
				}
			}
		}
	}
	p, err := paginate("DescribeSpotPriceHistory", len(rows), in.MaxResults, in.NextToken, 1, 1000, 1000)
	if err != nil {
		return nil, "", err
	}
	return rows[p.start:p.end], p.next, nil
}

// ---- launch templates ----

var (
	launchTemplateNamePattern = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
	launchTemplateIDPattern   = regexp.MustCompile(`^lt-([0-9a-f]{8}|[0-9a-f]{17})$`)
)

func (c *cloud) findTemplate(id, name string) (*launchTemplate, error) {
	switch {
	case id != "":
		if !launchTemplateIDPattern.MatchString(id) {
			return nil, errBadRequest("InvalidLaunchTemplateId.Malformed",
				"The specified launch template ID %s is not valid: expecting lt- and 17 hex digits", id)
		}
		lt, ok := c.templates[id]
		if !ok {
			return nil, errBadRequest("InvalidLaunchTemplateId.NotFound",
				"The specified launch template, with template ID %s, does not exist.", id)
		}
		return lt, nil
	case name != "":
		for _, lt := range c.templates {
			if lt.Name == name {
				return lt, nil
			}
		}
		return nil, errBadRequest("InvalidLaunchTemplateName.NotFoundException",
			"The specified launch template, with template name %s, does not exist.", name)
	}
	return nil, errMissingParameter("LaunchTemplateId or LaunchTemplateName")
}

func (c *cloud) createLaunchTemplate(name string, data launchTemplateData, tags map[string]string) (*launchTemplate, error) {
	if name == "" {
		return nil, errMissingParameter("LaunchTemplateName")
	}
	if !launchTemplateNamePattern.MatchString(name) {
		return nil, errInvalidParameterValue(
			"LaunchTemplateName %q: 3 to 128 letters, digits and ( ) . - / _", name)
	}
	if data.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(data.UserData); err != nil {
			return nil, errBadRequest("InvalidUserData.Malformed", "Invalid BASE64 encoding of user data.")
		}
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	if err := checkTags(data.InstanceTags); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, lt := range c.templates {
		if lt.Name == name {
			return nil, errBadRequest("InvalidLaunchTemplateName.AlreadyExistsException",
				"Launch template name already in use.")
		}
	}
	for _, g := range data.SecurityGroupIDs {
		if _, ok := c.groups[g]; !ok {
			return nil, errBadRequest("InvalidGroupId.NotFound", "The security group ID '%s' does not exist", g)
		}
	}
	if data.SubnetID != "" {
		if _, ok := c.subnets[data.SubnetID]; !ok {
			return nil, errBadRequest("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", data.SubnetID)
		}
	}
	lt := &launchTemplate{ID: c.newID("lt"), Name: name, CreateTime: c.clock.Now().UTC(), Tags: tags, Data: data}
	c.templates[lt.ID] = lt
	c.save()
	return lt, nil
}

func templateAttrs(lt *launchTemplate) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "launch-template-name":
			return []string{lt.Name}, true
		case "create-time":
			return []string{lt.CreateTime.Format(time.RFC3339)}, true
		}
		return tagAttrs(lt.Tags, name)
	}
}

func (c *cloud) describeLaunchTemplates(in describeInput, names []string) ([]launchTemplate, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := validateFilters(in.Filters, templateAttrs(&launchTemplate{})); err != nil {
		return nil, "", err
	}
	for _, id := range in.IDs {
		if _, err := c.findTemplate(id, ""); err != nil {
			return nil, "", err
		}
	}
	for _, n := range names {
		if _, err := c.findTemplate("", n); err != nil {
			return nil, "", errBadRequest("InvalidLaunchTemplateName.NotFoundException",
				"At least one of the launch templates specified in the request does not exist.")
		}
	}
	var out []launchTemplate
	list := make([]*launchTemplate, 0, len(c.templates))
	for _, lt := range c.templates {
		list = append(list, lt)
	}
	slices.SortFunc(list, func(a, b *launchTemplate) int {
		if d := a.CreateTime.Compare(b.CreateTime); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, lt := range list {
		if (len(in.IDs) > 0 || len(names) > 0) && !slices.Contains(in.IDs, lt.ID) && !slices.Contains(names, lt.Name) {
			continue
		}
		ok, err := matchFilters(in.Filters, templateAttrs(lt))
		if err != nil {
			return nil, "", err
		}
		if ok {
			cp := *lt
			cp.Tags = mergeTags(lt.Tags)
			out = append(out, cp)
		}
	}
	p, err := paginate("DescribeLaunchTemplates", len(out), in.MaxResults, in.NextToken, 1, 200, 0)
	if err != nil {
		return nil, "", err
	}
	return out[p.start:p.end], p.next, nil
}

func (c *cloud) deleteLaunchTemplate(id, name string) (*launchTemplate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lt, err := c.findTemplate(id, name)
	if err != nil {
		return nil, err
	}
	delete(c.templates, lt.ID)
	c.save()
	return lt, nil
}

// ---- tags ----

// checkTags applies EC2's limits on tag keys and values.
func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return errBadRequest("TagLimitExceeded", "The maximum number of tags per resource is 50")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 {
			return errInvalidParameterValue("Tag key %q must be 1 to 128 characters", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errInvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
		}
		if len(v) > 256 {
			return errInvalidParameterValue("Tag value for key %q must be at most 256 characters", k)
		}
	}
	return nil
}

func (c *cloud) createTags(resources []string, tags map[string]string) error {
	if len(resources) == 0 {
		return errMissingParameter("ResourceId")
	}
	if len(tags) == 0 {
		return errMissingParameter("Tag")
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(c.clock.Now())
	targets := make([]*map[string]string, 0, len(resources))
	for _, id := range resources {
		t, err := c.tagsOf(id)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		merged := mergeTags(*t, tags)
		if len(merged) > 50 {
			return errBadRequest("TagLimitExceeded", "The maximum number of tags per resource is 50")
		}
	}
	for _, t := range targets {
		*t = mergeTags(*t, tags)
	}
	c.save()
	return nil
}

// tagsOf finds the tag map of any taggable resource by ID.
func (c *cloud) tagsOf(id string) (*map[string]string, error) {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "i":
		if err := c.checkInstanceIDs([]string{id}); err != nil {
			return nil, err
		}
		return &c.instances[id].Tags, nil
	case "lt":
		lt, err := c.findTemplate(id, "")
		if err != nil {
			return nil, err
		}
		return &lt.Tags, nil
	case "subnet":
		if s, ok := c.subnets[id]; ok {
			return &s.Tags, nil
		}
		return nil, errBadRequest("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
	case "sg":
		if g, ok := c.groups[id]; ok {
			return &g.Tags, nil
		}
		return nil, errBadRequest("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	case "ami":
		if img, ok := c.images[id]; ok {
			return &img.Tags, nil
		}
		return nil, errBadRequest("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return nil, errBadRequest("InvalidID", "The ID '%s' is not valid", id)
}
