package scheduling

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// ReasonKind says which rule left a pod out. Its values are stable: metrics and events may carry them.
type ReasonKind string

// The kinds of Reason. The zero kind is no rejection.
const (
	// ReasonNoNodePool: the cluster has no NodePool to launch capacity from.
	ReasonNoNodePool ReasonKind = "NoNodePool"
	// ReasonInsufficient: the node has too little of Resource left.
	ReasonInsufficient ReasonKind = "Insufficient"
	// ReasonNoInstanceType: no instance type the NodePool and the pod allow is large enough (Resource names the
	// resource when one is short) or none is left after the pod's requirements.
	ReasonNoInstanceType ReasonKind = "NoInstanceType"
	// ReasonLimit: launching would exceed the NodePool's limit on Resource (ResourceNodes for its node count).
	ReasonLimit ReasonKind = "Limit"
	// ReasonVolumeLimit: the node's or every allowed type's EBS CSI volume attach limit is too low
	// (Resource is the EBS volume resource).
	ReasonVolumeLimit ReasonKind = "VolumeLimit"
	// ReasonTaint: the pod does not tolerate a NoSchedule or NoExecute taint of the node.
	ReasonTaint ReasonKind = "TaintNotTolerated"
	// ReasonHostPort: a host port the pod binds is taken on the node.
	ReasonHostPort ReasonKind = "HostPort"
	// ReasonRequirements: the pod's nodeSelector, node affinity or volume topology conflicts with the node's labels
	// or the NodePool's requirements.
	ReasonRequirements ReasonKind = "Requirements"
	// ReasonTopologySpread: a required topology spread would be violated in every allowed domain.
	ReasonTopologySpread ReasonKind = "TopologySpread"
	// ReasonPodAffinity: no pod the required pod affinity selects runs in an allowed domain.
	ReasonPodAffinity ReasonKind = "PodAffinity"
	// ReasonPodAntiAffinity: the pod's required anti-affinity, or that of a pod already placed, rejects every
	// allowed domain.
	ReasonPodAntiAffinity ReasonKind = "PodAntiAffinity"
	// ReasonNoTopologyDomain: the node offers no value for a topology key the pod's terms need.
	ReasonNoTopologyDomain ReasonKind = "NoTopologyDomain"
	// ReasonPreference: a preference the policy enforces is not met.
	ReasonPreference ReasonKind = "Preference"
	// ReasonMinValues: the instance types that fit would not span a NodePool requirement's minValues.
	ReasonMinValues ReasonKind = "MinValues"
	// ReasonVolume: the pod's volumes cannot be resolved (a missing claim or volume).
	ReasonVolume ReasonKind = "Volume"
	// ReasonRequests: the pod's requests are too large to count.
	ReasonRequests ReasonKind = "Requests"
	// ReasonDRA: the pod asks for DRA devices, which the planner does not support.
	ReasonDRA ReasonKind = "DRA"
	// ReasonReservationFull: the pod's NodeClaim could launch only into a capacity reservation the plan has filled.
	ReasonReservationFull ReasonKind = "ReservationFull"
	// ReasonLeftOut: the pod fits a new node; an earlier decision of the plan left it out.
	ReasonLeftOut ReasonKind = "LeftOut"
	// reasonOtherLane never reaches a user (lanes.go).
	reasonOtherLaneKind ReasonKind = "OtherLane"
)

// Reason is why a pod cannot go somewhere: the rule (Kind), the NodePool whose new node would not take it (empty for
// existing nodes and for reasons about the pod itself), the resource that ran short or hit a limit, if any, and the
// wording. String gives the sentence Tailor shows in events and `tailor simulate`.
type Reason struct {
	Kind ReasonKind
	// NodePool is the NodePool the reason is about; empty for existing capacity and for the pod alone. The reason
	// for existing capacity has the kind and resource of the first node's rejection and words it for all of them.
	NodePool string
	// Resource is the resource that ran short, is too large for every type or hit a limit (Insufficient,
	// NoInstanceType, Limit, VolumeLimit).
	Resource corev1.ResourceName
	// Message words the rejection without the NodePool.
	Message string
}

