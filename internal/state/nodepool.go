package state

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// SchedulingNodePool is the simulator's view of a NodePool: its template's requirements and labels (labels act as
// In requirements), taints, limits, what its nodes already use, and the instance types it may launch.
func SchedulingNodePool(np *apiv1.NodePool, instanceTypes []*cloudprovider.InstanceType, usage corev1.ResourceList) (*scheduling.NodePool, error) {
	reqs := make([]scheduling.Requirement, 0, len(np.Spec.Template.Spec.Requirements)+len(np.Spec.Template.ObjectMeta.Labels)+1)
	for _, r := range np.Spec.Template.Spec.Requirements {
		reqs = append(reqs, Requirement(r))
	}
	labels := map[string]string{apiv1.NodePoolLabelKey: np.Name}
	for k, v := range np.Spec.Template.ObjectMeta.Labels {
		labels[k] = v
	}
	for k, v := range labels {
		reqs = append(reqs, scheduling.Requirement{Key: k, Operator: scheduling.OpIn, Values: []string{v}})
	}
	requirements, err := scheduling.NewRequirements(reqs...)
	if err != nil {
		return nil, fmt.Errorf("nodepool %q: %w", np.Name, err)
	}
	weight := int32(0)
	if np.Spec.Weight != nil {
		weight = *np.Spec.Weight
	}
	return &scheduling.NodePool{
		Name:          np.Name,
		Weight:        weight,
		Requirements:  requirements,
		Labels:        labels,
		Taints:        np.Spec.Template.Spec.Taints,
		StartupTaints: np.Spec.Template.Spec.StartupTaints,
		Limits:        np.Spec.Limits,
		Usage:         usage,
		InstanceTypes: instanceTypes,
	}, nil
}

// Requirement converts an API requirement to the simulator's.
func Requirement(r apiv1.NodeSelectorRequirementWithMinValues) scheduling.Requirement {
	out := scheduling.Requirement{Key: r.Key, Operator: scheduling.Operator(r.Operator), Values: r.Values}
	if r.MinValues != nil {
		m := int(*r.MinValues)
		out.MinValues = &m
	}
	return out
}
