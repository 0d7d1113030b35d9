package state

import (
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NominationState is where a pod's nomination to a NodeClaim stands. A nomination moves
//
//	nominated → published → released → done
//
// and may end (done) from any state. Only provisioning moves it: the provisioner nominates, its publisher publishes
// and releases, and its reconcile ends nominations through Cluster.Prune. Reads of the cluster never change it.
type NominationState int

const (
	// NominationNone: the pod has no nomination (never had one, or it ended and nothing of it is left to undo).
	NominationNone NominationState = iota
	// Nominated: the plan put the pod on the NodeClaim's coming capacity; status.nominatedNodeName is not (yet)
	// written for it.
	Nominated
	// Published: Tailor wrote the NodeClaim's node name into the pod's status.nominatedNodeName.
	Published
	// Released: Tailor took that status.nominatedNodeName back on purpose (a zone-spread pod, once its node is
	// usable); the pod still waits for the NodeClaim and it is not published again.
	Released
	// Done: the nomination ended (the NodeClaim went away, its room went to other pods, NominationTTL passed) while
	// something Tailor wrote for it is still on the pod: Stale lists it until ClearStale undoes it.
	Done
)

func (s NominationState) String() string {
	switch s {
	case NominationNone:
		return "none"
	case Nominated:
		return "nominated"
	case Published:
		return "published"
	case Released:
		return "released"
	case Done:
		return "done"
	}
	return fmt.Sprintf("NominationState(%d)", int(s))
}

// live tells whether the pod still waits for the NodeClaim in this state.
func (s NominationState) live() bool { return s == Nominated || s == Published || s == Released }

// TransitionError is a nomination change the nomination's state does not allow.
type TransitionError struct {
	UID      types.UID
	From, To NominationState
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("nomination of pod %s cannot go from %s to %s", e.UID, e.From, e.To)
}

// IsTransitionError tells whether err refused a nomination change.
func IsTransitionError(err error) bool {
	var te *TransitionError
	return errors.As(err, &te)
}

// nominationEntry is one pod's nomination and what Tailor wrote for it.
type nominationEntry struct {
	pod       types.NamespacedName
	nodeClaim string // "" once done
	state     NominationState
	// written is what Tailor wrote into the pod's status.nominatedNodeName and has not undone; it may name an earlier
	// NodeClaim than nodeClaim (the pod was planned again before the old value was cleared).
	written *Publication
	// seen is the pod's PodScheduled message when this nomination's NodeClaim was first seen initialized; nil before.
	seen *string
}

// Nominations is provisioning's record of which pending pod waits for which NodeClaim, and of what it published
// about it to the kube-scheduler. It is safe for concurrent use.
type Nominations struct {
	mu      sync.Mutex
	entries map[types.UID]*nominationEntry
	live    int                     // entries in a live state, so Any is cheap on every pod update
	rounds  map[string]int          // nominations made to each NodeClaim so far
	settled map[string]settledRound // the round of each NodeClaim's nominations published last, and where
}

type settledRound struct {
	node  string
	round int
}

// NewNominations returns an empty record.
func NewNominations() *Nominations {
	return &Nominations{entries: map[types.UID]*nominationEntry{}, rounds: map[string]int{}, settled: map[string]settledRound{}}
}

// Nominate records that pod waits for the node of nodeClaim (none or done → nominated). A pod whose nomination is
// live is refused: it is planned again only once its nomination ended.
func (n *Nominations) Nominate(pod *corev1.Pod, nodeClaim string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[pod.UID]
	if e == nil {
		e = &nominationEntry{}
		n.entries[pod.UID] = e
	}
	if e.state.live() {
		return &TransitionError{UID: pod.UID, From: e.state, To: Nominated}
	}
	e.pod, e.nodeClaim, e.seen = client.ObjectKeyFromObject(pod), nodeClaim, nil
	n.move(e, Nominated)
	n.rounds[nodeClaim]++
	return nil
}

// Publish records that Tailor wrote p into the pod's status.nominatedNodeName (nominated or published → published).
// The write is recorded whatever the state, so that a value written for a nomination that ended meanwhile is
// cleared later (Stale); the error then says the nomination itself did not move.
func (n *Nominations) Publish(p Publication) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[p.UID]
	if e == nil {
		e = &nominationEntry{pod: p.Pod, state: Done}
		n.entries[p.UID] = e
	}
	e.written = &p
	if (e.state != Nominated && e.state != Published) || e.nodeClaim != p.NodeClaim {
		return &TransitionError{UID: p.UID, From: e.state, To: Published}
	}
	n.move(e, Published)
	return nil
}

