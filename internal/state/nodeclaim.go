package state

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// MaxInstanceTypeOptions bounds the instance types a NodeClaim carries: enough for the cloud to fall back when the
// cheapest is out of capacity, few enough to keep the object small.
const MaxInstanceTypeOptions = 60

// NodeClaimFor builds the NodeClaim for a planned node: the NodePool's template, with requirements narrowed to the
// plan (the instance types that fit its pods, cheapest first) and requests for its pods and daemonsets. Provisioning
// launches these for pending pods; disruption launches them as replacements.
func NodeClaimFor(np *apiv1.NodePool, planned *scheduling.NodeClaim) *apiv1.NodeClaim {
	labels := map[string]string{apiv1.NodePoolLabelKey: np.Name}
	for k, v := range np.Spec.Template.ObjectMeta.Labels {
		labels[k] = v
	}
	var requests scheduling.Resources
	for _, pod := range planned.Pods {
		requests = requests.Add(scheduling.PodRequests(pod))
	}
	for _, pod := range planned.DaemonSetPods {
		requests = requests.Add(scheduling.PodRequests(pod))
	}
	tmpl := np.Spec.Template.Spec
	annotations := NodePoolHashAnnotations(np)
	for k, v := range np.Spec.Template.ObjectMeta.Annotations {
		annotations[k] = v
	}
	return &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: np.Name + "-",
			Labels:       labels,
			Annotations:  annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         apiv1.GroupVersion.String(),
				Kind:               apiv1.NodePoolKind,
				Name:               np.Name,
				UID:                np.UID,
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: apiv1.NodeClaimSpec{
			Requirements:           claimRequirements(planned),
			Resources:              apiv1.ResourceRequirements{Requests: requests.List()},
			Taints:                 tmpl.Taints,
			StartupTaints:          tmpl.StartupTaints,
			NodeClassRef:           tmpl.NodeClassRef,
			ExpireAfter:            tmpl.ExpireAfter,
			TerminationGracePeriod: tmpl.TerminationGracePeriod,
		},
	}
}

// claimRequirements are the plan's narrowed requirements as API requirements, with the instance type pinned to the
// options that fit. Attributes of the instance type itself (family, size, cpu, memory, gpu…) are left to that pin:
// the options already satisfy them, and a type that lacks a label (no GPU name on a CPU type) would fail an In list
// built from the types that have it. The hostname, which the plan uses for placeholders, is dropped too.
func claimRequirements(planned *scheduling.NodeClaim) []apiv1.NodeSelectorRequirementWithMinValues {
	var out []apiv1.NodeSelectorRequirementWithMinValues
	for _, r := range planned.Requirements.List() {
		if r.Key == apiv1.HostnameLabelKey || r.Key == apiv1.InstanceTypeLabelKey ||
			(slices.Contains(apiv1.InstanceLabelKeys, r.Key) && r.Key != apiv1.CapacityTypeLabelKey) {
			continue
		}
		req := apiv1.NodeSelectorRequirementWithMinValues{Key: r.Key, Operator: corev1.NodeSelectorOperator(r.Operator), Values: r.Values}
		if r.MinValues != nil {
			req.MinValues = ptr.To(int32(*r.MinValues))
		}
		out = append(out, req)
	}
	names := make([]string, 0, len(planned.InstanceTypeOptions))
	limit := MaxInstanceTypeOptions
	if m := planned.Requirements.MinValues(apiv1.InstanceTypeLabelKey); m > limit {
		limit = m
	}
	out, pinned := pinOverlaidCapacityType(out, planned)
	for _, o := range planned.InstanceTypeOptions {
		if len(names) == limit {
			break
		}
		// A claim pinned to an overlaid capacity type offers only the types the overlay discounts: the provider
		// orders what it may launch by its own list prices, which know nothing of the discount.
		if pinned && (o.Offering.Overlay == "" || o.Offering.CapacityType != planned.Cheapest().Offering.CapacityType) {
			continue
		}
		names = append(names, o.InstanceType.Name)
	}
	itReq := apiv1.NodeSelectorRequirementWithMinValues{Key: apiv1.InstanceTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: names}
	if m := planned.Requirements.MinValues(apiv1.InstanceTypeLabelKey); m > 0 {
		itReq.MinValues = ptr.To(int32(m))
	}
	return append(out, itReq)
}

// pinOverlaidCapacityType restricts the claim to the capacity type of its cheapest option when a NodeOverlay made a
// capacity type other than spot the cheapest (a Savings Plan or Reserved Instance discount on on-demand): a provider
// launches spot whenever a claim allows it, which would throw the discount away.
// It reports whether it pinned. A claim whose minValues needs more instance types is not pinned (flexibility first).
func pinOverlaidCapacityType(reqs []apiv1.NodeSelectorRequirementWithMinValues, planned *scheduling.NodeClaim) ([]apiv1.NodeSelectorRequirementWithMinValues, bool) {
	if len(planned.InstanceTypeOptions) == 0 || planned.Requirements.MinValues(apiv1.InstanceTypeLabelKey) > 0 {
		return reqs, false
	}
	cheapest := planned.Cheapest().Offering
	if cheapest.Overlay == "" || cheapest.CapacityType == apiv1.CapacityTypeSpot {
		return reqs, false
	}
	pinned := apiv1.NodeSelectorRequirementWithMinValues{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{cheapest.CapacityType}}
	for i, r := range reqs {
		if r.Key == apiv1.CapacityTypeLabelKey {
			reqs[i] = pinned
			return reqs, true
		}
	}
	return append(reqs, pinned), true
}
