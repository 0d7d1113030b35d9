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

// nodeBase is an existing node as the solver starts from it. Solve copies it into its node; ports is shared, so the
// node's copy has its capacity clipped and an append copies it.
type nodeBase struct {
	reqs  Requirements
	alloc Resources
	used  Resources
	ports []hostPort
}

// nodesMemo is the snapshot's existing nodes prepared for Solve, and which of them a simulation removed.
type nodesMemo struct {
	*nodesData
	// removed names the nodes a simulation (SimulateRemoval) leaves out.
	removed map[string]bool
}

type nodesData struct {
	// order is the snapshot's nodes by name (stable), bases what Solve starts each from.
	order []*ExistingNode
	bases []nodeBase
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
	d.bases = make([]nodeBase, len(d.order))
	for i, en := range d.order {
		b := &d.bases[i]
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
// maps each memo position to its node (nil when removed).
func (s *solver) buildExisting(m *nodesMemo) {
	s.memo = m
	s.existingAt = make([]*node, len(m.order))
	s.existing = make([]*node, 0, len(m.order)-len(m.removed))
	for i, en := range m.order {
		if m.removed[en.Name] {
			continue
		}
		b := &m.bases[i]
		n := &node{name: en.Name, existing: en, taints: en.Taints, alloc: b.alloc, reqs: b.reqs, used: b.used, ports: slices.Clip(b.ports)}
		s.existing = append(s.existing, n)
		s.existingAt[i] = n
	}
}
