package v1

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Group is the API group of every Tailor kind.
const Group = "tailor.sh"

// DisruptedTaint keeps new pods off a node Tailor is taking away: a replace puts it on its candidates before their
// replacements are ready, and the termination controller cordons with it before draining.
var DisruptedTaint = corev1.Taint{Key: Group + "/disrupted", Effect: corev1.TaintEffectNoSchedule}

// Well-known label and annotation keys. Tailor sets the instance attribute labels on every node it launches, and
// NodePool and NodeClaim requirements may select on them.
const (
	// NodePoolLabelKey names the NodePool a node was launched for.
	NodePoolLabelKey = Group + "/nodepool"
	// CapacityTypeLabelKey is the purchase option of a node: CapacityTypeSpot, CapacityTypeOnDemand or
	// CapacityTypeReserved.
	CapacityTypeLabelKey = Group + "/capacity-type"
	// CapacityReservationIDLabelKey names the capacity reservation a node launched into (capacity type reserved).
	// Tailor sets it; requirements do not select on it.
	CapacityReservationIDLabelKey = Group + "/capacity-reservation-id"
	// RegisteredLabelKey is set on a node once its NodeClaim saw it register.
	RegisteredLabelKey = Group + "/registered"
	// InitializedLabelKey is set on a node once it is Ready, its startup taints are gone and its resources registered.
	InitializedLabelKey = Group + "/initialized"
	// DoNotDisruptAnnotationKey on a pod or node keeps disruption away from that node.
	DoNotDisruptAnnotationKey = Group + "/do-not-disrupt"

	// InstanceCategoryLabelKey is the letter(s) before the generation digit of the family, e.g. "m" for m7i.large.
	InstanceCategoryLabelKey = Group + "/instance-category"
	// InstanceFamilyLabelKey is the part of the instance type before the dot, e.g. "m7i".
	InstanceFamilyLabelKey = Group + "/instance-family"
	// InstanceGenerationLabelKey is the generation digit(s) of the family, e.g. "7".
	InstanceGenerationLabelKey = Group + "/instance-generation"
	// InstanceSizeLabelKey is the part of the instance type after the dot, e.g. "large".
	InstanceSizeLabelKey = Group + "/instance-size"
	// InstanceCPULabelKey is the number of vCPUs, e.g. "2"; requirements may compare it with Gt and Lt.
	InstanceCPULabelKey = Group + "/instance-cpu"
	// InstanceMemoryLabelKey is the memory in MiB, e.g. "8192"; requirements may compare it with Gt and Lt.
	InstanceMemoryLabelKey = Group + "/instance-memory"
	// InstanceGPUCountLabelKey is the number of GPUs; absent on machines without one.
	InstanceGPUCountLabelKey = Group + "/instance-gpu-count"
	// InstanceGPUNameLabelKey is the GPU model in lower case, e.g. "t4"; absent on machines without one.
	InstanceGPUNameLabelKey = Group + "/instance-gpu-name"
	// InstanceGPUMemoryLabelKey is the memory of one GPU in MiB; absent on machines without one.
	InstanceGPUMemoryLabelKey = Group + "/instance-gpu-memory"
	// InstanceGPUManufacturerLabelKey is the GPU maker in lower case, "nvidia" or "amd"; absent on machines without
	// a GPU. It picks the AMI variant with the right drivers (docs/aws.md).
	InstanceGPUManufacturerLabelKey = Group + "/instance-gpu-manufacturer"

	// Kubernetes' own well-known keys.
	InstanceTypeLabelKey = "node.kubernetes.io/instance-type"
	ZoneLabelKey         = "topology.kubernetes.io/zone"
	RegionLabelKey       = "topology.kubernetes.io/region"
	ArchLabelKey         = "kubernetes.io/arch"
	OSLabelKey           = "kubernetes.io/os"
	HostnameLabelKey     = "kubernetes.io/hostname"
)

// Capacity types.
const (
	CapacityTypeSpot     = "spot"
	CapacityTypeOnDemand = "on-demand"
	// CapacityTypeReserved is an on-demand instance launched into a capacity reservation the node class selects. A
	// NodePool uses it only when its requirements name it (tailor.sh/capacity-type In [reserved, ...]).
	CapacityTypeReserved = "reserved"
)

// NodePoolHashAnnotationKey on a NodeClaim records the hash of its NodePool's template at launch; a different hash
// later means the NodePool changed and the node drifted.
const NodePoolHashAnnotationKey = Group + "/nodepool-hash"

// NodePoolHashVersionAnnotationKey on a NodeClaim records how its NodePoolHashAnnotationKey was computed. A NodeClaim
// whose hash has another version than the running Tailor's is re-stamped with the current hash rather than drifted,
// so an upgrade that changes what the hash covers does not replace every node.
const NodePoolHashVersionAnnotationKey = Group + "/nodepool-hash-version"

// PricePerHourAnnotationKey on a NodeClaim records the hourly price (USD, decimal) of the offering launched for it,
// so the fleet's cost can be summed without asking the cloud again.
const PricePerHourAnnotationKey = Group + "/price-per-hour"

// NodeNameAnnotationKey on a NodeClaim records the name its node will register with, when the cloud provider knows it
// at launch (AWS: the instance's private DNS name). Tailor writes it into status.nominatedNodeName of the pods it
// planned onto the NodeClaim, so the kube-scheduler keeps their room on that node when it appears.
const NodeNameAnnotationKey = Group + "/node-name"

