package disruption

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
)

// View is one read of what the disruption decision needs. Build it with NewView.
type View struct {
	NodePools map[string]*apiv1.NodePool
	// NodeClaims are sorted by name: the order in which candidates of one method take their NodePool's budget.
	NodeClaims []*apiv1.NodeClaim
	// Nodes by provider ID: a NodeClaim's node is the one with its status.providerID.
	Nodes map[string]*corev1.Node
	// PodsByNode are the pods bound to each node (by node name), by namespace and name: the order blockers are
	// found in, whichever reader (informer cache or API server) listed them.
	PodsByNode map[string][]*corev1.Pod
	PDBs       []policyv1.PodDisruptionBudget
	// AwaitingNode counts the unbound, live pods whose status.nominatedNodeName names each node (published by Tailor,
	// or a restart ago); AwaitingClaim the unbound pods Tailor's provisioner nominated to each NodeClaim (in memory:
	// NewView counts them with the controller's Nominated; explain has none). A node with either is neither empty nor
	// disruptable.
	AwaitingNode, AwaitingClaim map[string]int
	// RepairPolicies are the node conditions that make a node unhealthy, with the tolerations in force; nil when
	// node repair is off.
	RepairPolicies []cloudprovider.RepairPolicy
	// ProviderDrift is what the cloud provider says of each NodeClaim's drift, by NodeClaim name; a NodeClaim not in
	// it has not drifted as far as the provider knows.
	ProviderDrift map[string]ProviderDrift
}

// ProviderDrift is the cloud provider's word on a NodeClaim's drift from its node class.
type ProviderDrift struct {
	// Reason is the provider's drift reason, or "" when the machine matches its node class.
	Reason string
	// Message words it for the Drifted condition.
	Message string
	// Unknown: the provider no longer knows the machine. It counts as not drifted, whatever the provider said
	// before: a NodeClaim whose machine is gone is garbage collection's (it deletes the NodeClaim), not a drift
	// candidate. The controller marks the Drifted condition Unknown (DriftReasonMachineNotFound), which
	// DriftFromConditions reads back.
	Unknown bool
}

// ProviderDriftMessage is the Drifted condition's message when the provider reports drift.
const ProviderDriftMessage = "the node no longer matches its node class"

// DriftReasonMachineNotFound is the reason of an Unknown Drifted condition: the provider no longer knows the
// NodeClaim's machine, so whether it drifted cannot be told.
const DriftReasonMachineNotFound = "MachineNotFound"

// MachineNotFoundMessage is the Drifted condition's message with DriftReasonMachineNotFound.
const MachineNotFoundMessage = "the cloud provider no longer knows this node's machine, so its drift cannot be told; " +
	"garbage collection deletes a NodeClaim whose machine is gone (unless its node is Ready)"

// NewView indexes what was listed. The lists are not copied: the View points into them.
func NewView(pools []apiv1.NodePool, claims []apiv1.NodeClaim, nodes []corev1.Node, pods []*corev1.Pod, pdbs []policyv1.PodDisruptionBudget,
	nominatedTo Nominated) *View {
	v := &View{NodePools: map[string]*apiv1.NodePool{}, Nodes: map[string]*corev1.Node{}, PodsByNode: map[string][]*corev1.Pod{},
		PDBs: pdbs, ProviderDrift: map[string]ProviderDrift{}, AwaitingNode: map[string]int{}, AwaitingClaim: map[string]int{}}
	for i := range pools {
		v.NodePools[pools[i].Name] = &pools[i]
	}
	for i := range claims {
		v.NodeClaims = append(v.NodeClaims, &claims[i])
	}
	sort.Slice(v.NodeClaims, func(i, j int) bool { return v.NodeClaims[i].Name < v.NodeClaims[j].Name })
	for i := range nodes {
		if id := nodes[i].Spec.ProviderID; id != "" {
			v.Nodes[id] = &nodes[i]
		}
	}
	for _, p := range pods {
		if n := p.Spec.NodeName; n != "" {
			v.PodsByNode[n] = append(v.PodsByNode[n], p)
			continue
		}
		if !Unbound(p) {
			continue
		}
		if n := p.Status.NominatedNodeName; n != "" {
			v.AwaitingNode[n]++
		}
		if nominatedTo == nil {
			continue
		}
		if claim, ok := nominatedTo(p); ok {
			v.AwaitingClaim[claim]++
		}
	}
	for _, list := range v.PodsByNode {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Namespace != list[j].Namespace {
				return list[i].Namespace < list[j].Namespace
			}
			return list[i].Name < list[j].Name
		})
	}
	return v
}

