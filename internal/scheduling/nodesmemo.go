package scheduling

import (
	"cmp"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// What Solve derives from the snapshot's existing nodes alone — each node's requirements, allocatable and the
// requests and host ports its pods take, the nodes in name order, and an index of their pods' labels — is a
// nodesMemo. Solve makes one per call; a Consolidator, which simulates hundreds of removals on one snapshot, makes it
// once (Snapshot.memoize) and each simulation leaves the removed nodes out. At 1,000 full nodes this work was most
// of a consolidation pass (every pod's requests summed again for every simulated move).

// nodesMemo is the snapshot's existing nodes prepared for Solve, and which of them a simulation removed.
type nodesMemo struct {
	*nodesData
	// removed names the nodes a simulation (SimulateRemoval) leaves out.
	removed map[string]bool
}

type nodesData struct {
	// order is the snapshot's nodes by name (stable); nodes are what Solve starts each from. A solver shares them
	// until it places a pod on one, and then works on its own copy (solver.own), so they never change.
	order []*ExistingNode
	nodes []node
	// pods are every pod bound to those nodes, node by node in order, with their labels and an index over them.
	pods   []existingPod
	labels []labels.Set
	index  *podIndex
	// anti are the positions in pods of pods with required pod anti-affinity terms.
	anti []int
}

// existingPod is a pod already bound to an existing node; at is the node's position in the memo's order.
type existingPod struct {
	p  *corev1.Pod
	at int
}

// newNodesMemo prepares snap's nodes; vols is the snapshot's volume index.
func newNodesMemo(snap *Snapshot, vols *volumeIndex) *nodesData {
	d := &nodesData{order: slices.Clone(snap.Nodes)}
	slices.SortStableFunc(d.order, func(a, b *ExistingNode) int { return cmp.Compare(a.Name, b.Name) })
	d.nodes = make([]node, len(d.order))
	for i, en := range d.order {
		b := &d.nodes[i]
		*b = node{name: en.Name, existing: en, taints: en.Taints, shared: true, at: i}
		b.alloc = withAttachLimit(ResourcesFrom(en.Allocatable), existingAttachLimit(en))
		lbls := maps.Clone(en.Labels)
		if lbls == nil {
			lbls = map[string]string{}
		}
		if _, ok := lbls[apiv1.HostnameLabelKey]; !ok {
			lbls[apiv1.HostnameLabelKey] = en.Name
		}
		b.reqs = FromLabels(lbls)
		for _, p := range en.Pods {
			b.used = b.used.Add(withVolumes(PodRequests(p), vols.ebsVolumes(p)))
			b.ports = append(b.ports, podHostPorts(p)...)
			if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 {
				d.anti = append(d.anti, len(d.pods))
			}
			d.pods = append(d.pods, existingPod{p: p, at: i})
			d.labels = append(d.labels, labels.Set(p.Labels))
		}
		b.ports = slices.Clip(b.ports)
	}
	d.index = newPodIndex(d.labels)
	return d
}

// memoize returns a copy of snap whose simulations share one nodesMemo. The snapshot's nodes and their pods must not
// change while the copy is in use.
func (snap *Snapshot) memoize() *Snapshot {
	out := *snap
	out.memo = &nodesMemo{nodesData: newNodesMemo(snap, newVolumeIndex(snap))}
	return &out
}

// nodesMemo is the snapshot's memo, or a new one for this Solve alone.
func (s *solver) nodesMemo(snap *Snapshot) *nodesMemo {
	if snap.memo != nil {
		return snap.memo
	}
	return &nodesMemo{nodesData: newNodesMemo(snap, s.vols)}
}

// buildExisting makes the solver's existing nodes from the memo, in name order, leaving out the removed ones; at
// maps each memo position to its node (nil when removed). The nodes are the memo's own until own copies them.
func (s *solver) buildExisting(m *nodesMemo) {
	s.memo = m
	s.existingAt = make([]*node, len(m.order))
	s.existingIndex = make([]int, len(m.order))
	s.existing = make([]*node, 0, len(m.order)-len(m.removed))
	for i, en := range m.order {
		if m.removed[en.Name] {
			continue
		}
		n := &m.nodes[i]
		s.existingIndex[i] = len(s.existing)
		s.existing = append(s.existing, n)
		s.existingAt[i] = n
	}
}

// own returns the solver's own copy of an existing node it shares with the memo, in its place in s.existing and
// s.existingAt, to place a pod on; a node it owns already, or a NodeClaim, is returned as it is.
func (s *solver) own(n *node) *node {
	if !n.shared {
		return n
	}
	c := *n
	c.shared = false
	s.existing[s.existingIndex[n.at]] = &c
	s.existingAt[n.at] = &c
	return &c
}
