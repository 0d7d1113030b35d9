package cloudprovider

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func req(key string, op corev1.NodeSelectorOperator, values ...string) apiv1.NodeSelectorRequirementWithMinValues {
	return apiv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: op, Values: values}
}

func TestInstanceTypeMatches(t *testing.T) {
	it := &InstanceType{Name: "m5.large", Labels: map[string]string{
		apiv1.InstanceTypeLabelKey: "m5.large", apiv1.ArchLabelKey: "amd64", apiv1.InstanceCPULabelKey: "2",
	}}
	spotA := Offering{Zone: "us-east-1a", CapacityType: apiv1.CapacityTypeSpot}
	tests := []struct {
		name string
		reqs []apiv1.NodeSelectorRequirementWithMinValues
		want bool
	}{
		{"no requirements", nil, true},
		{"type in", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpIn, "c5.large", "m5.large")}, true},
		{"type not in", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpNotIn, "m5.large")}, false},
		{"zone in", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "us-east-1a")}, true},
		{"zone other", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "us-east-1b")}, false},
		{"capacity type on-demand only", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand)}, false},
		{"cpu gt 1", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceCPULabelKey, corev1.NodeSelectorOpGt, "1")}, true},
		{"cpu lt 2", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceCPULabelKey, corev1.NodeSelectorOpLt, "2")}, false},
		{"gpu exists", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceGPUCountLabelKey, corev1.NodeSelectorOpExists)}, false},
		{"gpu does not exist", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.InstanceGPUCountLabelKey, corev1.NodeSelectorOpDoesNotExist)}, true},
		{"custom key skipped", []apiv1.NodeSelectorRequirementWithMinValues{req("example.com/team", corev1.NodeSelectorOpIn, "a")}, true},
		{"nodepool key skipped", []apiv1.NodeSelectorRequirementWithMinValues{req(apiv1.NodePoolLabelKey, corev1.NodeSelectorOpIn, "default")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := it.Matches(spotA, tt.reqs); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInstanceTypeFits(t *testing.T) {
	it := &InstanceType{
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi")},
		Overhead: Overhead{KubeReserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
	}
	tests := []struct {
		name     string
		requests corev1.ResourceList
		want     bool
	}{
		{"fits", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1900m")}, true},
		{"cpu over allocatable", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, false},
		{"missing resource requested", corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}, false},
		{"missing resource zero", corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("0")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := it.Fits(tt.requests); got != tt.want {
				t.Errorf("Fits = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMatchesAndFitsDoNotAllocate: a launch checks every offering of every instance type the NodeClaim allows
// (about 5,600 offerings of the whole catalogue); each check copied the type's labels or built its allocatable list,
// 4.8 GB of garbage over a scale-up to 1,000 nodes (docs/performance.md).
func TestMatchesAndFitsDoNotAllocate(t *testing.T) {
	it := &InstanceType{Name: "m5.large", Labels: map[string]string{
		apiv1.InstanceTypeLabelKey: "m5.large", apiv1.ArchLabelKey: "amd64", apiv1.InstanceCPULabelKey: "2",
	},
		Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("8Gi")},
		Overhead: Overhead{KubeReserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			SystemReserved: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100Mi")}},
	}
	spotA := Offering{Zone: "us-east-1a", CapacityType: apiv1.CapacityTypeSpot}
	reqs := []apiv1.NodeSelectorRequirementWithMinValues{
		req(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpIn, "c5.large", "m5.large"),
		req(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "us-east-1a"),
		req(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeSpot),
		req(apiv1.InstanceCPULabelKey, corev1.NodeSelectorOpGt, "1"),
	}
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	if !it.Matches(spotA, reqs) || !it.Fits(requests) {
		t.Fatal("the offering should match and the requests fit")
	}
	if n := testing.AllocsPerRun(100, func() { it.Matches(spotA, reqs) }); n != 0 {
		t.Errorf("Matches allocates %v times a call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { it.Fits(requests) }); n != 0 {
		t.Errorf("Fits allocates %v times a call, want 0", n)
	}
}