// String is the reason as Tailor words it: `nodepool "default": <message>`, `nodepool "default" cpu limit 200 would
// be exceeded` for a limit, or the message alone without a NodePool.
func (r Reason) String() string {
	switch {
	case r.NodePool == "":
		return r.Message
	case r.Kind == ReasonLimit:
		return fmt.Sprintf("nodepool %q %s", r.NodePool, r.Message)
	default:
		return fmt.Sprintf("nodepool %q: %s", r.NodePool, r.Message)
	}
}

// rejects reports whether r is a rejection (the zero Reason is none).
func (r Reason) rejects() bool { return r.Kind != "" }

// ReasonStrings words reasons, in order.
func ReasonStrings(reasons []Reason) []string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = r.String()
	}
	return out
}

// reasonf is a Reason of kind without a NodePool or resource.
func reasonf(kind ReasonKind, format string, args ...any) Reason {
	return Reason{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Reason wording.
const (
	reasonNoNodePool       = "no nodepool: the cluster has no NodePool to launch capacity from"
	reasonNoTypeFormat     = "no instance type has %s %s (largest allowed: %s)"
	reasonNoTypeLeftFormat = "no instance type satisfies the combined requirements %s"
	reasonLimitFormat      = "%s limit %s would be exceeded"
	reasonTaintFormat      = "the pod does not tolerate taint %s"
	reasonPortFormat       = "host port %s is already in use"
	reasonInsufficientFmt  = "insufficient %s"
	reasonSpreadFormat     = "topology spread on %s (maxSkew %d) would be violated in every allowed domain"
	reasonAffinityFormat   = "no pod matching the required pod affinity (%s on %s) runs in an allowed domain"
	reasonAntiFormat       = "a pod matching the required pod anti-affinity (%s on %s) runs in every allowed domain"
	reasonAntiSymFormat    = "an existing pod's anti-affinity (%s on %s) rejects this pod in every allowed domain"
	reasonPreferenceFormat = "preference not met: %s"
	reasonMinValuesFormat  = "requirement %s needs minValues %d but only %d values fit"
	reasonNoDomainFormat   = "the node offers no value for topology key %s"
	reasonLeftOut          = "the pod fits a new node; it was left out by an earlier decision of this plan"
	reasonExistingFormat   = "existing nodes: none of %d fits (first: node %q: %s)"
	// reasonDRA: the planner cannot tell which node a DRA driver's devices would be allocated on, so it buys none
	// rather than a node the kube-scheduler might not use.
	reasonDRA = "DRA resource claims (spec.resourceClaims) are not supported by Tailor's planner yet"
)

// insufficientReasons are the reasons for the usual resources, built once: rejections are the planner's hot path.
var insufficientReasons = map[corev1.ResourceName]Reason{}

func init() {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		insufficientReasons[name] = Reason{Kind: ReasonInsufficient, Resource: name, Message: fmt.Sprintf(reasonInsufficientFmt, name)}
	}
}

func reasonInsufficient(name corev1.ResourceName) Reason {
	if r, ok := insufficientReasons[name]; ok {
		return r
	}
	if name == ebsVolumeResource {
		return Reason{Kind: ReasonVolumeLimit, Resource: name, Message: reasonCSIVolumesFull}
	}
	return Reason{Kind: ReasonInsufficient, Resource: name, Message: fmt.Sprintf(reasonInsufficientFmt, name)}
}

// reasonLimit is pool's limit on name stopping a launch.
func reasonLimit(pool string, name corev1.ResourceName, limits corev1.ResourceList) Reason {
	q := limits[name]
	return Reason{Kind: ReasonLimit, NodePool: pool, Resource: name, Message: fmt.Sprintf(reasonLimitFormat, name, q.String())}
}
