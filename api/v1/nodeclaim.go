package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeClaim is one node that Tailor launched, is launching, or was asked to launch. The provisioner creates
// NodeClaims from a NodePool's template; a user may also create one by hand to get exactly one node. Deleting a
// NodeClaim drains its node and terminates the instance.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=nodeclaims,scope=Cluster,categories=tailor
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".metadata.labels.node\\.kubernetes\\.io/instance-type"
// +kubebuilder:printcolumn:name="Capacity",type="string",JSONPath=".metadata.labels.tailor\\.sh/capacity-type"
// +kubebuilder:printcolumn:name="Zone",type="string",JSONPath=".metadata.labels.topology\\.kubernetes\\.io/zone"
// +kubebuilder:printcolumn:name="Node",type="string",JSONPath=".status.nodeName"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
// +kubebuilder:printcolumn:name="ID",type="string",JSONPath=".status.providerID",priority=1
// +kubebuilder:printcolumn:name="NodePool",type="string",JSONPath=".metadata.labels.tailor\\.sh/nodepool",priority=1
// +kubebuilder:printcolumn:name="NodeClass",type="string",JSONPath=".spec.nodeClassRef.name",priority=1
type NodeClaim struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the node asked for. It cannot change once the NodeClaim exists.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: delete the NodeClaim and create a new one"
	// +required
	Spec NodeClaimSpec `json:"spec"`
	// status is what Tailor observed about the node.
	// +optional
	Status NodeClaimStatus `json:"status,omitempty"`
}

// NodeClaimList is a list of NodeClaims.
//
// +kubebuilder:object:root=true
type NodeClaimList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeClaim `json:"items"`
}

// NodeClaimSpec describes the node to launch.
type NodeClaimSpec struct {
	// requirements constrain the instance type, zone, capacity type and any other node label the node may have.
	// Tailor launches the cheapest offering that meets all of them.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Requirements []NodeSelectorRequirementWithMinValues `json:"requirements,omitempty"`
	// resources are the requests of the pods this node is meant for; the instance type must fit them.
	// +optional
	Resources ResourceRequirements `json:"resources,omitzero"`
	// taints are put on the node when it registers and stay there.
	// +optional
	Taints Taints `json:"taints,omitempty"`
	// startupTaints are put on the node when it registers and are expected to be removed by something else (a CNI or
	// device plugin daemon, say). Tailor does not count the node initialized until they are gone.
	// +optional
	StartupTaints Taints `json:"startupTaints,omitempty"`
	// nodeClassRef names the EC2NodeClass that holds the AWS details of the node.
	// +required
	NodeClassRef NodeClassReference `json:"nodeClassRef"`
	// expireAfter is how long the node may live before Tailor replaces it, such as "720h", or "Never".
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self == 'Never' || self.matches('^([0-9]+(h|m|s))+$')",message="expireAfter must be a duration of hours, minutes and seconds such as 720h, 1h30m or 90s, or Never"
	// +optional
	ExpireAfter NillableDuration `json:"expireAfter,omitempty"`
	// terminationGracePeriod is the longest Tailor waits for a node to drain once it decided to remove it; after that
	// it deletes the remaining pods, ignoring PodDisruptionBudgets and the do-not-disrupt annotation. Unset waits
	// forever.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(h|m|s))+$')",message="terminationGracePeriod must be a duration of hours, minutes and seconds such as 24h or 1h30m0s"
	// +optional
	TerminationGracePeriod *metav1.Duration `json:"terminationGracePeriod,omitempty"`
}

