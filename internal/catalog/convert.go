package catalog

import (
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Extended resources the GPU device plugins register.
const (
	ResourceNVIDIAGPU corev1.ResourceName = "nvidia.com/gpu"
	ResourceAMDGPU    corev1.ResourceName = "amd.com/gpu"
)

// Defaults of Options.
const (
	// DefaultEphemeralStorage is the root volume Tailor assumes when the node class does not say: 20Gi.
	DefaultEphemeralStorage = 20 * 1024 * 1024 * 1024
	// DefaultEvictionMemoryMiB is the kubelet's hard eviction threshold for memory.available.
	DefaultEvictionMemoryMiB = 100
)

// Options shape the conversion to cloudprovider.InstanceType. The zero value gives the defaults.
type Options struct {
	// EphemeralStorage is the root volume size behind the ephemeral-storage capacity; zero means 20Gi.
	EphemeralStorage *resource.Quantity
	// VMMemoryOverheadPercent is the share of the advertised memory a node never reports because the hypervisor
	// and firmware keep it, for example 0.075. Zero (the default) reports the advertised memory as capacity.
	VMMemoryOverheadPercent float64
	// SystemReserved is reserved for system daemons on every node; none by default.
	SystemReserved corev1.ResourceList
	// EvictionThreshold is the kubelet's hard eviction threshold; nil means memory 100Mi. Pass an empty list for none.
	EvictionThreshold corev1.ResourceList
}

// ToInstanceTypes converts every entry of the catalogue, in name order.
func (c *Catalog) ToInstanceTypes(opts Options) []*cloudprovider.InstanceType {
	out := make([]*cloudprovider.InstanceType, 0, len(c.InstanceTypes))
	for _, t := range c.InstanceTypes {
		out = append(out, t.ToInstanceType(c.Region, opts))
	}
	return out
}

// Named converts the named instance types, in the order given, for a provider's or a test's use; a name the
// catalogue does not sell is an error naming it.
func (c *Catalog) Named(opts Options, names ...string) ([]*cloudprovider.InstanceType, error) {
	out := make([]*cloudprovider.InstanceType, 0, len(names))
	for _, name := range names {
		t, ok := c.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("catalogue %s has no instance type %q", c.Region, name)
		}
		out = append(out, t.ToInstanceType(c.Region, opts))
	}
	return out, nil
}

// ToInstanceType converts one entry: labels from its attributes (and the region when known), capacity, the node
// overhead and the offerings. When the entry carries an overhead it is the whole overhead (as kube-reserved);
// otherwise kube-reserved follows the EKS formula, system-reserved and the eviction threshold come from opts.
func (t InstanceType) ToInstanceType(region string, opts Options) *cloudprovider.InstanceType {
	it := &cloudprovider.InstanceType{
		Name:     t.Name,
		Labels:   t.labels(region),
		Capacity: t.capacity(opts),
		// Every AWS type of category t (t2, t3, t3a, t4g) is burstable-performance.
		Burstable: t.Burstable || t.Category == "t",
	}
	if t.Overhead != nil {
		it.Overhead = cloudprovider.Overhead{KubeReserved: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(math.Round(t.Overhead.CPU*1000)), resource.DecimalSI),
			corev1.ResourceMemory: mebibytes(t.Overhead.MemoryMiB),
		}}
	} else {
		eviction := opts.EvictionThreshold
		if eviction == nil {
			eviction = corev1.ResourceList{corev1.ResourceMemory: mebibytes(DefaultEvictionMemoryMiB)}
		}
		it.Overhead = cloudprovider.Overhead{
			KubeReserved: corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewMilliQuantity(KubeReservedMilliCPU(t.CPU), resource.DecimalSI),
				corev1.ResourceMemory: mebibytes(KubeReservedMemoryMiB(t.Pods)),
			},
			SystemReserved:    opts.SystemReserved.DeepCopy(),
			EvictionThreshold: eviction.DeepCopy(),
		}
	}
	for _, o := range t.Offerings {
		it.Offerings = append(it.Offerings, cloudprovider.Offering{
			Zone: o.Zone, CapacityType: o.CapacityType, PricePerHour: o.PricePerHour, Available: o.Available,
		})
	}
	return it
}

