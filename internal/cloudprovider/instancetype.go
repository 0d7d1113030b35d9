package cloudprovider

import (
	corev1 "k8s.io/api/core/v1"
)

// InstanceType is one machine shape a cloud can launch, with what it offers and where.
type InstanceType struct {
	// Name is the provider's name for the shape, for example "m7i.large".
	Name string
	// Labels are the single-valued attributes of the shape (arch, os, family, size, generation, cpu, memory, gpu…),
	// keyed by the well-known label keys of api/v1. Zone and capacity type are not here: they vary by offering.
	Labels map[string]string
	// Capacity is what the machine has: cpu, memory, pods, ephemeral-storage and any extended resource.
	Capacity corev1.ResourceList
	// Overhead is what the node keeps for itself; Allocatable is Capacity minus all of it.
	Overhead Overhead
	// Offerings are the zone × capacity type combinations in which the shape can be bought.
	Offerings []Offering
	// Burstable says the shape's vCPUs run at a baseline below 100% and burst on CPU credits (AWS t2, t3, t3a,
	// t4g). Pod CPU requests are not a baseline, so the scheduler launches such shapes only for NodePools that name
	// them (see docs/simulate.md).
	Burstable bool
}

// Overhead is the capacity a node reserves and never gives to pods.
type Overhead struct {
	KubeReserved      corev1.ResourceList
	SystemReserved    corev1.ResourceList
	EvictionThreshold corev1.ResourceList
}

// Total is the sum of every reservation.
func (o Overhead) Total() corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, rl := range []corev1.ResourceList{o.KubeReserved, o.SystemReserved, o.EvictionThreshold} {
		for name, q := range rl {
			sum := total[name]
			sum.Add(q)
			total[name] = sum
		}
	}
	return total
}

// Allocatable is what pods may request on a node of this type: Capacity minus Overhead, never below zero.
func (it *InstanceType) Allocatable() corev1.ResourceList {
	alloc := corev1.ResourceList{}
	overhead := it.Overhead.Total()
	for name, q := range it.Capacity {
		left := q.DeepCopy()
		if o, ok := overhead[name]; ok {
			left.Sub(o)
		}
		if left.Sign() < 0 {
			left.Set(0)
		}
		alloc[name] = left
	}
	return alloc
}

// Offering is one way to buy an instance type: a zone and a capacity type at a price.
type Offering struct {
	// Zone is the availability zone, for example "us-east-1a".
	Zone string
	// CapacityType is api/v1.CapacityTypeSpot, api/v1.CapacityTypeOnDemand or api/v1.CapacityTypeReserved.
	CapacityType string
	// PricePerHour is in US dollars.
	PricePerHour float64
	// Available is false while the provider has recently seen no capacity for it.
	Available bool
	// Overlay names the NodeOverlay that set PricePerHour ("" for the provider's own price), and ListPrice is the
	// provider's price it replaced (see ApplyOverlays).
	Overlay   string
	ListPrice float64
	// ReservationID is the capacity reservation a reserved offering launches into, and ReservationCapacity how many
	// more instances it holds; a plan puts no more NodeClaims on the offering than that.
	ReservationID       string
	ReservationCapacity int
}
