package aws

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ec2Type is one instance type as DescribeInstanceTypes and DescribeInstanceTypeOfferings describe it.
type ec2Type struct {
	// shape is the type in the catalogue's terms, without offerings.
	shape catalog.InstanceType
	// capacityTypes are the usage classes EC2 sells it as (spot, on-demand).
	capacityTypes []string
	// zones are where it is offered, sorted.
	zones []string
}

// ec2Data is a consistent view of the instance types and their prices.
type ec2Data struct {
	types   []ec2Type
	prices  *prices
	version uint64
}

// ec2DataSource fetches and caches instance types, offerings and prices: types and offerings for typesTTL,
// prices for pricesTTL. A refresh that fails keeps the previous data (and logs); only a first fetch that fails is
// an error.
type ec2DataSource struct {
	ec2       EC2API
	pricing   PricingAPI
	region    string
	offline   *catalog.Catalog
	clk       clock.PassiveClock
	typesTTL  time.Duration
	pricesTTL time.Duration

	mu       sync.Mutex
	types    []ec2Type
	typesAt  time.Time
	prices   *prices
	pricesAt time.Time
	version  uint64
}

func (s *ec2DataSource) get(ctx context.Context) (*ec2Data, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	if s.types == nil || now.Sub(s.typesAt) >= s.typesTTL {
		types, err := fetchInstanceTypes(ctx, s.ec2)
		switch {
		case err == nil:
			s.types, s.typesAt = types, now
			s.version++
		case s.types == nil:
			return nil, err
		default:
			log.FromContext(ctx).Error(err, "refreshing instance types failed; keeping the cached ones", "age", now.Sub(s.typesAt))
		}
	}
	if s.prices == nil || now.Sub(s.pricesAt) >= s.pricesTTL {
		p, err := s.fetchPrices(ctx, now)
		switch {
		case err == nil:
			s.prices, s.pricesAt = p, now
			s.version++
		case s.prices == nil:
			return nil, err
		default:
			log.FromContext(ctx).Error(err, "refreshing prices failed; keeping the cached ones", "age", now.Sub(s.pricesAt))
		}
	}
	return &ec2Data{types: s.types, prices: s.prices, version: s.version}, nil
}

// fetchPrices reads spot prices (required) and on-demand prices (from the Pricing API, falling back to the offline
// table when the API fails: the table is documented as the source of last resort).
func (s *ec2DataSource) fetchPrices(ctx context.Context, now time.Time) (*prices, error) {
	spot, err := fetchSpotPrices(ctx, s.ec2, now)
	if err != nil {
		return nil, err
	}
	od, err := fetchOnDemandPrices(ctx, s.pricing, s.region)
	if err != nil {
		if s.offline == nil {
			return nil, err
		}
		log.FromContext(ctx).Error(err, "on-demand prices from the Pricing API failed; using the offline price table", "table", s.offline.Name, "version", s.offline.Version)
		od = map[string]float64{}
	}
	return &prices{onDemand: od, spot: spot}, nil
}

// fetchInstanceTypes reads every instance type (DescribeInstanceTypes, paginated) and where it is offered
// (DescribeInstanceTypeOfferings by availability zone, paginated). Types that are not x86_64 or arm64 are dropped.
func fetchInstanceTypes(ctx context.Context, api EC2API) ([]ec2Type, error) {
	var types []ec2Type
	pager := ec2.NewDescribeInstanceTypesPaginator(api, &ec2.DescribeInstanceTypesInput{})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance types: %w", err)
		}
		for _, info := range page.InstanceTypes {
			if t, ok := fromInstanceTypeInfo(info); ok {
				types = append(types, t)
			}
		}
	}
	zones := map[string][]string{}
	opager := ec2.NewDescribeInstanceTypeOfferingsPaginator(api, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
	})
	for opager.HasMorePages() {
		page, err := opager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance type offerings: %w", err)
		}
		for _, o := range page.InstanceTypeOfferings {
			typ := string(o.InstanceType)
			zones[typ] = append(zones[typ], aws.ToString(o.Location))
		}
	}
	for i := range types {
		z := zones[types[i].shape.Name]
		slices.Sort(z)
		types[i].zones = slices.Compact(z)
	}
	slices.SortFunc(types, func(a, b ec2Type) int { return strings.Compare(a.shape.Name, b.shape.Name) })
	return types, nil
}

