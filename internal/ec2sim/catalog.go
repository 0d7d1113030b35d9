package ec2sim

import (
	"strings"

	"github.com/tailor-sh/tailor/internal/catalog"
)

// DefaultVMMemoryOverheadPercent is the share of advertised memory a booted instance's kubelet does not see,
// because the hypervisor and firmware keep it. EC2 instances report roughly 5–8% less than advertised.
const DefaultVMMemoryOverheadPercent = 0.075

// InstanceTypesFromCatalog turns an instance catalogue into the simulator's instance types: the raw EC2 attributes
// (vCPUs, memory, GPUs, ENIs) for DescribeInstanceTypes, the node capacity and default reservations from the
// catalogue's own conversion (the same Tailor's scheduler uses), and the offerings with their prices. When region
// differs from the catalogue's, zones are renamed by their letter (us-east-1a → <region>a).
func InstanceTypesFromCatalog(c *catalog.Catalog, region string, vmMemoryOverheadPercent float64) []InstanceType {
	opts := catalog.Options{VMMemoryOverheadPercent: vmMemoryOverheadPercent}
	out := make([]InstanceType, 0, len(c.InstanceTypes))
	for _, e := range c.InstanceTypes {
		cp := e.ToInstanceType(c.Region, opts)
		it := InstanceType{
			Name:            e.Name,
			Arch:            e.Arch,
			VCPUs:           e.CPU,
			MemoryMiB:       e.MemoryMiB,
			GPUs:            e.GPUs,
			GPUName:         e.GPUName,
			GPUManufacturer: e.GPUManufacturer,
			GPUMemoryMiB:    e.GPUMemoryMiB,
			ENIs:            e.ENIs,
			IPsPerENI:       e.IPsPerENI,
			NetworkCards:    e.NetworkCards,
			Capacity:        cp.Capacity,
			Reserved:        cp.Overhead.Total(),
		}
		// Ephemeral storage comes from each launch template's root volume, not from the catalogue's assumption.
		delete(it.Capacity, "ephemeral-storage")
		for _, o := range e.Offerings {
			zone := o.Zone
			if c.Region != "" && region != "" && region != c.Region {
				zone = region + strings.TrimPrefix(o.Zone, c.Region)
			}
			it.Offerings = append(it.Offerings, Offering{Zone: zone, CapacityType: o.CapacityType, PricePerHour: o.PricePerHour,
				Unavailable: !o.Available})
		}
		out = append(out, it)
	}
	return out
}
