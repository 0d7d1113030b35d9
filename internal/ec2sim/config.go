package ec2sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config describes the simulated region: its network, images, SSM parameters, queues and capacity. Every field has
// a default (DefaultConfig); a config file (YAML or JSON) overrides what it sets.
type Config struct {
	// Region is the AWS region, for example "us-east-1".
	Region string `json:"region,omitempty"`
	// AccountID owns every resource, 12 digits.
	AccountID string `json:"accountID,omitempty"`
	// ClusterName is used for the default discovery tags (tailor.sh/discovery: <ClusterName>) and queue name.
	ClusterName string `json:"clusterName,omitempty"`
	// KubernetesVersions are the versions for which EKS-optimized images and their SSM parameters exist.
	KubernetesVersions []string `json:"kubernetesVersions,omitempty"`
	// EKS is what EKS DescribeCluster answers for ClusterName.
	EKS EKSClusterConfig `json:"eks,omitempty"`
	// VPC is the one VPC every subnet and security group belongs to.
	VPC VPCConfig `json:"vpc,omitempty"`
	// Zones are the availability zones; instance types are sold only in these.
	Zones []ZoneConfig `json:"zones,omitempty"`
	// Subnets; by default one per zone.
	Subnets []SubnetConfig `json:"subnets,omitempty"`
	// SecurityGroups; by default one node group.
	SecurityGroups []SecurityGroupConfig `json:"securityGroups,omitempty"`
	// Images; by default EKS-optimized AL2023 and AL2 images for every Kubernetes version and architecture.
	Images []ImageConfig `json:"images,omitempty"`
	// Parameters are extra SSM parameters, name → value; every image's SSMParameters are added.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Queues are the SQS queues; interruption and state-change events go to every one of them.
	Queues []string `json:"queues,omitempty"`
	// Capacity rules set the size of capacity pools (see CapacityRule); the last matching rule wins.
	Capacity []CapacityRule `json:"capacity,omitempty"`
	// CapacityReservations are the account's on-demand capacity reservations (see CapacityReservationConfig).
	CapacityReservations []CapacityReservationConfig `json:"capacityReservations,omitempty"`
}

// EKSClusterConfig is the simulated EKS cluster: what DescribeCluster tells a controller that discovers how its
// nodes join.
type EKSClusterConfig struct {
	// Version is the cluster's Kubernetes minor version; default the newest of KubernetesVersions.
	Version string `json:"version,omitempty"`
	// Endpoint is the API server URL; default (in cmd/ec2sim) the API server of --kubeconfig, else none.
	Endpoint string `json:"endpoint,omitempty"`
	// CertificateAuthority is the base64 PEM CA bundle of the API server; default (in cmd/ec2sim) --kubeconfig's.
	CertificateAuthority string `json:"certificateAuthority,omitempty"`
	// ServiceIPv4CIDR is the service CIDR; default 10.100.0.0/16, EKS's own default.
	ServiceIPv4CIDR string `json:"serviceIpv4Cidr,omitempty"`
}

// VPCConfig is the simulated VPC.
type VPCConfig struct {
	ID   string `json:"id,omitempty"`
	CIDR string `json:"cidr,omitempty"`
}

// ZoneConfig is an availability zone.
type ZoneConfig struct {
	// Name, for example "us-east-1a".
	Name string `json:"name"`
	// ID, for example "use1-az1".
	ID string `json:"id,omitempty"`
	// UnsupportedInstanceTypes are the instance types (wildcards * and ?) not sold in this zone:
	// DescribeInstanceTypeOfferings leaves them out there and CreateFleet answers Unsupported for them. When the
	// config names no zones, the third default zone (<region>c, ID <prefix>-az3) lacks DefaultAZ3Unsupported, as
	// real us-east-1's use1-az3 lacks many large and accelerated types.
	UnsupportedInstanceTypes []string `json:"unsupportedInstanceTypes,omitempty"`
}

// DefaultAZ3Unsupported are the types the third default zone does not sell: GPU families (g*, p*) and bare metal
// sizes, the largest of each family. (The newest generation stays: it holds the cheapest types, and taking it from a
// zone would make every zone-spread workload dearer than the catalogue's plan.)
var DefaultAZ3Unsupported = []string{"g*", "p*", "*.metal*"}

