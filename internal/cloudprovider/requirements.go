package cloudprovider

import (
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Matches reports whether an offering of the instance type satisfies the requirements: the type's labels plus the
// offering's zone and capacity type are checked against every requirement on a key that describes a machine (the
// well-known keys of api/v1 other than tailor.sh/nodepool). Requirements on other keys are the NodeClaim's own labels,
// which any machine can carry, and are skipped.
//
// It is the providers' last check before launching; the simulator plans with a richer requirement algebra.
func (it *InstanceType) Matches(o Offering, reqs []apiv1.NodeSelectorRequirementWithMinValues) bool {
	labels := maps.Clone(it.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[apiv1.ZoneLabelKey] = o.Zone
	labels[apiv1.CapacityTypeLabelKey] = o.CapacityType
	for _, r := range reqs {
		if r.Key == apiv1.NodePoolLabelKey || !slices.Contains(apiv1.WellKnownLabelKeys, r.Key) {
			continue
		}
		if !requirementMatches(r.Operator, r.Values, labels, r.Key) {
			return false
		}
	}
	return true
}

// requirementMatches evaluates one requirement as a node selector does: a missing label fails In, Exists, Gt and
// Lt and passes NotIn and DoesNotExist.
func requirementMatches(op corev1.NodeSelectorOperator, values []string, labels map[string]string, key string) bool {
	v, ok := labels[key]
	switch op {
	case corev1.NodeSelectorOpIn:
		return ok && slices.Contains(values, v)
	case corev1.NodeSelectorOpNotIn:
		return !ok || !slices.Contains(values, v)
	case corev1.NodeSelectorOpExists:
		return ok
	case corev1.NodeSelectorOpDoesNotExist:
		return !ok
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !ok || len(values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		bound, err2 := strconv.ParseInt(values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if op == corev1.NodeSelectorOpGt {
			return have > bound
		}
		return have < bound
	}
	return false
}

// Fits reports whether pods requesting requests fit on a node of this type: every requested resource is within
// Allocatable (a resource the type lacks fits only when zero is requested).
func (it *InstanceType) Fits(requests corev1.ResourceList) bool {
	alloc := it.Allocatable()
	for name, q := range requests {
		have, ok := alloc[name]
		if !ok {
			if q.Sign() > 0 {
				return false
			}
			continue
		}
		if q.Cmp(have) > 0 {
			return false
		}
	}
	return true
}
