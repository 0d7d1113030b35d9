package ec2sim

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// InstanceType is what the simulated region knows about one machine shape: the attributes DescribeInstanceTypes
// reports, the node a booted instance registers, and where the shape is sold at what price.
type InstanceType struct {
	// Name is the EC2 name, for example "m5.large".
	Name string
	// Arch is the Kubernetes architecture, "amd64" or "arm64".
	Arch string
	// VCPUs and MemoryMiB are what EC2 advertises.
	VCPUs     int64
	MemoryMiB int64
	// GPUs is the number of accelerators; GPUName, GPUManufacturer ("nvidia", "amd") and GPUMemoryMiB (per GPU)
	// describe them.
	GPUs            int64
	GPUName         string
	GPUManufacturer string
	GPUMemoryMiB    int64
	// ENIs and IPsPerENI are the network interface limits of one network card (the default one).
	ENIs      int64
	IPsPerENI int64
	// NetworkCards is the number of network cards, each with ENIs interfaces; 0 means one. DescribeInstanceTypes
	// reports ENIs × NetworkCards as the type's maximum interfaces, as EC2 does.
	NetworkCards int64
	// Capacity is what the kubelet of a booted instance reports (cpu, memory, pods, and extended resources such as
	// nvidia.com/gpu). ephemeral-storage comes from the launch template's root volume instead.
	Capacity corev1.ResourceList
	// Reserved is what the node keeps for itself when the user data names no reservation of its own, as the
	// EKS-optimized AMIs compute it for the instance type.
	Reserved corev1.ResourceList
	// Offerings are where and how the shape is sold.
	Offerings []Offering
}

// Offering is one zone × capacity type in which a shape is sold.
type Offering struct {
	Zone string
	// CapacityType is "spot" or "on-demand".
	CapacityType string
	// PricePerHour in US dollars: the on-demand price, or the current spot price.
	PricePerHour float64
	// Unavailable offerings exist but their pools are empty (InsufficientInstanceCapacity) unless a capacity rule
	// sizes them.
	Unavailable bool
}

// ec2Arch is the architecture name EC2 uses for a Kubernetes one.
func ec2Arch(arch string) string {
	if arch == "amd64" {
		return "x86_64"
	}
	return arch
}

// offering returns the offering of the type in zone for the capacity type.
func (it *InstanceType) offering(zone, capacityType string) (Offering, bool) {
	for _, o := range it.Offerings {
		if o.Zone == zone && o.CapacityType == capacityType {
			return o, true
		}
	}
	return Offering{}, false
}

// onDemandPrice is the lowest on-demand price of the type in any zone, 0 when it is not sold on demand.
func (it *InstanceType) onDemandPrice() float64 {
	price := 0.0
	for _, o := range it.Offerings {
		if o.CapacityType == v1.CapacityTypeOnDemand && (price == 0 || o.PricePerHour < price) {
			price = o.PricePerHour
		}
	}
	return price
}

// gpuResource is the extended resource name the device plugin of the GPU's maker advertises.
func (it *InstanceType) gpuResource() corev1.ResourceName {
	if strings.EqualFold(it.GPUManufacturer, "amd") {
		return "amd.com/gpu"
	}
	return "nvidia.com/gpu"
}

// validate checks one instance type and fills what can be derived: a Capacity from the raw attributes when none
// is given.
func (it *InstanceType) validate() error {
	if it.Name == "" {
		return fmt.Errorf("instance type without a name: set Name, for example \"m5.large\"")
	}
	if it.Arch != "amd64" && it.Arch != "arm64" {
		return fmt.Errorf("instance type %s: arch %q is not supported: use \"amd64\" or \"arm64\"", it.Name, it.Arch)
	}
	if it.VCPUs <= 0 || it.MemoryMiB <= 0 {
		return fmt.Errorf("instance type %s: VCPUs and MemoryMiB must be positive", it.Name)
	}
	for _, o := range it.Offerings {
		if o.CapacityType != v1.CapacityTypeSpot && o.CapacityType != v1.CapacityTypeOnDemand {
			return fmt.Errorf("instance type %s: offering in %s has capacity type %q: use %q or %q",
				it.Name, o.Zone, o.CapacityType, v1.CapacityTypeSpot, v1.CapacityTypeOnDemand)
		}
	}
	if it.Capacity == nil {
		it.Capacity = corev1.ResourceList{}
	}
	if _, ok := it.Capacity[corev1.ResourceCPU]; !ok {
		it.Capacity[corev1.ResourceCPU] = *resource.NewQuantity(it.VCPUs, resource.DecimalSI)
	}
	if _, ok := it.Capacity[corev1.ResourceMemory]; !ok {
		// The kubelet sees less than EC2 advertises: the hypervisor and firmware keep some (about 7.5%).
		mi := it.MemoryMiB - it.MemoryMiB*75/1000
		it.Capacity[corev1.ResourceMemory] = *resource.NewQuantity(mi*1024*1024, resource.BinarySI)
	}
	if _, ok := it.Capacity[corev1.ResourcePods]; !ok {
		pods := int64(110)
		if it.ENIs > 0 && it.IPsPerENI > 1 {
			pods = it.ENIs*(it.IPsPerENI-1) + 2
		}
		it.Capacity[corev1.ResourcePods] = *resource.NewQuantity(pods, resource.DecimalSI)
	}
	if it.GPUs > 0 {
		if _, ok := it.Capacity[it.gpuResource()]; !ok {
			it.Capacity[it.gpuResource()] = *resource.NewQuantity(it.GPUs, resource.DecimalSI)
		}
	}
	if it.ENIs == 0 {
		it.ENIs, it.IPsPerENI = 3, 10
	}
	return nil
}

// typeIndex is the validated, name-sorted list of instance types.
type typeIndex struct {
	list   []*InstanceType
	byName map[string]*InstanceType
}

func newTypeIndex(types []InstanceType) (*typeIndex, error) {
	idx := &typeIndex{byName: map[string]*InstanceType{}}
	for i := range types {
		it := types[i]
		it.Capacity = it.Capacity.DeepCopy()
		it.Reserved = it.Reserved.DeepCopy()
		it.Offerings = slices.Clone(it.Offerings)
		if err := it.validate(); err != nil {
			return nil, err
		}
		if _, dup := idx.byName[it.Name]; dup {
			return nil, fmt.Errorf("instance type %s is listed twice", it.Name)
		}
		idx.byName[it.Name] = &it
		idx.list = append(idx.list, &it)
	}
	slices.SortFunc(idx.list, func(a, b *InstanceType) int { return strings.Compare(a.Name, b.Name) })
	return idx, nil
}