func (t InstanceType) labels(region string) map[string]string {
	l := map[string]string{
		apiv1.InstanceTypeLabelKey:   t.Name,
		apiv1.ArchLabelKey:           t.Arch,
		apiv1.OSLabelKey:             "linux",
		apiv1.InstanceCPULabelKey:    strconv.FormatInt(t.CPU, 10),
		apiv1.InstanceMemoryLabelKey: strconv.FormatInt(t.MemoryMiB, 10),
	}
	// Values derived from names are label-safe whatever the name (a valid one is kept as it is).
	set := func(k, v string) {
		if len(validation.IsValidLabelValue(v)) > 0 {
			v = LabelValue(v)
		}
		if v != "" {
			l[k] = v
		}
	}
	set(apiv1.RegionLabelKey, region)
	set(apiv1.InstanceFamilyLabelKey, t.Family)
	set(apiv1.InstanceCategoryLabelKey, t.Category)
	set(apiv1.InstanceSizeLabelKey, t.Size)
	if t.Generation > 0 {
		l[apiv1.InstanceGenerationLabelKey] = strconv.Itoa(t.Generation)
	}
	if t.GPUs > 0 {
		l[apiv1.InstanceGPUCountLabelKey] = strconv.FormatInt(t.GPUs, 10)
		set(apiv1.InstanceGPUNameLabelKey, t.GPUName)
		set(apiv1.InstanceGPUManufacturerLabelKey, t.GPUManufacturer)
		if t.GPUMemoryMiB > 0 {
			l[apiv1.InstanceGPUMemoryLabelKey] = strconv.FormatInt(t.GPUMemoryMiB, 10)
		}
	}
	for k, v := range t.Labels {
		l[k] = v
	}
	return l
}

func (t InstanceType) capacity(opts Options) corev1.ResourceList {
	storage := resource.NewQuantity(DefaultEphemeralStorage, resource.BinarySI)
	if opts.EphemeralStorage != nil && !opts.EphemeralStorage.IsZero() {
		storage = opts.EphemeralStorage
	}
	c := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(t.CPU, resource.DecimalSI),
		corev1.ResourceMemory:           mebibytes(CapacityMemoryMiB(t.MemoryMiB, opts.VMMemoryOverheadPercent)),
		corev1.ResourcePods:             *resource.NewQuantity(t.Pods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: storage.DeepCopy(),
	}
	if t.GPUs > 0 {
		name := ResourceNVIDIAGPU
		if t.GPUManufacturer == GPUManufacturerAMD {
			name = ResourceAMDGPU
		}
		c[name] = *resource.NewQuantity(t.GPUs, resource.DecimalSI)
	}
	return c
}

// CapacityMemoryMiB is the memory a node reports: the advertised memory less the VM overhead share, rounded
// down to the MiB.
func CapacityMemoryMiB(advertisedMiB int64, vmOverheadPercent float64) int64 {
	if vmOverheadPercent <= 0 {
		return advertisedMiB
	}
	return int64(math.Floor(float64(advertisedMiB) * (1 - vmOverheadPercent)))
}

// KubeReservedMilliCPU is the EKS kube-reserved cpu: 6% of the first core, 1% of the second, 0.5% of the third
// and fourth, 0.25% of every core above four, each range rounded down to the millicore.
func KubeReservedMilliCPU(vcpus int64) int64 {
	ranges := []struct {
		start, end int64 // millicores
		rate       int64 // share of the range in units of 1/4000 (0.025%), to stay in integers
	}{
		{0, 1000, 240}, {1000, 2000, 40}, {2000, 4000, 20}, {4000, math.MaxInt64, 10},
	}
	milli := vcpus * 1000
	var reserved int64
	for _, r := range ranges {
		if milli <= r.start {
			break
		}
		span := min(milli, r.end) - r.start
		reserved += span * r.rate / 4000
	}
	return reserved
}

// KubeReservedMemoryMiB is the EKS kube-reserved memory: 11Mi per pod the node may run plus 255Mi.
func KubeReservedMemoryMiB(maxPods int64) int64 {
	return 11*maxPods + 255
}

func mebibytes(mib int64) resource.Quantity {
	return *resource.NewQuantity(mib*1024*1024, resource.BinarySI)
}
