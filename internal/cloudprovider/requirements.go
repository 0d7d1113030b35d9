package cloudprovider

import (
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
	for _, r := range reqs {
		if r.Key == apiv1.NodePoolLabelKey || !slices.Contains(apiv1.WellKnownLabelKeys, r.Key) {
			continue
		}
		v, ok := it.offeringLabel(o, r.Key)
		if !requirementMatches(r.Operator, r.Values, v, ok) {
			return false
		}
	}
	return true
}

// offeringLabel is the label key of a node launched from the offering: its zone and capacity type, else the
// type's own label.
func (it *InstanceType) offeringLabel(o Offering, key string) (string, bool) {
	switch key {
	case apiv1.ZoneLabelKey:
		return o.Zone, true
	case apiv1.CapacityTypeLabelKey:
		return o.CapacityType, true
	}
	v, ok := it.Labels[key]
	return v, ok
}

// requirementMatches evaluates one requirement as a node selector does on a label with value v (ok when the node
// has it): a missing label fails In, Exists, Gt and Lt and passes NotIn and DoesNotExist.
func requirementMatches(op corev1.NodeSelectorOperator, values []string, v string, ok bool) bool {
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
	for name, q := range requests {
		if q.Sign() <= 0 {
			continue // fits whatever the type has, as allocatable is never below zero
		}
		have, ok := it.Capacity[name]
		if !ok {
			return false
		}
		// q fits within allocatable = capacity - overhead exactly when q + overhead fits within capacity; summed in
		// place, without building the allocatable list (a launch asks this of every type).
		need := q.DeepCopy()
		for _, rl := range []corev1.ResourceList{it.Overhead.KubeReserved, it.Overhead.SystemReserved, it.Overhead.EvictionThreshold} {
			if o, ok := rl[name]; ok {
				need.Add(o)
			}
		}
		if need.Cmp(have) > 0 {
			return false
		}
	}
	return true
}