// Release records that Tailor cleared the pod's published status.nominatedNodeName on purpose while the pod keeps
// waiting for its NodeClaim (published → released): it is not published again for that NodeClaim. The cleared value
// is forgotten whatever the state; the error says the nomination itself did not move.
func (n *Nominations) Release(uid types.UID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[uid]
	if e == nil {
		return &TransitionError{UID: uid, From: NominationNone, To: Released}
	}
	e.written = nil
	if e.state != Published {
		from := e.state
		n.dropIfSpent(uid, e)
		return &TransitionError{UID: uid, From: from, To: Released}
	}
	n.move(e, Released)
	return nil
}

// Unpublished records that the pod's status.nominatedNodeName no longer says what Tailor wrote (cleared, or the pod
// is gone). It undoes a write, not the nomination: a live nomination keeps its state.
func (n *Nominations) Unpublished(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.entries[uid]; e != nil {
		e.written = nil
		n.dropIfSpent(uid, e)
	}
}

// end ends the pod's nomination to nodeClaim (→ done): what was written for it stays listed by Stale until cleared.
// A nomination to another NodeClaim (made since) is left alone.
func (n *Nominations) end(uid types.UID, nodeClaim string) {
	e := n.entries[uid]
	if e == nil || !e.state.live() || e.nodeClaim != nodeClaim {
		return
	}
	n.move(e, Done)
	e.nodeClaim = ""
	n.dropIfSpent(uid, e)
}

// see records the pod's PodScheduled message when the NodeClaim of its live nomination was first seen initialized.
func (n *Nominations) see(uid types.UID, nodeClaim, message string) {
	e := n.entries[uid]
	if e == nil || !e.state.live() || e.nodeClaim != nodeClaim || e.seen != nil {
		return
	}
	e.seen = &message
}

// forget drops everything about the pod: it was bound (binding cleared status.nominatedNodeName), finished or gone.
func (n *Nominations) forget(uid types.UID) {
	if e := n.entries[uid]; e != nil {
		n.move(e, NominationNone)
		delete(n.entries, uid)
	}
}

// adopt takes back a nomination published before a restart (none or done → published).
func (n *Nominations) adopt(p Publication) {
	e := n.entries[p.UID]
	if e == nil {
		e = &nominationEntry{}
		n.entries[p.UID] = e
	}
	if e.state.live() {
		return
	}
	e.pod, e.nodeClaim, e.written = p.Pod, p.NodeClaim, &p
	n.move(e, Published)
}

// move sets the entry's state, keeping the count of live ones.
func (n *Nominations) move(e *nominationEntry, to NominationState) {
	if e.state.live() {
		n.live--
	}
	if to.live() {
		n.live++
	}
	e.state = to
}

// dropIfSpent removes a done entry with nothing left to undo.
func (n *Nominations) dropIfSpent(uid types.UID, e *nominationEntry) {
	if e.state == Done && e.written == nil {
		delete(n.entries, uid)
	}
}

// State is where the pod's nomination stands, and the NodeClaim it waits for while live.
func (n *Nominations) State(uid types.UID) (NominationState, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := n.entries[uid]
	if e == nil {
		return NominationNone, ""
	}
	return e.state, e.nodeClaim
}

// Nomination returns the NodeClaim the pod waits for, if its nomination is live.
func (n *Nominations) Nomination(pod *corev1.Pod) (string, bool) {
	state, claim := n.State(pod.UID)
	return claim, state.live()
}

// Any tells whether any pod is waiting on capacity Tailor launched for it.
func (n *Nominations) Any() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.live > 0
}

// snapshot copies the record for a read of the cluster, which must not change it.
func (n *Nominations) snapshot() map[types.UID]nominationEntry {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[types.UID]nominationEntry, len(n.entries))
	for uid, e := range n.entries {
		out[uid] = *e
	}
	return out
}
