package disruption

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// ReasonUnderutilized is consolidation's reason: the node's pods fit on the rest of the cluster.
const ReasonUnderutilized = string(apiv1.DisruptionReasonUnderutilized)

// ValidationWindow is how long a consolidation decision must stand before it is carried out: the same nodes must be
// chosen again after at least this long, so a decision made on a cluster in motion is not acted on.
const ValidationWindow = 10 * time.Second

// pendingCommand is a consolidation decision waiting out the validation window.
type pendingCommand struct {
	names []string
	at    time.Time
}

// consolidate finds the largest set of underutilized candidates whose pods all fit on the remaining nodes (existing
// and in flight) without launching anything, trying the emptiest nodes first. Candidates must already be
// Consolidatable (consolidateAfter passed) in pools with policy WhenEmptyOrUnderutilized.
func (c *Controller) consolidate(ctx context.Context, cands []*candidate) ([]*candidate, error) {
	if c.cluster == nil || len(cands) == 0 {
		return nil, nil
	}
	view, err := c.cluster.Read(ctx, c.cloud.GetInstanceTypes)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cands, func(i, j int) bool { return len(cands[i].pods) < len(cands[j].pods) })
	var chosen []*candidate
	for _, cand := range cands {
		trial := append(append([]*candidate(nil), chosen...), cand)
		ok, err := fitsElsewhere(view.Snapshot, trial)
		if err != nil {
			return nil, err
		}
		if ok {
			chosen = trial
		}
	}
	if len(chosen) == 0 {
		c.pending = nil
		return nil, nil
	}
	names := make([]string, 0, len(chosen))
	for _, cand := range chosen {
		names = append(names, cand.claim.Name)
	}
	sort.Strings(names)
	now := c.clk.Now()
	if c.pending == nil || fmt.Sprint(c.pending.names) != fmt.Sprint(names) {
		c.pending = &pendingCommand{names: names, at: now}
		log.FromContext(ctx).V(1).Info("consolidation candidate(s) found; validating", "nodeclaims", names, "window", ValidationWindow.String())
		return nil, nil
	}
	if now.Sub(c.pending.at) < ValidationWindow {
		return nil, nil
	}
	c.pending = nil
	return chosen, nil
}

// fitsElsewhere simulates removing the candidates' nodes: every pod they run must land on the other nodes, with no
// new capacity.
func fitsElsewhere(snap *scheduling.Snapshot, cands []*candidate) (bool, error) {
	removed := map[string]bool{}
	var pods []*corev1.Pod
	for _, cand := range cands {
		removed[cand.node.Name] = true
		for _, p := range cand.pods {
			moved := p.DeepCopy()
			moved.Spec.NodeName = ""
			pods = append(pods, moved)
		}
	}
	trial := *snap
	trial.NodePools = nil // nothing new may be launched for a delete
	trial.Nodes = nil
	for _, n := range snap.Nodes {
		if !removed[n.Name] {
			trial.Nodes = append(trial.Nodes, n)
		}
	}
	if len(pods) == 0 {
		return true, nil
	}
	results, err := scheduling.Solve(&trial, pods, scheduling.Options{})
	if err != nil {
		return false, fmt.Errorf("simulating consolidation: %w", err)
	}
	return len(results.Unschedulable) == 0 && len(results.NodeClaims) == 0, nil
}

// underutilized tells whether a non-empty, consolidatable node's pool lets consolidation act on it.
func underutilized(pool *apiv1.NodePool, nc *apiv1.NodeClaim) bool {
	return pool.Spec.Disruption.ConsolidationPolicy == apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized &&
		nc.StatusConditions().IsTrue(apiv1.ConditionTypeConsolidatable)
}
