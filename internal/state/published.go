package state

import (
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Publication is a nomination Tailor wrote into a pending pod's status.nominatedNodeName: the kube-scheduler keeps
// the pod's requests reserved on that node against pods of equal or lower priority, and tries the node first for it
// (KEP-5278). Tailor publishes a nomination as soon as the node's name is known (at launch, before the node exists),
// so the first node to become Ready is not filled with pods the plan meant for other nodes.
type Publication struct {
	UID types.UID
	Pod types.NamespacedName
	// Node is the node name written; NodeClaim the NodeClaim the pod was nominated to when it was written.
	Node      string
	NodeClaim string
}

// ToPublish lists the pods nominated to nodeClaim (nominated or published, not released) whose published nomination
// does not name node yet, and the round of nominations it read, for MarkPublished.
func (n *Nominations) ToPublish(nodeClaim, node string) ([]Publication, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Publication
	for uid, e := range n.entries {
		if e.nodeClaim != nodeClaim || (e.state != Nominated && e.state != Published) {
			continue
		}
		if e.written == nil || e.written.Node != node {
			out = append(out, Publication{UID: uid, Pod: e.pod, Node: node, NodeClaim: nodeClaim})
		}
	}
	return out, n.rounds[nodeClaim]
}

// MarkPublished records that every nomination to nodeClaim up to round (from ToPublish) was published on node, or
// was not Tailor's to publish (the pod was bound, gone or nominated by someone else).
func (n *Nominations) MarkPublished(nodeClaim, node string, round int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.settled[nodeClaim] = settledRound{node: node, round: round}
}

// PublicationPending tells whether pods nominated to nodeClaim still wait for their nominations to be published on
// node: the node should not take pods before they are, or the kube-scheduler gives their room to others.
func (n *Nominations) PublicationPending(nodeClaim, node string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.settled[nodeClaim]; ok && s.node == node && s.round == n.rounds[nodeClaim] {
		return false
	}
	for _, e := range n.entries {
		if e.nodeClaim == nodeClaim && (e.state == Nominated || e.state == Published) {
			return true
		}
	}
	return false
}

// Nominated lists the pods nominated to nodeClaim whose nomination Tailor published and has not released.
func (n *Nominations) Nominated(nodeClaim string) []Publication {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Publication
	for _, e := range n.entries {
		if e.written != nil && e.nodeClaim == nodeClaim && (e.state == Nominated || e.state == Published) {
			out = append(out, *e.written)
		}
	}
	return out
}

// PublishedBy tells whether node, a pod's status.nominatedNodeName, is what Tailor wrote there: only such a value may
// be overwritten or cleared (the kube-scheduler's own nominations, for preemption or a long binding, are not Tailor's).
func (n *Nominations) PublishedBy(uid types.UID, node string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[uid]
	return e != nil && e.written != nil && node != "" && e.written.Node == node
}

// Stale lists the published nominations Tailor no longer stands by: the nomination is done (the NodeClaim went away,
// the node filled up, the nomination outlived NominationTTL) or the pod was nominated to another NodeClaim since.
func (n *Nominations) Stale() []Publication {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Publication
	for _, e := range n.entries {
		if e.written != nil && (!e.state.live() || e.nodeClaim != e.written.NodeClaim) {
			out = append(out, *e.written)
		}
	}
	return out
}

// NodeNameOf is the name of the NodeClaim's node: the registered node's, else the one the cloud provider announced
// at launch, else "".
func NodeNameOf(nc *apiv1.NodeClaim) string {
	if nc.Status.NodeName != "" {
		return nc.Status.NodeName
	}
	return nc.Annotations[apiv1.NodeNameAnnotationKey]
}
