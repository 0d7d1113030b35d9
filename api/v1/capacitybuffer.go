package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CapacityBuffer keeps spare room provisioned for pods that have not been created yet (headroom). Tailor turns each
// Ready buffer into virtual pods: the simulator places them like real pods, after every real pending pod, and
// launches nodes for the ones that fit nowhere; nothing ever creates them. Real pods take the room first (the
// kube-scheduler does not know the virtual pods exist), after which the buffer no longer fits and Tailor buys room
// for it again. Consolidation never removes a node that holds buffer room.
//
// The shape follows SIG Autoscaling's CapacityBuffer (autoscaling.x-k8s.io): a chunk is a PodTemplate, a scalable
// workload's pod template or, Tailor's addition, a plain resource amount; the number of chunks is replicas, a
// percentage of the workload's replicas, or as many as fit in limits.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=capacitybuffers,scope=Namespaced,shortName=cb,categories=tailor
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Strategy",type="string",JSONPath=".spec.provisioningStrategy",priority=1
// +kubebuilder:printcolumn:name="Replicas",type="integer",JSONPath=".status.replicas"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Reason",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].reason"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type CapacityBuffer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the room the buffer keeps.
	// +required
	Spec CapacityBufferSpec `json:"spec"`
	// Status is what Tailor resolved the spec to.
	// +optional
	Status CapacityBufferStatus `json:"status,omitempty"`
}

// ProvisioningStrategyActiveCapacity is the only strategy Tailor implements (as Cluster Autoscaler does): the buffer's
// room is kept as nodes that exist, ready for real pods.
const ProvisioningStrategyActiveCapacity = "buffer.x-k8s.io/active-capacity"

// CapacityBufferSpec says what one chunk of the buffer looks like and how many chunks to keep.
//
// +kubebuilder:validation:XValidation:rule="[has(self.podTemplateRef), has(self.scalableRef), has(self.resources)].filter(x, x).size() == 1",message="set exactly one of podTemplateRef, scalableRef or resources: it says what one chunk of the buffer looks like"
// +kubebuilder:validation:XValidation:rule="!has(self.percentage) || has(self.scalableRef)",message="percentage is a share of a workload's replicas: it needs scalableRef (or use replicas)"
// +kubebuilder:validation:XValidation:rule="has(self.replicas) || has(self.percentage) || has(self.limits)",message="set replicas, percentage (with scalableRef) or limits: they say how many chunks to keep"
type CapacityBufferSpec struct {
	// ProvisioningStrategy is how the buffer's room is kept. Only buffer.x-k8s.io/active-capacity (nodes that
	// exist and wait for real pods) is implemented.
	// +kubebuilder:default="buffer.x-k8s.io/active-capacity"
	// +kubebuilder:validation:XValidation:rule="self == 'buffer.x-k8s.io/active-capacity'",message="provisioningStrategy must be buffer.x-k8s.io/active-capacity, the only strategy Tailor implements"
	// +optional
	ProvisioningStrategy *string `json:"provisioningStrategy,omitempty"`
	// PodTemplateRef names a PodTemplate in the buffer's namespace whose pod is one chunk.
	// +optional
	PodTemplateRef *LocalObjectReference `json:"podTemplateRef,omitempty"`
	// ScalableRef names a workload in the buffer's namespace (apps Deployment, StatefulSet or ReplicaSet) whose pod
	// template is one chunk; percentage is a share of its replicas.
	// +optional
	ScalableRef *ScalableReference `json:"scalableRef,omitempty"`
	// Resources are the requests of one chunk, when no pod template fits the need: the chunk is a pod that asks for
	// exactly these and has no other constraint. Tailor's addition to the upstream shape.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == string ? !self[k].startsWith('-') : self[k] >= 0)",message="resources must be zero or positive quantities, such as 2 or 4Gi"
	// +optional
	Resources corev1.ResourceList `json:"resources,omitempty"`
	// Replicas is how many chunks to keep. With percentage as well, the larger of the two wins.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Percentage keeps that share of the scalableRef workload's replicas as chunks, rounded up, at least one.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Percentage *int32 `json:"percentage,omitempty"`
	// Limits cap the chunks' summed requests: never more chunks than fit. Without replicas or percentage, as many
	// chunks as fit in the limits are kept.
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == string ? !self[k].startsWith('-') : self[k] >= 0)",message="limits must be zero or positive quantities, such as 16 or 64Gi"
	// +optional
	Limits corev1.ResourceList `json:"limits,omitempty"`
}

// LocalObjectReference names an object in the referrer's namespace.
type LocalObjectReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// ScalableReference names a workload with replicas and a pod template.
type ScalableReference struct {
	// APIGroup of the workload: apps.
	// +kubebuilder:validation:XValidation:rule="self == 'apps'",message="scalableRef.apiGroup must be apps: Tailor reads Deployments, StatefulSets and ReplicaSets"
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`
	// Kind of the workload: Deployment, StatefulSet or ReplicaSet.
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;ReplicaSet
	// +required
	Kind string `json:"kind"`
	// Name of the workload.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// CapacityBufferStatus is what Tailor resolved the buffer to.
type CapacityBufferStatus struct {
	// Replicas is how many chunks Tailor keeps (resolved from replicas, percentage and limits).
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// PodTemplateRef is the PodTemplate the chunks were made from, when the buffer names one.
	// +optional
	PodTemplateRef *LocalObjectReference `json:"podTemplateRef,omitempty"`
	// PodTemplateGeneration is the generation of the PodTemplate (or workload) the chunks were made from.
	// +optional
	PodTemplateGeneration *int64 `json:"podTemplateGeneration,omitempty"`
	// ProvisioningStrategy in force.
	// +optional
	ProvisioningStrategy *string `json:"provisioningStrategy,omitempty"`
	// Conditions: Ready is True when the buffer resolved to chunks Tailor plans for; False says why not.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// CapacityBufferList is a list of CapacityBuffers.
//
// +kubebuilder:object:root=true
type CapacityBufferList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CapacityBuffer `json:"items"`
}

// StatusConditions gives access to the CapacityBuffer's status.conditions.
func (in *CapacityBuffer) StatusConditions() Conditions {
	return Conditions{conditions: &in.Status.Conditions, generation: in.Generation}
}

// CapacityBuffer Ready condition reasons.
const (
	CapacityBufferReasonResolved         = "Resolved"
	CapacityBufferReasonTemplateNotFound = "PodTemplateNotFound"
	CapacityBufferReasonScalableNotFound = "ScalableRefNotFound"
	CapacityBufferReasonInvalid          = "Invalid"
)

// CapacityBufferLabelKey marks a virtual pod of a buffer; its value is the buffer's name (the pod's namespace is the
// buffer's). Such a pod exists only inside Tailor's plans: nothing may patch, nominate or evict it.
const CapacityBufferLabelKey = Group + "/capacity-buffer"

// CapacityBuffersAnnotationKey is set on a NodeClaim launched to hold CapacityBuffer room: the buffers, as
// namespace/name separated by commas. `tailor explain` names them for the pods that later run on the node.
const CapacityBuffersAnnotationKey = Group + "/capacity-buffers"
