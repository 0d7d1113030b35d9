package state

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/scheduling"
)

// Replacement is what a disruption command holds while its replacement NodeClaims launch: the nodes it will remove
// and, per replacement NodeClaim, the pods of those nodes that the plan put there.
type Replacement struct {
	// Candidates are the names of the nodes the command will remove once its replacements are initialized.
	Candidates []string
	// Pods maps each replacement NodeClaim's name to the pods it is launched for.
	Pods map[string][]*corev1.Pod
}

// MarkReplacing records a disruption command that launched replacements (one command per id). Until Unmark, every
// Read sees the candidates as unschedulable and the replacements' room as taken by the pods they were launched for:
// provisioning then neither places new pods on a node about to go nor hands the replacements' room to other pods and
// launches again for the evicted ones. The room is released when the candidates are deleted (Unmark): the pods the
// eviction recreates are new pods, and they must see the replacements' room free so they are not planned twice.
func (c *Cluster) MarkReplacing(id string, r Replacement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replacing[id] = r
}

// Unmark drops the command's marks.
func (c *Cluster) Unmark(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.replacing, id)
}

// Replacing returns the marks of every command in flight, by id.
func (c *Cluster) Replacing() map[string]Replacement {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Replacement, len(c.replacing))
	for id, r := range c.replacing {
		out[id] = r
	}
	return out
}

// applyReplacing puts the marks of commands in flight into the snapshot; claimNodes are the NodeClaims' nodes
// (addNodes).
func applyReplacing(v *View, marks map[string]Replacement, claimNodes map[string]*scheduling.ExistingNode) {
	if len(marks) == 0 {
		return
	}
	byName := map[string]*scheduling.ExistingNode{}
	for _, n := range v.Snapshot.Nodes {
		if !n.InFlight {
			byName[n.Name] = n
		}
	}
	for _, r := range marks {
		for _, name := range r.Candidates {
			if n := byName[name]; n != nil {
				n.Unschedulable = true
			}
		}
		for claim, pods := range r.Pods {
			target := claimNodes[claim]
			if target == nil {
				continue // the replacement is gone; the command will notice and give up
			}
			for _, p := range pods {
				held := p.DeepCopy()
				held.Spec.NodeName = target.Name
				target.Pods = append(target.Pods, held)
			}
		}
	}
}