// fromInstanceTypeInfo converts one DescribeInstanceTypes entry.
func fromInstanceTypeInfo(info ec2types.InstanceTypeInfo) (ec2Type, bool) {
	name := string(info.InstanceType)
	arch := ""
	if info.ProcessorInfo != nil {
		for _, a := range info.ProcessorInfo.SupportedArchitectures {
			switch a {
			case ec2types.ArchitectureTypeX8664:
				arch = "amd64"
			case ec2types.ArchitectureTypeArm64:
				arch = "arm64"
			}
		}
	}
	if name == "" || arch == "" || info.VCpuInfo == nil || info.MemoryInfo == nil {
		return ec2Type{}, false
	}
	family, size, category, generation := catalog.SplitName(name)
	shape := catalog.InstanceType{
		Name: name, Family: family, Size: size, Category: category, Generation: generation,
		Arch:      arch,
		CPU:       int64(aws.ToInt32(info.VCpuInfo.DefaultVCpus)),
		MemoryMiB: aws.ToInt64(info.MemoryInfo.SizeInMiB),
		Burstable: aws.ToBool(info.BurstablePerformanceSupported),
	}
	if n := info.NetworkInfo; n != nil {
		shape.ENIs = defaultCardInterfaces(n)
		shape.NetworkCards = int64(max(1, len(n.NetworkCards)))
		shape.IPsPerENI = int64(aws.ToInt32(n.Ipv4AddressesPerInterface))
		if shape.ENIs > 0 && shape.IPsPerENI > 0 {
			shape.Pods = catalog.MaxPods(shape.ENIs, shape.IPsPerENI)
		}
	}
	if shape.Pods == 0 {
		// Without network figures EC2 gives no basis for the CNI limit; 110 is the kubelet's default.
		shape.Pods = 110
	}
	if g := info.GpuInfo; g != nil {
		for _, gpu := range g.Gpus {
			shape.GPUs += int64(aws.ToInt32(gpu.Count))
			// EC2 names GPUs for people ("Radeon Pro V520", "T4g"); labels need "radeon-pro-v520", "t4g".
			shape.GPUName = catalog.LabelValue(aws.ToString(gpu.Name))
			shape.GPUManufacturer = catalog.LabelValue(aws.ToString(gpu.Manufacturer))
			if gpu.MemoryInfo != nil {
				shape.GPUMemoryMiB = int64(aws.ToInt32(gpu.MemoryInfo.SizeInMiB))
			}
		}
	}
	return ec2Type{shape: shape, capacityTypes: usageClasses(info)}, true
}

// defaultCardInterfaces is the network interfaces of the default network card: the VPC CNI attaches pod ENIs there
// only, so its max-pods formula counts them, not the type's maximum over all cards (p5.48xlarge: 2 of 64). Without
// card figures the type's maximum is all there is.
func defaultCardInterfaces(n *ec2types.NetworkInfo) int64 {
	def := aws.ToInt32(n.DefaultNetworkCardIndex)
	for _, c := range n.NetworkCards {
		if aws.ToInt32(c.NetworkCardIndex) == def && aws.ToInt32(c.MaximumNetworkInterfaces) > 0 {
			return int64(aws.ToInt32(c.MaximumNetworkInterfaces))
		}
	}
	return int64(aws.ToInt32(n.MaximumNetworkInterfaces))
}