// ResourceRequirements holds the resources a NodeClaim's node must offer.
type ResourceRequirements struct {
	// requests are the summed requests of the pods the node is for, plus daemonset overhead.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == string ? !self[k].startsWith('-') : self[k] >= 0)",message="requests must be zero or positive quantities, such as 2 or 4Gi"
	// +optional
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// NodeSelectorRequirementWithMinValues is a node selector requirement, as in a pod's node affinity, with an optional
// floor on how many of the allowed values must stay open to the launch (to keep spot capacity diverse, say).
//
// +kubebuilder:validation:XValidation:rule="!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",message="values must hold at least one value when operator is In or NotIn",fieldPath=".values"
// +kubebuilder:validation:XValidation:rule="!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",message="values must be empty when operator is Exists or DoesNotExist",fieldPath=".values"
// +kubebuilder:validation:XValidation:rule="!(self.operator in ['Gt', 'Lt']) || (has(self.values) && size(self.values) == 1 && self.values[0].matches('^-?[0-9]{1,18}$'))",message="values must hold exactly one integer, such as [\"4\"], when operator is Gt or Lt",fieldPath=".values"
// +kubebuilder:validation:XValidation:rule="!has(self.minValues) || self.operator != 'In' || (has(self.values) && size(self.values) >= self.minValues)",message="minValues must not be larger than the number of values when operator is In",fieldPath=".minValues"
type NodeSelectorRequirementWithMinValues struct {
	// key is the node label the requirement selects on. In the tailor.sh, kubernetes.io and k8s.io domains only the
	// well-known labels are allowed (see WellKnownLabelKeys), and never kubernetes.io/hostname.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')",message="key must be a label key: an optional DNS subdomain prefix and '/', then a name of 1-63 alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric"
	// +kubebuilder:validation:XValidation:rule="self != 'kubernetes.io/hostname'",message="key kubernetes.io/hostname is restricted: Tailor names nodes itself; spread pods with topology spread constraints instead"
	// +kubebuilder:validation:XValidation:rule="self in ['tailor.sh/nodepool', 'node.kubernetes.io/instance-type', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'kubernetes.io/arch', 'kubernetes.io/os', 'tailor.sh/capacity-type', 'tailor.sh/instance-category', 'tailor.sh/instance-family', 'tailor.sh/instance-generation', 'tailor.sh/instance-size', 'tailor.sh/instance-cpu', 'tailor.sh/instance-memory', 'tailor.sh/instance-gpu-count', 'tailor.sh/instance-gpu-name', 'tailor.sh/instance-gpu-memory', 'tailor.sh/instance-gpu-manufacturer'] || !self.matches('^([^/]*[.])?tailor[.]sh/')",message="key in the tailor.sh domain must be one of the well-known labels: tailor.sh/nodepool, tailor.sh/capacity-type, tailor.sh/instance-category, tailor.sh/instance-family, tailor.sh/instance-generation, tailor.sh/instance-size, tailor.sh/instance-cpu, tailor.sh/instance-memory, tailor.sh/instance-gpu-count, tailor.sh/instance-gpu-name, tailor.sh/instance-gpu-memory"
	// +kubebuilder:validation:XValidation:rule="self in ['tailor.sh/nodepool', 'node.kubernetes.io/instance-type', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'kubernetes.io/arch', 'kubernetes.io/os', 'tailor.sh/capacity-type', 'tailor.sh/instance-category', 'tailor.sh/instance-family', 'tailor.sh/instance-generation', 'tailor.sh/instance-size', 'tailor.sh/instance-cpu', 'tailor.sh/instance-memory', 'tailor.sh/instance-gpu-count', 'tailor.sh/instance-gpu-name', 'tailor.sh/instance-gpu-memory', 'tailor.sh/instance-gpu-manufacturer'] || !self.matches('^([^/]*[.])?(kubernetes|k8s)[.]io/') || self.matches('^([^/]*[.])?(node|node-restriction)[.]kubernetes[.]io/')",message="key in the kubernetes.io or k8s.io domain must be a well-known node label (node.kubernetes.io/instance-type, topology.kubernetes.io/zone, topology.kubernetes.io/region, kubernetes.io/arch, kubernetes.io/os) or lie under node.kubernetes.io or node-restriction.kubernetes.io"
	// +required
	Key string `json:"key"`
	// operator relates the node's value of the key to values: In, NotIn, Exists, DoesNotExist, Gt or Lt.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist;Gt;Lt
	// +required
	Operator corev1.NodeSelectorOperator `json:"operator"`
	// values are label values. In and NotIn need at least one; Exists and DoesNotExist take none; Gt and Lt take exactly
	// one integer.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`
	// +listType=atomic
	// +optional
	Values []string `json:"values,omitempty"`
	// minValues is the least number of distinct values of key that the candidate instance types must span. With
	// operator In it cannot exceed the number of values.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	// +optional
	MinValues *int32 `json:"minValues,omitempty"`
}

// Taints are node taints. Each needs a key and an effect of NoSchedule, PreferNoSchedule or NoExecute.
//
// The API server checks lengths here; the character set of keys and values is checked by ValidateTaints (CEL
// cannot afford a regular expression over corev1.Taint's unbounded strings), which the NodePool controller reports
// in the ValidationSucceeded condition.
//
// +kubebuilder:validation:MaxItems=100
// +kubebuilder:validation:XValidation:rule="self.all(t, t.effect in ['NoSchedule', 'PreferNoSchedule', 'NoExecute'])",message="taint effect must be NoSchedule, PreferNoSchedule or NoExecute"
// +kubebuilder:validation:XValidation:rule="self.all(t, size(t.key) >= 1 && size(t.key) <= 317)",message="taint key must be a qualified name of 1-317 characters, such as example.com/dedicated"
// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.value) || size(t.value) <= 63)",message="taint value must be at most 63 characters"
// +listType=atomic
type Taints []corev1.Taint

// NodeClassReference names the node class that holds the cloud-specific details of a node.
type NodeClassReference struct {
	// group is the API group of the node class: tailor.sh.
	// +kubebuilder:validation:Enum=tailor.sh
	// +required
	Group string `json:"group"`
	// kind is the kind of the node class: EC2NodeClass.
	// +kubebuilder:validation:Enum=EC2NodeClass
	// +required
	Kind string `json:"kind"`
	// name is the name of the node class.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a DNS subdomain: lower-case alphanumerics, '-' and '.'"
	// +required
	Name string `json:"name"`
}

// NodeClaimStatus is what Tailor observed about a NodeClaim's instance and node.
type NodeClaimStatus struct {
	// providerID is the cloud's ID of the instance, as the node will carry it in spec.providerID
	// (aws:///<zone>/<instance-id>).
	// +optional
	ProviderID string `json:"providerID,omitempty"`
	// nodeName is the name of the node that registered for this NodeClaim.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// imageID is the machine image the instance booted from.
	// +optional
	ImageID string `json:"imageID,omitempty"`
	// capacity is the instance's total resources.
	// +optional
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	// allocatable is what pods can use: capacity minus what the node reserves for itself.
	// +optional
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
	// lastPodEventTime is when a pod last bound to or left the node; consolidateAfter counts from it.
	// +optional
	LastPodEventTime metav1.Time `json:"lastPodEventTime,omitzero"`
	// conditions: Launched, Registered, Initialized, Ready, Drifted, Consolidatable and Disrupting.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
