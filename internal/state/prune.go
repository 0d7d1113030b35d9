package state

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// nominationView is a read's private copy of the nominations: building a View decides which nominations ended and
// which published ones to take back after a restart, on the copy, and keeps those decisions as changes for Prune.
type nominationView struct {
	entries map[types.UID]nominationEntry
	changes []nominationChange
}

// nominationChange is one decision of a read about a nomination, applied by Prune.
type nominationChange struct {
	kind      changeKind
	uid       types.UID
	nodeClaim string      // changeEnd, changeSee: the NodeClaim of the nomination
	adopted   Publication // changeAdopt
	message   string      // changeSee
}

type changeKind int

const (
	// changeForget: the pod was bound, finished or is gone; nothing of its nomination is left to undo.
	changeForget changeKind = iota
	// changeEnd: the nomination ended; what was published for it is cleared later (Stale).
	changeEnd
	// changeAdopt: a nomination published before a restart is taken back.
	changeAdopt
	// changeSee: the NodeClaim was first seen initialized; the pod's PodScheduled message then is kept, so a later
	// read can tell whether the kube-scheduler tried the pod since (liveNomination).
	changeSee
)

func newNominationView(entries map[types.UID]nominationEntry) *nominationView {
	return &nominationView{entries: maps.Clone(entries)}
}

// claimOf is the NodeClaim the pod waits for, if its nomination is live.
func (nv *nominationView) claimOf(uid types.UID) (string, bool) {
	e, ok := nv.entries[uid]
	return e.nodeClaim, ok && e.state.live()
}

func (nv *nominationView) forget(uid types.UID) {
	if _, ok := nv.entries[uid]; !ok {
		return
	}
	delete(nv.entries, uid)
	nv.changes = append(nv.changes, nominationChange{kind: changeForget, uid: uid})
}

func (nv *nominationView) end(uid types.UID, nodeClaim string) {
	e := nv.entries[uid]
	e.state, e.nodeClaim = Done, ""
	nv.entries[uid] = e
	nv.changes = append(nv.changes, nominationChange{kind: changeEnd, uid: uid, nodeClaim: nodeClaim})
}

// seen is the pod's PodScheduled message when its nomination's NodeClaim was first seen initialized, if it was.
func (nv *nominationView) seen(uid types.UID) (string, bool) {
	e := nv.entries[uid]
	if e.seen == nil {
		return "", false
	}
	return *e.seen, true
}

func (nv *nominationView) see(uid types.UID, nodeClaim, message string) {
	e := nv.entries[uid]
	e.seen = &message
	nv.entries[uid] = e
	nv.changes = append(nv.changes, nominationChange{kind: changeSee, uid: uid, nodeClaim: nodeClaim, message: message})
}

func (nv *nominationView) adopt(p Publication) {
	nv.entries[p.UID] = nominationEntry{pod: p.Pod, nodeClaim: p.NodeClaim, state: Published, written: &p}
	nv.changes = append(nv.changes, nominationChange{kind: changeAdopt, uid: p.UID, adopted: p})
}

// forgetGone forgets the pods that no longer exist (deleted while pending).
func (nv *nominationView) forgetGone(pods []*corev1.Pod) {
	live := make(map[types.UID]bool, len(pods))
	for _, p := range pods {
		live[p.UID] = true
	}
	for _, uid := range sortedUIDs(nv.entries) {
		if !live[uid] {
			nv.forget(uid)
		}
	}
}

// adoptPublished takes back, after a restart, the nominations Tailor published before it: a pending pod with no live
// nomination whose status.nominatedNodeName is the node name of a live NodeClaim waits for that NodeClaim, so the
// plan does not buy its room a second time.
func (nv *nominationView) adoptPublished(pending []*corev1.Pod, claims map[string]*apiv1.NodeClaim) {
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
	for _, p := range pending {
		if _, ok := nv.claimOf(p.UID); ok || p.Status.NominatedNodeName == "" {
			continue
		}
		claim, ok := byNode[p.Status.NominatedNodeName]
		if !ok {
			continue
		}
		nv.adopt(Publication{UID: p.UID, Pod: types.NamespacedName{Namespace: p.Namespace, Name: p.Name},
			Node: p.Status.NominatedNodeName, NodeClaim: claim})
	}
}

