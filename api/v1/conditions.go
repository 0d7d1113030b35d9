package v1

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionTypeReady is the summary condition of every kind: True when the object is usable.
const ConditionTypeReady = "Ready"

// NodeClaim condition types, in the order a healthy NodeClaim gains them.
const (
	// ConditionTypeLaunched is True once the cloud accepted the launch and the instance exists.
	ConditionTypeLaunched = "Launched"
	// ConditionTypeRegistered is True once a Node with the NodeClaim's provider ID joined the cluster.
	ConditionTypeRegistered = "Registered"
	// ConditionTypeInitialized is True once the Node is Ready, its startup taints are gone and its extended
	// resources are registered.
	ConditionTypeInitialized = "Initialized"
	// ConditionTypeDrifted is True when the node no longer matches its NodePool or node class and should be replaced.
	ConditionTypeDrifted = "Drifted"
	// ConditionTypeConsolidatable is True when consolidateAfter has passed since the last pod event on the node.
	ConditionTypeConsolidatable = "Consolidatable"
	// ConditionTypeDisrupting is True while Tailor is removing the node on purpose (consolidation, drift, expiry).
	ConditionTypeDisrupting = "Disrupting"
)

// Reasons of the Disrupting condition: why Tailor is taking the node away. The disruption, interruption and
// termination controllers share them (the drain depends on the reason), so they are defined once, here. Expired,
// Drifted, Empty and Underutilized are also the disruption methods, in the order they run after Unhealthy.
const (
	DisruptingReasonUnhealthy     = "Unhealthy"
	DisruptingReasonExpired       = "Expired"
	DisruptingReasonDrifted       = string(DisruptionReasonDrifted)
	DisruptingReasonEmpty         = string(DisruptionReasonEmpty)
	DisruptingReasonUnderutilized = string(DisruptionReasonUnderutilized)
	DisruptingReasonInterrupted   = "Interrupted"
)

// NodePool condition types.
const (
	// ConditionTypeNodeClassReady mirrors the Ready condition of the NodePool's node class.
	ConditionTypeNodeClassReady = "NodeClassReady"
	// ConditionTypeValidationSucceeded is False when the NodePool passed the API server but failed the checks CEL
	// cannot afford (see NodePool.RuntimeValidate).
	ConditionTypeValidationSucceeded = "ValidationSucceeded"
)

// EC2NodeClass condition types. Each is True when its selector resolved to at least one resource.
const (
	ConditionTypeSubnetsReady         = "SubnetsReady"
	ConditionTypeSecurityGroupsReady  = "SecurityGroupsReady"
	ConditionTypeAMIsReady            = "AMIsReady"
	ConditionTypeInstanceProfileReady = "InstanceProfileReady"
)

// Conditions are the status conditions of a Tailor object: Get, Set, IsTrue and Clear over its status.conditions.
// Every kind in this package has one through its StatusConditions method.
//
// +kubebuilder:object:generate=false
type Conditions struct {
	conditions *[]metav1.Condition
	generation int64
}

// Get returns the condition of type t, or nil.
func (c Conditions) Get(t string) *metav1.Condition {
	return meta.FindStatusCondition(*c.conditions, t)
}

// IsTrue reports whether the condition of type t is present and True.
func (c Conditions) IsTrue(t string) bool {
	return meta.IsStatusConditionTrue(*c.conditions, t)
}

// Set records a condition and reports whether anything changed. now is the transition time, used only when the
// status changes; callers pass their injected clock's time so tests stay deterministic. reason must be CamelCase
// (the API server checks it); observedGeneration is taken from the object.
func (c Conditions) Set(now metav1.Time, t string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(c.conditions, metav1.Condition{
		Type:               t,
		Status:             status,
		ObservedGeneration: c.generation,
		LastTransitionTime: now,
		Reason:             reason,
		Message:            message,
	})
}

// Clear removes the condition of type t and reports whether it was there.
func (c Conditions) Clear(t string) bool {
	return meta.RemoveStatusCondition(c.conditions, t)
}

// StatusConditions gives access to the NodeClaim's status.conditions.
func (in *NodeClaim) StatusConditions() Conditions {
	return Conditions{conditions: &in.Status.Conditions, generation: in.Generation}
}

// StatusConditions gives access to the NodePool's status.conditions.
func (in *NodePool) StatusConditions() Conditions {
	return Conditions{conditions: &in.Status.Conditions, generation: in.Generation}
}

// StatusConditions gives access to the EC2NodeClass's status.conditions.
func (in *EC2NodeClass) StatusConditions() Conditions {
	return Conditions{conditions: &in.Status.Conditions, generation: in.Generation}
}
