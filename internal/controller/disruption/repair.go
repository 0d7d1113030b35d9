package disruption

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ReasonUnhealthy is node repair's reason: a node condition the provider lists (RepairPolicies) has been unhealthy
// for longer than its toleration.
const ReasonUnhealthy = apiv1.DisruptingReasonUnhealthy

// MaxUnhealthyFraction: repair stops in a NodePool while more than this share of its nodes (rounded up) is
// unhealthy. So many broken nodes at once point at something replacing nodes will not fix (a bad image, a network
// or control-plane outage), and replacing them all would only churn.
const MaxUnhealthyFraction = 0.2

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

// unhealthy returns the repair policy the node breaks now, and whether it has broken it for longer than the
// toleration; nil when the node is healthy.
func (c *Controller) unhealthy(node *corev1.Node) (*cloudprovider.RepairPolicy, bool) {
	if c.repair.Disabled {
		return nil, false
	}
	for _, policy := range c.cloud.RepairPolicies() {
		for _, cond := range node.Status.Conditions {
			if cond.Type != policy.ConditionType || cond.Status != policy.ConditionStatus {
				continue
			}
			toleration := policy.TolerationDuration
			if c.repair.Toleration > 0 {
				toleration = c.repair.Toleration
			}
			due := cond.LastTransitionTime.Add(toleration)
			if c.clk.Now().Before(due) {
				if c.nextDue.IsZero() || due.Before(c.nextDue) {
					c.nextDue = due
				}
				return &policy, false
			}
			return &policy, true
		}
	}
	return nil, false
}

// repairable keeps one unhealthy candidate whose NodePool is not too broken to repair (MaxUnhealthyFraction),
// reporting the pools where repair stopped. Repair ignores disruption budgets, do-not-disrupt and
// PodDisruptionBudgets: the node is not running its pods anyway.
func (c *Controller) repairable(ctx context.Context, w *world, cands []*candidate) []*candidate {
	total, broken := map[string]int{}, map[string]int{}
	for _, nc := range w.claims {
		pool := nc.Labels[apiv1.NodePoolLabelKey]
		total[pool]++
		if node := w.nodes[nc.Status.ProviderID]; node != nil {
			if policy, _ := c.unhealthy(node); policy != nil {
				broken[pool]++
			}
		}
	}
	var chosen []*candidate
	blocked := map[string]bool{}
	for _, cand := range cands {
		pool := cand.pool.Name
		allowed := int(math.Ceil(float64(total[pool]) * MaxUnhealthyFraction))
		if broken[pool] > allowed {
			if !blocked[pool] {
				blocked[pool] = true
				c.reportRepairBlocked(ctx, cand.pool, broken[pool], total[pool], allowed)
			}
			continue
		}
		if len(chosen) == 0 {
			chosen = append(chosen, cand) // one repair at a time
		}
	}
	for pool := range w.pools {
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