func sortedUIDs(m map[types.UID]nominationEntry) []types.UID {
	out := make([]types.UID, 0, len(m))
	for uid := range m {
		out = append(out, uid)
	}
	// Order does not change the outcome; sorting keeps the changes, and so two builds of one listing, identical.
	slices.Sort(out)
	return out
}

// SettleNominations is the read's one simulator step, explicit because it is the costly part and only planning
// needs it: among the pods waiting for the kube-scheduler on initialized nodes nominated to them, it finds those that
// no registered node can take by every rule (a topology spread skew, an anti-affinity to a pod that landed there, a
// port). The kube-scheduler will not bind them: they go to Pending, their room is no longer held, and their
// nominations end when the view is pruned, so they are planned now rather than NominationTTL after the node became
// usable. The check is the simulator's, on the cluster's nodes and in-flight NodeClaims. It changes the view only;
// calling it again does nothing. Provisioning (through Prune) and `tailor explain` call it; disruption does not.
func (v *View) SettleNominations() {
	if v.settled {
		return
	}
	v.settled = true
	var ready []waitingPod
	for _, w := range v.waiting {
		// Before initialization the node may still carry startup or not-ready taints: only requests were checked.
		if initialized(w.claim) {
			ready = append(ready, w)
		}
	}
	if len(ready) == 0 {
		return
	}
	res, err := scheduling.Solve(v.unheld(), podsOf(ready), scheduling.Options{})
	if err != nil {
		// A pod the simulator cannot read: the provisioning plan reports it; keep waiting here.
		return
	}
	byUID := map[types.UID]waitingPod{}
	for _, w := range ready {
		byUID[w.pod.UID] = w
	}
	for _, u := range res.Unschedulable {
		w := byUID[u.Pod.UID]
		if w.node != nil {
			w.node.Pods = without(w.node.Pods, w.pod)
		}
		v.nominations.end(w.pod.UID, w.claim.Name)
		v.Pending = append(v.Pending, u.Pod)
	}
}

// unheld is the snapshot without the room held for waiting pods and without NodePools: room the plan made elsewhere
// counts (a pod the kube-scheduler put on this pod's node left its own place free on capacity still coming, where
// this pod may go instead), buying new capacity does not.
func (v *View) unheld() *scheduling.Snapshot {
	held := map[*scheduling.ExistingNode][]*corev1.Pod{}
	for _, w := range v.waiting {
		if w.node != nil {
			held[w.node] = append(held[w.node], w.pod)
		}
	}
	snap := *v.Snapshot
	snap.NodePools = nil
	snap.Nodes = make([]*scheduling.ExistingNode, len(v.Snapshot.Nodes))
	for i, n := range v.Snapshot.Nodes {
		pods, ok := held[n]
		if !ok {
			snap.Nodes[i] = n
			continue
		}
		cp := *n
		cp.Pods = nil
		for _, p := range n.Pods {
			if !slices.Contains(pods, p) {
				cp.Pods = append(cp.Pods, p)
			}
		}
		snap.Nodes[i] = &cp
	}
	return &snap
}

// Prune applies what the read that built v decided about nominations — pods bound, finished or gone are forgotten;
// nominations whose NodeClaim went away, whose node filled up or that outlived NominationTTL end (what was published
// for them is cleared by the next ClearStale); nominations published before a restart are taken back — after
// SettleNominations. It also forgets the publication rounds of NodeClaims that no longer exist. Only provisioning
// calls it, once per plan, right after its read: other readers leave the nominations as they are.
func (c *Cluster) Prune(v *View) {
	v.SettleNominations()
	if v.pruned || v.nominations == nil { // applied already, or not a View Read built
		return
	}
	v.pruned = true
	n := c.nominations
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range v.nominations.changes {
		switch ch.kind {
		case changeForget:
			n.forget(ch.uid)
		case changeEnd:
			n.end(ch.uid, ch.nodeClaim)
		case changeAdopt:
			n.adopt(ch.adopted)
		case changeSee:
			n.see(ch.uid, ch.nodeClaim, ch.message)
		}
	}
	for name := range n.rounds {
		if v.NodeClaims[name] == nil {
			delete(n.rounds, name)
			delete(n.settled, name)
		}
	}
}

func podsOf(ws []waitingPod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.pod)
	}
	return out
}

func without(pods []*corev1.Pod, p *corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, q := range pods {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}