// Sells reports whether the region sells the instance type in the zone at all (whatever the catalogue's offerings):
// the zone is configured and does not list the type as unsupported.
func (c *Config) Sells(zone, instanceType string) bool {
	for _, z := range c.Zones {
		if z.Name == zone {
			return z.sells(instanceType)
		}
	}
	return false
}

// sells reports whether the zone sells the instance type.
func (z ZoneConfig) sells(instanceType string) bool {
	for _, p := range z.UnsupportedInstanceTypes {
		if matchWildcard(p, instanceType) {
			return false
		}
	}
	return true
}

// SubnetConfig is a subnet in one zone.
type SubnetConfig struct {
	ID   string `json:"id,omitempty"`
	Zone string `json:"zone"`
	// CIDR must lie inside the VPC's.
	CIDR string            `json:"cidr"`
	Tags map[string]string `json:"tags,omitempty"`
}

// SecurityGroupConfig is a security group.
type SecurityGroupConfig struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ImageConfig is an AMI.
type ImageConfig struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Architecture is EC2's: "x86_64" or "arm64".
	Architecture string `json:"architecture"`
	// OwnerID defaults to Amazon's EKS account 602401143452; OwnerAlias to "amazon" for that owner.
	OwnerID      string            `json:"ownerID,omitempty"`
	OwnerAlias   string            `json:"ownerAlias,omitempty"`
	CreationDate string            `json:"creationDate,omitempty"`
	Description  string            `json:"description,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	// SSMParameters are SSM parameters whose value is this image's ID, such as the "recommended" alias AWS
	// publishes and the one naming this release.
	SSMParameters []string `json:"ssmParameters,omitempty"`
}

// CapacityRule sizes the capacity pools it matches: how many instances of InstanceType may run at once in Zone
// with CapacityType. Empty fields match everything; InstanceType and Zone may hold * and ? wildcards. A pool with
// nothing left answers InsufficientInstanceCapacity.
type CapacityRule struct {
	InstanceType string `json:"instanceType,omitempty"`
	Zone         string `json:"zone,omitempty"`
	CapacityType string `json:"capacityType,omitempty"`
	Capacity     int    `json:"capacity"`
}

func (r CapacityRule) matches(instanceType, zone, capacityType string) bool {
	return (r.InstanceType == "" || matchWildcard(r.InstanceType, instanceType)) &&
		(r.Zone == "" || matchWildcard(r.Zone, zone)) &&
		(r.CapacityType == "" || r.CapacityType == capacityType)
}

func (r CapacityRule) validate(field string) error {
	if r.CapacityType != "" && r.CapacityType != "spot" && r.CapacityType != "on-demand" {
		return fmt.Errorf("%s.capacityType %q: use \"spot\", \"on-demand\" or leave it empty for both", field, r.CapacityType)
	}
	if r.Capacity < 0 {
		return fmt.Errorf("%s.capacity %d: must be 0 or more", field, r.Capacity)
	}
	return nil
}

// LoadConfig reads a config file (YAML or JSON) and fills the defaults.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ec2sim config: %w", err)
	}
	cfg := &Config{}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, fmt.Errorf("parsing ec2sim config %s: %w", path, err)
	}
	if err := cfg.complete(); err != nil {
		return nil, fmt.Errorf("ec2sim config %s: %w", path, err)
	}
	return cfg, nil
}

// DefaultConfig is a region with three zones, a subnet in each and one security group, all tagged for discovery
// by clusterName, with EKS-optimized images.
func DefaultConfig(clusterName string) *Config {
	cfg := &Config{ClusterName: clusterName}
	if err := cfg.complete(); err != nil {
		// The defaults are constants; failing to complete them is a programming error.
		panic(fmt.Sprintf("completing the default ec2sim config: %v", err))
	}
	return cfg
}

// DiscoveryTagKey is the tag the default subnets and security groups carry, with the cluster name as value.
const DiscoveryTagKey = "tailor.sh/discovery"

// eksOwnerID is the account that publishes the EKS-optimized AMIs.
const eksOwnerID = "602401143452"

// stableID derives a resource ID from a name, so that IDs survive changes of seed and config order.
func stableID(prefix, name string) string {
	sum := sha256.Sum256([]byte(prefix + "/" + name))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}

//nolint:gocyclo // a flat list of independent defaults; splitting it would only scatter them.
func (c *Config) complete() error {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return fmt.Errorf("accountID %q: must be 12 digits", c.AccountID)
	}
	if c.ClusterName == "" {
		c.ClusterName = "tailor"
	}
	if err := c.completeReservations(); err != nil {
		return err
	}
	if len(c.KubernetesVersions) == 0 {
		c.KubernetesVersions = []string{"1.33", "1.34", "1.35"}
	}
	if c.EKS.Version == "" {
		c.EKS.Version = c.KubernetesVersions[len(c.KubernetesVersions)-1]
	}
	if c.EKS.ServiceIPv4CIDR == "" {
		c.EKS.ServiceIPv4CIDR = "10.100.0.0/16"
	}
	if _, err := netip.ParsePrefix(c.EKS.ServiceIPv4CIDR); err != nil {
		return fmt.Errorf("eks.serviceIpv4Cidr %q: must be a CIDR such as 10.100.0.0/16", c.EKS.ServiceIPv4CIDR)
	}
	if c.VPC.ID == "" {
		c.VPC.ID = stableID("vpc", c.ClusterName)
	}
	if c.VPC.CIDR == "" {
		c.VPC.CIDR = "10.0.0.0/16"
	}
	vpc, err := netip.ParsePrefix(c.VPC.CIDR)
	if err != nil || !vpc.Addr().Is4() {
		return fmt.Errorf("vpc.cidr %q: must be an IPv4 CIDR such as 10.0.0.0/16", c.VPC.CIDR)
	}
	if len(c.Zones) == 0 {
		for _, s := range []string{"a", "b", "c"} {
			c.Zones = append(c.Zones, ZoneConfig{Name: c.Region + s})
		}
		c.Zones[2].UnsupportedInstanceTypes = slices.Clone(DefaultAZ3Unsupported)
	}
	zoneNames := map[string]bool{}
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.Name == "" || !strings.HasPrefix(z.Name, c.Region) {
			return fmt.Errorf("zones[%d].name %q: must be a zone of region %s, such as %sa", i, z.Name, c.Region, c.Region)
		}
		if z.ID == "" {
			z.ID = zoneIDPrefix(c.Region) + "-az" + fmt.Sprint(i+1)
		}
		zoneNames[z.Name] = true
	}
	discovery := map[string]string{DiscoveryTagKey: c.ClusterName}
	if len(c.Subnets) == 0 {
		for i, z := range c.Zones {
			c.Subnets = append(c.Subnets, SubnetConfig{
				Zone: z.Name,
				CIDR: fmt.Sprintf("%d.%d.%d.0/20", vpc.Addr().As4()[0], vpc.Addr().As4()[1], i*16),
				Tags: mergeTags(discovery, map[string]string{"Name": c.ClusterName + "-private-" + z.Name}),
			})
		}
	}
	for i := range c.Subnets {
		s := &c.Subnets[i]
		if !zoneNames[s.Zone] {
			return fmt.Errorf("subnets[%d].zone %q: must be one of the zones", i, s.Zone)
		}
		p, err := netip.ParsePrefix(s.CIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() > 28 || !vpc.Contains(p.Addr()) || p.Bits() < vpc.Bits() {
			return fmt.Errorf("subnets[%d].cidr %q: must be an IPv4 CIDR of /28 or larger inside the VPC %s", i, s.CIDR, c.VPC.CIDR)
		}
		if s.ID == "" {
			s.ID = stableID("subnet", s.Zone+"/"+s.CIDR)
		}
	}
	if len(c.SecurityGroups) == 0 {
		c.SecurityGroups = []SecurityGroupConfig{{
			Name:        c.ClusterName + "-node",
			Description: "nodes of cluster " + c.ClusterName,
			Tags:        mergeTags(discovery, map[string]string{"Name": c.ClusterName + "-node"}),
		}}
	}
	for i := range c.SecurityGroups {
		g := &c.SecurityGroups[i]
		if g.Name == "" {
			return fmt.Errorf("securityGroups[%d].name: must be set", i)
		}
		if g.ID == "" {
			g.ID = stableID("sg", g.Name)
		}
	}
	if len(c.Images) == 0 {
		c.Images = defaultImages(c.KubernetesVersions)
	}
	if c.Parameters == nil {
		c.Parameters = map[string]string{}
	}
	for i := range c.Images {
		img := &c.Images[i]
		if img.Name == "" {
			return fmt.Errorf("images[%d].name: must be set", i)
		}
		if img.Architecture != "x86_64" && img.Architecture != "arm64" {
			return fmt.Errorf("images[%d].architecture %q: use \"x86_64\" or \"arm64\"", i, img.Architecture)
		}
		if img.ID == "" {
			img.ID = stableID("ami", img.Name)
		}
		if img.OwnerID == "" {
			img.OwnerID = eksOwnerID
		}
		if img.OwnerAlias == "" && img.OwnerID == eksOwnerID {
			img.OwnerAlias = "amazon"
		}
		if img.CreationDate == "" {
			img.CreationDate = "2026-01-15T00:00:00.000Z"
		}
		for _, p := range img.SSMParameters {
			c.Parameters[p] = img.ID
		}
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{c.ClusterName}
	}
	for i, r := range c.Capacity {
		if err := r.validate(fmt.Sprintf("capacity[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// zoneIDPrefix is the short region code zone IDs start with: us-east-1 → use1, ap-northeast-1 → apne1.
func zoneIDPrefix(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) != 3 || parts[1] == "" {
		return region
	}
	dir := parts[1]
	short := dir[:1]
	// Compound directions keep the first letter of each word: northeast → ne, southwest → sw.
	for _, word := range []string{"north", "south"} {
		if rest, ok := strings.CutPrefix(dir, word); ok && rest != "" {
			short = word[:1] + rest[:1]
		}
	}
	return parts[0] + short + parts[2]
}

// defaultRelease is the release of every default image, as AWS names EKS AMI releases.
const defaultRelease = "v20260115"

// defaultImages are the images node autoscalers resolve through SSM aliases: EKS-optimized AL2023 (standard and
// nvidia on both architectures, neuron on x86_64) and AL2, and Bottlerocket, for both architectures and each Kubernetes version. Each has the
// "recommended"/"latest" parameter and the one naming its release, as AWS publishes them.
func defaultImages(versions []string) []ImageConfig {
	var out []ImageConfig
	for _, v := range versions {
		for _, arch := range []string{"x86_64", "arm64"} {
			variants := []string{"standard", "nvidia"}
			if arch == "x86_64" {
				variants = append(variants, "neuron") // EKS publishes no arm64 Neuron AMI
			}
			for _, variant := range variants {
				name := fmt.Sprintf("amazon-eks-node-al2023-%s-%s-%s-%s", arch, variant, v, defaultRelease)
				base := fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/%s/", v, arch, variant)
				out = append(out, ImageConfig{
					Name: name, Architecture: arch,
					Description:   "EKS-optimized Kubernetes node based on Amazon Linux 2023, (k8s: " + v + ", " + variant + ")",
					SSMParameters: []string{base + "recommended/image_id", base + name + "/image_id"},
				})
			}
			brName := fmt.Sprintf("bottlerocket-aws-k8s-%s-%s-v1.40.0-2a7b1c3d", v, arch)
			brBase := fmt.Sprintf("/aws/service/bottlerocket/aws-k8s-%s/%s/", v, arch)
			out = append(out, ImageConfig{
				Name: brName, Architecture: arch, OwnerID: "092701018921", OwnerAlias: "amazon",
				Description:   "bottlerocket-aws-k8s-" + v + " " + arch,
				SSMParameters: []string{brBase + "latest/image_id", brBase + "1.40.0/image_id"},
			})
		}
		for _, variant := range []struct{ arch, path, prefix string }{
			{"x86_64", "amazon-linux-2", "amazon-eks-node"}, {"arm64", "amazon-linux-2-arm64", "amazon-eks-arm64-node"},
		} {
			name := variant.prefix + "-" + v + "-" + defaultRelease
			base := "/aws/service/eks/optimized-ami/" + v + "/" + variant.path + "/"
			out = append(out, ImageConfig{
				Name: name, Architecture: variant.arch,
				Description:   "EKS Kubernetes Worker AMI with AmazonLinux2 image, (k8s: " + v + ")",
				SSMParameters: []string{base + "recommended/image_id", base + name + "/image_id"},
			})
		}
	}
	return out
}

func mergeTags(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
