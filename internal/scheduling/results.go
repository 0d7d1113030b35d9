package scheduling

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Results is the simulator's decision for one batch of pods.
type Results struct {
	// ExistingNodes lists every existing or in-flight node that receives pods, by name.
	ExistingNodes []ExistingPlacement
	// NodeClaims are the nodes to launch.
	NodeClaims []*NodeClaim
	// Unschedulable pods with one reason per NodePool (and one for existing capacity).
	Unschedulable []Unschedulable
}

// ExistingPlacement is the pods the plan binds to one existing or in-flight node.
type ExistingPlacement struct {
	Node     string
	InFlight bool
	Pods     []*corev1.Pod
}

// NodeClaim is one node to launch.
type NodeClaim struct {
	// Hostname is a placeholder name that stands for the node until it exists; unique within the Results.
	Hostname string
	NodePool string
	// Requirements are the NodePool's requirements narrowed by every pod placed here.
	Requirements Requirements
	// InstanceTypeOptions are the instance types that fit all the pods (and the daemonsets), cheapest first. NodeClaims
	// with the same options may share the slice: read it, copy it before changing it.
	InstanceTypeOptions []InstanceTypeOption
	// Pods to bind to the node once it exists.
	Pods []*corev1.Pod
	// DaemonSetPods are the daemonset pods that will run on the node of the chosen instance type.
	DaemonSetPods []*corev1.Pod
	// Labels the node will carry when launched with the cheapest option, and Taints it will carry once ready.
	Labels map[string]string
	Taints []corev1.Taint
}

// InstanceTypeOption is an instance type with its cheapest offering that satisfies the claim's requirements.
type InstanceTypeOption struct {
	InstanceType *cloudprovider.InstanceType
	Offering     cloudprovider.Offering
}

// Cheapest is the option the claim would launch: the first one.
func (c *NodeClaim) Cheapest() InstanceTypeOption { return c.InstanceTypeOptions[0] }

// PricePerHour is the price of the cheapest option.
func (c *NodeClaim) PricePerHour() float64 { return c.Cheapest().Offering.PricePerHour }

// Unschedulable is a pod the plan cannot place, with why.
type Unschedulable struct {
	Pod     *corev1.Pod
	Reasons []Reason
}

// TotalPricePerHour is the price of every new NodeClaim together.
func (r *Results) TotalPricePerHour() float64 {
	total := 0.0
	for _, c := range r.NodeClaims {
		total += c.PricePerHour()
	}
	return total
}

// PodCount is how many pods the plan places.
func (r *Results) PodCount() int {
	n := 0
	for _, e := range r.ExistingNodes {
		n += len(e.Pods)
	}
	for _, c := range r.NodeClaims {
		n += len(c.Pods)
	}
	return n
}