// instanceTypeSettings are what a node class changes about instance types.
type instanceTypeSettings struct {
	zones            []string // where the node class has subnets
	archs            []string // architectures its AMIs boot; empty means any
	ephemeralStorage resource.Quantity
	maxPods          *int32
	podsPerCore      *int32
	systemReserved   corev1.ResourceList
	kubeReserved     corev1.ResourceList
	evictionHard     map[string]string
}

// settingsFor reads the instance type settings of a (Ready) node class.
func settingsFor(nc *apiv1.EC2NodeClass) (instanceTypeSettings, error) {
	s := instanceTypeSettings{ephemeralStorage: rootVolumeSize(nc.Spec.BlockDeviceMappings)}
	for _, sn := range nc.Status.Subnets {
		s.zones = append(s.zones, sn.Zone)
	}
	slices.Sort(s.zones)
	s.zones = slices.Compact(s.zones)
	s.archs = amiArchitectures(nc.Status.AMIs)
	if k := nc.Spec.Kubelet; k != nil {
		s.maxPods, s.podsPerCore = k.MaxPods, k.PodsPerCore
		var err error
		if s.systemReserved, err = resourceList("kubelet.systemReserved", k.SystemReserved); err != nil {
			return s, err
		}
		if s.kubeReserved, err = resourceList("kubelet.kubeReserved", k.KubeReserved); err != nil {
			return s, err
		}
		s.evictionHard = k.EvictionHard
	}
	return s, nil
}

// amiArchitectures are the kubernetes.io/arch values the AMIs' requirements allow, or nil when one of them allows
// any architecture.
func amiArchitectures(amis []apiv1.AMI) []string {
	var archs []string
	for _, ami := range amis {
		found := false
		for _, r := range ami.Requirements {
			if r.Key == apiv1.ArchLabelKey && r.Operator == corev1.NodeSelectorOpIn {
				archs = append(archs, r.Values...)
				found = true
			}
		}
		if !found {
			return nil
		}
	}
	slices.Sort(archs)
	return slices.Compact(archs)
}

func rootVolumeSize(bdms []apiv1.BlockDeviceMapping) resource.Quantity {
	for _, m := range bdms {
		if m.RootVolume && m.EBS.VolumeSize != nil {
			return m.EBS.VolumeSize.DeepCopy()
		}
	}
	if len(bdms) > 0 && bdms[0].EBS.VolumeSize != nil {
		return bdms[0].EBS.VolumeSize.DeepCopy()
	}
	return *resource.NewQuantity(defaultRootVolumeGiB<<30, resource.BinarySI)
}

