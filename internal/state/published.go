package state

import (
	corev1 "k8s.io/api/core/v1"
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

// ToPublish lists the pods nominated to nodeClaim whose published nomination does not name node yet, and the round
// of nominations it read, for MarkPublished.
func (c *Cluster) ToPublish(nodeClaim, node string) ([]Publication, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Publication
	for uid, n := range c.nominations {
		if n.nodeClaim == nodeClaim && !n.released && c.published[uid].Node != node {
			out = append(out, Publication{UID: uid, Pod: n.pod, Node: node, NodeClaim: nodeClaim})
		}
	}
	return out, c.rounds[nodeClaim]
}

// MarkPublished records that every nomination to nodeClaim up to round (from ToPublish) was published on node, or
// was not Tailor's to publish (the pod was bound, gone or nominated by someone else).
func (c *Cluster) MarkPublished(nodeClaim, node string, round int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settled[nodeClaim] = settledRound{node: node, round: round}
}

// PublicationPending tells whether pods nominated to nodeClaim still wait for their nominations to be published on
// node: the node should not take pods before they are, or the kube-scheduler gives their room to others.
func (c *Cluster) PublicationPending(nodeClaim, node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.settled[nodeClaim]; ok && s.node == node && s.round == c.rounds[nodeClaim] {
		return false
	}
	for _, n := range c.nominations {
		if n.nodeClaim == nodeClaim && !n.released {
			return true
		}
	}
	return false
}

type settledRound struct {
	node  string
	round int
}

// Nominated lists the pods nominated to nodeClaim whose nomination Tailor published and has not released.
func (c *Cluster) Nominated(nodeClaim string) []Publication {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Publication
	for uid, n := range c.nominations {
		if p, ok := c.published[uid]; ok && n.nodeClaim == nodeClaim && !n.released {
			out = append(out, p)
		}
	}
	return out
}

// Release records that the pod's published nomination was cleared on purpose while the pod keeps waiting for its
// NodeClaim: it is not published again for that NodeClaim.
func (c *Cluster) Release(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nominations[uid]; ok {
		n.released = true
		c.nominations[uid] = n
	}
	delete(c.published, uid)
}

// Published records that the pod's status.nominatedNodeName now says what p says.
func (c *Cluster) Published(p Publication) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published[p.UID] = p
}

// Unpublished records that the pod's status.nominatedNodeName no longer says what Tailor wrote (cleared, or the pod
// is gone).
func (c *Cluster) Unpublished(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.published, uid)
}

// PublishedBy tells whether node, a pod's status.nominatedNodeName, is what Tailor wrote there: only such a value may
// be overwritten or cleared (the kube-scheduler's own nominations, for preemption or a long binding, are not Tailor's).
func (c *Cluster) PublishedBy(uid types.UID, node string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.published[uid]
	return ok && node != "" && p.Node == node
}

// Stale lists the published nominations Tailor no longer stands by: the pod lost its nomination (the NodeClaim went
// away, the node filled up, the nomination outlived NominationTTL) or was nominated to another NodeClaim since.
func (c *Cluster) Stale() []Publication {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Publication
	for uid, p := range c.published {
		if n, ok := c.nominations[uid]; !ok || n.nodeClaim != p.NodeClaim {
			out = append(out, p)
		}
	}
	return out
}

// done forgets a pod that was bound or finished: the API server cleared its status.nominatedNodeName on binding.
func (c *Cluster) done(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nominations, uid)
	delete(c.published, uid)
}

// forgetGone drops the nominations and publications of pods that no longer exist (deleted while pending).
func (c *Cluster) forgetGone(pods []corev1.Pod) {
	live := make(map[types.UID]bool, len(pods))
	for i := range pods {
		live[pods[i].UID] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid := range c.nominations {
		if !live[uid] {
			delete(c.nominations, uid)
		}
	}
	for uid := range c.published {
		if !live[uid] {
			delete(c.published, uid)
		}
	}
}

// adoptPublished takes back, after a restart, the nominations Tailor published before it: a pending pod with no
// nomination in memory whose status.nominatedNodeName is the node name of a live NodeClaim waits for that NodeClaim,
// so the plan does not buy its room a second time.
func (c *Cluster) adoptPublished(pending []*corev1.Pod, claims map[string]*apiv1.NodeClaim) {
	byNode := map[string]string{}
	for _, nc := range claims {
		if !nc.DeletionTimestamp.IsZero() {
			continue
		}
		if name := NodeNameOf(nc); name != "" {
			byNode[name] = nc.Name
		}
	}
	if len(byNode) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pending {
		if _, ok := c.nominations[p.UID]; ok || p.Status.NominatedNodeName == "" {
			continue
		}
		claim, ok := byNode[p.Status.NominatedNodeName]
		if !ok {
			continue
		}
		key := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		c.nominations[p.UID] = nomination{nodeClaim: claim, at: c.clk.Now(), pod: key}
		c.published[p.UID] = Publication{UID: p.UID, Pod: key, Node: p.Status.NominatedNodeName, NodeClaim: claim}
	}
}

// NodeNameOf is the name of the NodeClaim's node: the registered node's, else the one the cloud provider announced
// at launch, else "".
func NodeNameOf(nc *apiv1.NodeClaim) string {
	if nc.Status.NodeName != "" {
		return nc.Status.NodeName
	}
	return nc.Annotations[apiv1.NodeNameAnnotationKey]
}

// pruneClaims forgets the publication rounds of NodeClaims that no longer exist.
func (c *Cluster) pruneClaims(claims map[string]*apiv1.NodeClaim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.rounds {
		if claims[name] == nil {
			delete(c.rounds, name)
			delete(c.settled, name)
		}
	}
}