// UnregisteredTaintKey is the taint (NoExecute) every node Tailor launches on AWS registers with, so that no pod lands
// on it before Tailor has synced it with its NodeClaim and told the kube-scheduler which pending pods the node was
// bought for (their status.nominatedNodeName). Tailor removes it at registration.
const UnregisteredTaintKey = Group + "/unregistered"

// UnregisteredTaint is the taint UnregisteredTaintKey names.
var UnregisteredTaint = corev1.Taint{Key: UnregisteredTaintKey, Effect: corev1.TaintEffectNoExecute}

// PlanningTaints are a node's taints as a plan sees them: without UnregisteredTaint, which Tailor removes from every
// node it launched as soon as the node registers.
func PlanningTaints(taints []corev1.Taint) []corev1.Taint {
	if !slices.ContainsFunc(taints, IsUnregistered) {
		return taints
	}
	return slices.DeleteFunc(slices.Clone(taints), IsUnregistered)
}

// IsUnregistered tells whether t is UnregisteredTaint (any value or effect).
func IsUnregistered(t corev1.Taint) bool { return t.Key == UnregisteredTaintKey }

// DisruptionCommandAnnotationKey on a NodeClaim records the disruption command (a replace) it takes part in, as a
// candidate to remove or as a replacement launched for candidates: a JSON object with the command's id, reason, start
// time, candidates and replacements. A restarted or failed-over leader rebuilds the command from it and resumes or
// abandons it.
const DisruptionCommandAnnotationKey = Group + "/disruption-command"

// TerminationFinalizer holds a NodeClaim (and its Node) until Tailor has drained the node and deleted the instance.
const TerminationFinalizer = Group + "/termination"

// InstanceLabelKeys are the tailor.sh keys that describe an instance type. They may appear both in requirements and in
// NodePool template labels.
var InstanceLabelKeys = []string{
	CapacityTypeLabelKey,
	InstanceCategoryLabelKey,
	InstanceFamilyLabelKey,
	InstanceGenerationLabelKey,
	InstanceSizeLabelKey,
	InstanceCPULabelKey,
	InstanceMemoryLabelKey,
	InstanceGPUCountLabelKey,
	InstanceGPUNameLabelKey,
	InstanceGPUMemoryLabelKey,
	InstanceGPUManufacturerLabelKey,
}

// WellKnownLabelKeys are the keys a requirement may use in a restricted domain (tailor.sh, kubernetes.io, k8s.io).
// Keys outside those domains are the user's own and are always allowed.
//
// The CRDs' CEL rules (see NodeSelectorRequirementWithMinValues) carry the same list; validation_test.go keeps them in
// step. Change both together.
var WellKnownLabelKeys = append([]string{
	NodePoolLabelKey,
	InstanceTypeLabelKey,
	ZoneLabelKey,
	RegionLabelKey,
	ArchLabelKey,
	OSLabelKey,
}, InstanceLabelKeys...)

// ValidateRequirementKey returns an error when key may not be used in a NodePool or NodeClaim requirement. It mirrors
// the API server's CEL rules, for tools (such as migrate) that build objects before sending them.
func ValidateRequirementKey(key string) error {
	return validateLabelKey(key, WellKnownLabelKeys)
}

// ValidateTemplateLabelKey returns an error when key may not be set in a NodePool's spec.template.metadata.labels.
// Tailor sets tailor.sh/nodepool, tailor.sh/registered and tailor.sh/initialized itself.
func ValidateTemplateLabelKey(key string) error {
	allowed := slices.DeleteFunc(slices.Clone(WellKnownLabelKeys), func(k string) bool { return k == NodePoolLabelKey })
	return validateLabelKey(key, allowed)
}

func validateLabelKey(key string, allowed []string) error {
	if key == HostnameLabelKey {
		return fmt.Errorf("label key %q is restricted: Tailor names nodes itself; spread pods with topology spread constraints instead", key)
	}
	if slices.Contains(allowed, key) {
		return nil
	}
	domain, _, found := strings.Cut(key, "/")
	if !found {
		return nil
	}
	switch {
	case domain == Group || strings.HasSuffix(domain, "."+Group):
		return fmt.Errorf("label key %q is restricted: the only keys allowed in the %s domain are %s", key, Group, strings.Join(allowedInDomain(allowed, Group), ", "))
	case isNodeDomain(domain):
		return nil
	case isKubernetesDomain(domain):
		return fmt.Errorf("label key %q is restricted: keys in the kubernetes.io and k8s.io domains must be well-known node labels (%s) or under node.kubernetes.io or node-restriction.kubernetes.io", key, strings.Join(allowedInDomain(allowed, "kubernetes.io"), ", "))
	}
	return nil
}

func isNodeDomain(domain string) bool {
	for _, d := range []string{"node.kubernetes.io", "node-restriction.kubernetes.io"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

func isKubernetesDomain(domain string) bool {
	for _, d := range []string{"kubernetes.io", "k8s.io"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

func allowedInDomain(keys []string, domain string) []string {
	var out []string
	for _, k := range keys {
		d, _, _ := strings.Cut(k, "/")
		if d == domain || strings.HasSuffix(d, "."+domain) {
			out = append(out, k)
		}
	}
	return out
}
