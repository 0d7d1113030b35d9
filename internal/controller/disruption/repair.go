package disruption

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	policy "github.com/tailor-sh/tailor/internal/disruption"
)

// ReasonUnhealthy is node repair's reason: a node condition the provider lists (RepairPolicies) has been unhealthy
// for longer than its toleration.
const ReasonUnhealthy = policy.ReasonUnhealthy

// MaxUnhealthyFraction: repair stops in a NodePool while more than this share of its nodes (rounded up) is
// unhealthy (policy.MaxUnhealthyFraction).
const MaxUnhealthyFraction = policy.MaxUnhealthyFraction

// Event reasons of repair.
const (
	eventRepairBlocked = "RepairBlocked"
)

// RepairOptions configure node repair.
type RepairOptions struct {
	// Disabled turns node repair off.
	Disabled bool
	// Toleration, when positive, replaces the toleration of every provider repair policy (tests and demos use a
	// short one).
	Toleration time.Duration
}

// SetRepair configures node repair (on, with the provider's tolerations, unless told otherwise). Call it before
// Start.
func (c *Controller) SetRepair(o RepairOptions) { c.repair = o }

// repairPolicies are the provider's repair policies with the configured toleration, or nil when repair is off.
func (c *Controller) repairPolicies() []cloudprovider.RepairPolicy {
	if c.repair.Disabled {
		return nil
	}
	policies := slices.Clone(c.cloud.RepairPolicies())
	if c.repair.Toleration > 0 {
		for i := range policies {
			policies[i].TolerationDuration = c.repair.Toleration
		}
	}
	return policies
}

// repairable keeps one unhealthy candidate whose NodePool is not too broken to repair (policy.View.Allot),
// reporting the pools where repair stopped. Repair ignores disruption budgets, do-not-disrupt and
// PodDisruptionBudgets: the node is not running its pods anyway. It also wakes the loop when the toleration of a
// node that is unhealthy but not yet overdue runs out.
func (c *Controller) repairable(ctx context.Context, w *world, cands []*candidate) []*candidate {
	now := c.clk.Now()
	for _, nc := range w.NodeClaims {
		if node := w.NodeOf(nc); node != nil {
			if broken, due, overdue := policy.Unhealthy(w.RepairPolicies, node, now); broken != nil && !overdue {
				c.wake(due)
			}
		}
	}
	w.Allot(verdictsOf(cands), now)
	var chosen []*candidate
	blocked := map[string]bool{}
	for _, cand := range cands {
		pool, b := cand.pool.Name, cand.verdict.Budget
		if b.Disrupting > b.Allowed {
			if !blocked[pool] {
				blocked[pool] = true
				c.reportRepairBlocked(ctx, cand.pool, b.Disrupting, b.Nodes, b.Allowed)
			}
			continue
		}
		if b.Within {
			chosen = append(chosen, cand) // one repair at a time
		}
	}
	for pool := range w.NodePools {
		if blocked[pool] {
			repairBlocked.WithLabelValues(pool).Set(1)
		} else {
			repairBlocked.WithLabelValues(pool).Set(0)
		}
	}
	return chosen
}

func (c *Controller) reportRepairBlocked(ctx context.Context, np *apiv1.NodePool, broken, total, allowed int) {
	msg := fmt.Sprintf("not repairing: %d of %d nodes are unhealthy, more than %.0f%% (%d); repair resumes when at most %d are",
		broken, total, MaxUnhealthyFraction*100, allowed, allowed)
	log.FromContext(ctx).Info("node repair stopped", "nodepool", np.Name, "unhealthy", broken, "nodes", total)
	if c.repairWarned[np.Name] != msg {
		if c.repairWarned == nil {
			c.repairWarned = map[string]string{}
		}
		c.repairWarned[np.Name] = msg
		c.recorder.Eventf(np, nil, corev1.EventTypeWarning, eventRepairBlocked, "Repair", "%s", msg)
	}
}

// forceful reasons take a node even when its pods would fit nowhere: it is going anyway (expired) or useless
// (unhealthy).
func forceful(reason string) bool { return reason == ReasonExpired || reason == ReasonUnhealthy }
