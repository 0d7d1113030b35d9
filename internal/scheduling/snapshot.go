package scheduling

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Snapshot is everything the simulator knows about the cluster. Callers build it from informers (the controllers) or
// from manifests (tailor simulate); the simulator never reads the API itself.
type Snapshot struct {
	// Nodes are existing nodes and in-flight NodeClaims, with the pods already bound to them.
	Nodes []*ExistingNode
	// NodePools are where new capacity may come from.
	NodePools []*NodePool
	// DaemonSetPods are one pod template per DaemonSet (as the pod the DaemonSet would create). A new node gets
	// every one of them that tolerates its taints and selects its labels.
	DaemonSetPods []*corev1.Pod
	// PersistentVolumes, PersistentVolumeClaims and StorageClasses give the volume topology of pods.
	PersistentVolumes      []*corev1.PersistentVolume
	PersistentVolumeClaims []*corev1.PersistentVolumeClaim
	StorageClasses         []*storagev1.StorageClass

	// memo, when set (memoize), is Nodes prepared once for many simulations on this snapshot.
	memo *nodesMemo
	// reserved are the pending pods reserve counted on each node, by node name.
	reserved map[string][]*corev1.Pod
}

// NodePool is the simulator's view of a NodePool: what it allows, what it has used and the instance types it may
// launch. Requirements narrow the instance types and offerings; Labels and Taints land on every node.
type NodePool struct {
	Name string
	// Weight orders NodePools: a higher weight is tried first; equal weights go by name.
	Weight int32
	// Requirements every node of the pool satisfies (instance attributes, zone, capacity type, custom keys).
	Requirements Requirements
	// Labels are set on every node of the pool.
	Labels map[string]string
	// Taints are set on every node of the pool; pods must tolerate them.
	Taints []corev1.Taint
	// StartupTaints are removed once the node is ready; pods need not tolerate them.
	StartupTaints []corev1.Taint
	// Limits cap the total capacity of the pool's nodes; resources not listed are unlimited. ResourceNodes caps the
	// number of nodes: every new NodeClaim counts one.
	Limits corev1.ResourceList
	// Usage is the capacity the pool's nodes and in-flight NodeClaims already have; under ResourceNodes, how many
	// NodeClaims the pool has.
	Usage corev1.ResourceList
	// InstanceTypes the pool may launch, before Requirements narrow them.
	InstanceTypes []*cloudprovider.InstanceType
}

// ResourceNodes is the NodePool limit (and usage) that counts nodes rather than capacity.
const ResourceNodes corev1.ResourceName = "nodes"

// ExistingNode is a node that exists or a NodeClaim that is being launched.
type ExistingNode struct {
	Name        string
	Labels      map[string]string
	Taints      []corev1.Taint
	Allocatable corev1.ResourceList
	// Pods bound to the node (including DaemonSet pods); they count against its resources and for topology.
	Pods []*corev1.Pod
	// InFlight marks a NodeClaim whose node has not registered yet; NodeClaim names it.
	InFlight  bool
	NodeClaim string
	// Unschedulable nodes (cordoned or being deleted) take no new pods but still count for topology.
	Unschedulable bool
	// VolumeLimits are the node's CSI attach limits by driver name, from its CSINode (spec.drivers[].allocatable.count),
	// when known. Without an EBSCSIDriver entry a node Tailor launched is taken to attach DefaultEBSAttachLimit EBS
	// volumes and any other node as many as its pods need.
	VolumeLimits map[string]int64
}

// PreferencePolicy says how preferences (preferred node and pod affinity, ScheduleAnyway topology spread,
// PreferNoSchedule taints) weigh against cost.
type PreferencePolicy string

const (
	// PreferenceCost honours a preference only on capacity the plan has anyway (existing nodes and NodeClaims
	// already opened); it never opens a NodeClaim just to satisfy a preference. The default.
	// Replicas of one owner with a preferred anti-affinity against each other on hostname or zone (soft HA) are the
	// exception: each is put in a domain of its own, opening a node if need be, until haDomains domains hold them.
	PreferenceCost PreferencePolicy = "Cost"
	// PreferenceRespect treats preferences as requirements and relaxes them, lowest weight first, only when a pod
	// cannot be placed otherwise, even if that opens a NodeClaim per pod.
	PreferenceRespect PreferencePolicy = "Respect"
	// PreferenceIgnore ignores preferences altogether: the plan is made as if pods had none.
	PreferenceIgnore PreferencePolicy = "Ignore"
)

// Validate reports an unknown policy.
func (p PreferencePolicy) Validate() error {
	switch p {
	case PreferenceCost, PreferenceRespect, PreferenceIgnore:
		return nil
	}
	return fmt.Errorf("unknown preference policy %q (use %s, %s or %s)", p, PreferenceCost, PreferenceRespect, PreferenceIgnore)
}

// haDomains is how many domains (nodes or zones) the Cost policy spreads soft-HA replicas over before it packs them.
const haDomains = 3

// Options tune Solve.
type Options struct {
	// Preferences is PreferenceCost when empty.
	Preferences PreferencePolicy
	// MaxMergeCandidates bounds the improvement pass; 0 means 64.
	MaxMergeCandidates int
	// PackingTolerance is how much dearer per unit of capacity than the most efficient instance type (for the
	// batch's demand) a NodeClaim may grow into, as a fraction: 0.05 lets a claim take pods while some type within
	// 5% of the best can hold them all. 0 means DefaultPackingTolerance; a negative value turns the cap off (claims
	// grow into any type, as Karpenter's do).
	PackingTolerance float64
}