// Nominated tells which NodeClaim Tailor's provisioner nominated an unbound pod to, if any (state.Nominations'
// Nomination); nil for a reader without the provisioner's memory (`tailor explain`).
type Nominated func(*corev1.Pod) (string, bool)

// Unbound tells whether a pod waits for the kube-scheduler: not bound, not deleting, not finished.
func Unbound(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp.IsZero() && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// DriftFromConditions fills ProviderDrift from the NodeClaims' Drifted conditions, for a reader that cannot ask the
// provider (`tailor explain`): the controller writes the provider's reason there on every pass, and Unknown
// (DriftReasonMachineNotFound) once the provider no longer knows the machine.
func (v *View) DriftFromConditions() {
	for _, nc := range v.NodeClaims {
		c := nc.StatusConditions().Get(apiv1.ConditionTypeDrifted)
		switch {
		case c == nil:
		case c.Status == metav1.ConditionUnknown && c.Reason == DriftReasonMachineNotFound:
			v.ProviderDrift[nc.Name] = ProviderDrift{Unknown: true}
		case c.Status == metav1.ConditionTrue && c.Reason != state.DriftReasonNodePool && c.Reason != state.DriftReasonRequirements:
			v.ProviderDrift[nc.Name] = ProviderDrift{Reason: c.Reason, Message: c.Message}
		}
	}
}

// NodePoolOf is the NodeClaim's NodePool, or nil.
func (v *View) NodePoolOf(nc *apiv1.NodeClaim) *apiv1.NodePool {
	return v.NodePools[nc.Labels[apiv1.NodePoolLabelKey]]
}

// NodeOf is the NodeClaim's node (by provider ID), or nil.
func (v *View) NodeOf(nc *apiv1.NodeClaim) *corev1.Node {
	if nc.Status.ProviderID == "" {
		return nil
	}
	return v.Nodes[nc.Status.ProviderID]
}

// NotCandidate says why a NodeClaim is not considered for disruption at all.
type NotCandidate string

// Why a NodeClaim is not a candidate, in the order they are checked.
const (
	NotCandidateDeleting       NotCandidate = "Deleting"
	NotCandidateNoNodePool     NotCandidate = "NoNodePool"
	NotCandidateNoNode         NotCandidate = "NoNode"
	NotCandidateNodeDeleting   NotCandidate = "NodeDeleting"
	NotCandidateNotInitialized NotCandidate = "NotInitialized"
	// NotCandidateBusy: a disruption command holds the NodeClaim (its Disrupting condition is True).
	NotCandidateBusy NotCandidate = "Busy"
)

// Considered says why the NodeClaim is not a disruption candidate, or "" when it is one.
func (v *View) Considered(nc *apiv1.NodeClaim) NotCandidate {
	node := v.NodeOf(nc)
	switch {
	case !nc.DeletionTimestamp.IsZero():
		return NotCandidateDeleting
	case v.NodePoolOf(nc) == nil:
		return NotCandidateNoNodePool
	case node == nil:
		return NotCandidateNoNode
	case !node.DeletionTimestamp.IsZero():
		return NotCandidateNodeDeleting
	case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized):
		return NotCandidateNotInitialized
	case nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting):
		return NotCandidateBusy
	}
	return ""
}

// Describe words why the NodeClaim is not a candidate.
func (n NotCandidate) Describe(nc *apiv1.NodeClaim) string {
	switch n {
	case NotCandidateDeleting:
		s := "being removed: the NodeClaim is being deleted"
		if c := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); c != nil && c.Status == metav1.ConditionTrue {
			s += fmt.Sprintf(" (disrupted: %s)", c.Reason)
		}
		return s
	case NotCandidateNoNodePool:
		return fmt.Sprintf("not a disruption candidate: its NodePool %q does not exist", nc.Labels[apiv1.NodePoolLabelKey])
	case NotCandidateNoNode:
		return "not a disruption candidate yet: no node has registered for it"
	case NotCandidateNodeDeleting:
		return "being removed: its node is being deleted"
	case NotCandidateNotInitialized:
		return "not a disruption candidate yet: the node is not initialized"
	case NotCandidateBusy:
		reason := ""
		if c := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); c != nil {
			reason = c.Reason
		}
		return fmt.Sprintf("being disrupted: a disruption command (%s) holds it", reason)
	}
	return ""
}