func resourceList(field string, m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s[%s] %q: must be a quantity such as 100m or 1Gi: %w", field, k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// buildInstanceTypes turns EC2's data into the instance types a node class can launch: its AMIs' architectures, in
// its subnets' zones, with its kubelet settings, with prices, and with availability from the unavailable-offerings
// cache. Types with no priced offering in those zones are left out.
func buildInstanceTypes(data *ec2Data, s instanceTypeSettings, opts *Options, unavailable *UnavailableOfferings) ([]*cloudprovider.InstanceType, error) {
	var out []*cloudprovider.InstanceType
	for _, t := range data.types {
		if len(s.archs) > 0 && !slices.Contains(s.archs, t.shape.Arch) {
			continue
		}
		offerings := offeringsFor(t, s.zones, data.prices, opts.Catalog, unavailable)
		if len(offerings) == 0 {
			continue
		}
		it, err := instanceTypeFor(t.shape, s, opts)
		if err != nil {
			return nil, err
		}
		it.Offerings = offerings
		out = append(out, it)
	}
	return out, nil
}

func offeringsFor(t ec2Type, zones []string, p *prices, offline *catalog.Catalog, unavailable *UnavailableOfferings) []cloudprovider.Offering {
	var out []cloudprovider.Offering
	for _, zone := range t.zones {
		if !slices.Contains(zones, zone) {
			continue
		}
		for _, ct := range t.capacityTypes {
			var price float64
			var ok bool
			if ct == apiv1.CapacityTypeSpot {
				price, ok = p.spot[t.shape.Name][zone]
			} else {
				price, ok = p.onDemandPrice(t.shape.Name, offline)
			}
			if !ok {
				continue
			}
			out = append(out, cloudprovider.Offering{
				Zone: zone, CapacityType: ct, PricePerHour: price,
				Available: !unavailable.IsUnavailable(t.shape.Name, zone, ct),
			})
		}
	}
	return out
}

// instanceTypeFor computes capacity and overhead of one shape under a node class's kubelet settings: pods from
// kubelet.maxPods (else the ENI limit), capped by podsPerCore; memory less the VM overhead; kube-reserved by the
// EKS formula unless kubelet.kubeReserved says otherwise; system-reserved; the hard eviction thresholds.
func instanceTypeFor(shape catalog.InstanceType, s instanceTypeSettings, opts *Options) (*cloudprovider.InstanceType, error) {
	if s.maxPods != nil {
		shape.Pods = int64(*s.maxPods)
	}
	if s.podsPerCore != nil {
		shape.Pods = min(shape.Pods, int64(*s.podsPerCore)*shape.CPU)
	}
	storage := s.ephemeralStorage.DeepCopy()
	memoryMiB := catalog.CapacityMemoryMiB(shape.MemoryMiB, opts.VMMemoryOverheadPercent)
	eviction, err := evictionThreshold(s.evictionHard, memoryMiB, storage)
	if err != nil {
		return nil, err
	}
	it := shape.ToInstanceType(opts.Region, catalog.Options{
		EphemeralStorage:        &storage,
		VMMemoryOverheadPercent: opts.VMMemoryOverheadPercent,
		SystemReserved:          s.systemReserved,
		EvictionThreshold:       eviction,
	})
	if len(s.kubeReserved) > 0 {
		kr := it.Overhead.KubeReserved.DeepCopy()
		maps.Copy(kr, s.kubeReserved.DeepCopy())
		it.Overhead.KubeReserved = kr
	}
	return it, nil
}

// evictionThreshold converts kubelet.evictionHard into reserved resources: memory.available (default 100Mi) and
// nodefs.available (default 10%, as the kubelet's own default), each a quantity or a percentage of the capacity.
func evictionThreshold(evictionHard map[string]string, memoryMiB int64, storage resource.Quantity) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, e := range []struct {
		signal   string
		resource corev1.ResourceName
		def      string
		capacity int64
	}{
		{"memory.available", corev1.ResourceMemory, "100Mi", memoryMiB << 20},
		{"nodefs.available", corev1.ResourceEphemeralStorage, "10%", storage.Value()},
	} {
		v, ok := evictionHard[e.signal]
		if !ok {
			v = e.def
		}
		if pct, isPct := strings.CutSuffix(v, "%"); isPct {
			f, err := resource.ParseQuantity(pct)
			if err != nil {
				return nil, fmt.Errorf("kubelet.evictionHard[%s] %q: must be a percentage such as 10%% or a quantity such as 100Mi", e.signal, v)
			}
			bytes := int64(math.Ceil(float64(e.capacity) * f.AsApproximateFloat64() / 100))
			out[e.resource] = *resource.NewQuantity(bytes, resource.BinarySI)
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("kubelet.evictionHard[%s] %q: must be a percentage such as 10%% or a quantity such as 100Mi", e.signal, v)
		}
		out[e.resource] = q
	}
	return out, nil
}

// shape returns a cached instance type's shape without fetching anything.
func (s *ec2DataSource) shape(name string) (catalog.InstanceType, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := slices.BinarySearchFunc(s.types, name, func(t ec2Type, n string) int { return strings.Compare(t.shape.Name, n) })
	if !ok {
		return catalog.InstanceType{}, false
	}
	return s.types[i].shape, true
}
