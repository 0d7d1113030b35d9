package disruption

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	policy "github.com/tailor-sh/tailor/internal/disruption"
	"github.com/tailor-sh/tailor/internal/state"
)

// conditionChange is a claim's Drifted and Consolidatable conditions as the policy's verdict sets them, and its
// conditions as read: nothing else of the claim changes, and a pass over thousands of claims, most unchanged, copied
// each whole to compare.
type conditionChange struct {
	claim  *apiv1.NodeClaim
	before []metav1.Condition
}

func (ch *conditionChange) changed() bool {
	return !equality.Semantic.DeepEqual(ch.before, ch.claim.Status.Conditions)
}

// original is the claim as read, for the patch.
func (ch *conditionChange) original() *apiv1.NodeClaim {
	o := ch.claim.DeepCopy()
	o.Status.Conditions = ch.before
	return o
}

// conditions prepares one verdict's record: it tidies what an unfinished command left on the claim (leftOver),
// re-stamps a NodePool hash of another hash version, and sets the claim's Drifted and Consolidatable conditions to
// the policy's word. It returns nil for a claim that is no candidate, busy with a command, or changed since it was
// read (no decision should be made on it this pass).
func (c *Controller) conditions(ctx context.Context, w *world, v *policy.Verdict) (*conditionChange, error) {
	if v.NotCandidate != "" && v.NotCandidate != policy.NotCandidateBusy {
		return nil, nil
	}
	nc := v.Claim
	if busy, err := c.leftOver(ctx, nc, w.NodeOf(nc)); busy || err != nil {
		return nil, err
	}
	if v.Candidate.PoolDrift.Restamp {
		if stale, err := c.restamp(ctx, nc, v.Candidate.Pool); err != nil || stale {
			return nil, err
		}
	}
	ch := &conditionChange{claim: nc, before: slices.Clone(nc.Status.Conditions)} // Condition holds no pointers
	c.markDrifted(nc, v.Candidate)
	c.markConsolidatable(ctx, nc, v.Candidate.Consolidation)
	return ch, nil
}

// conditionWriters is how many claims' conditions a pass writes at once.
const conditionWriters = 16

// writeConditions patches the claims' statuses, conditionWriters at a time, and returns the claims that changed
// since they were read (a conflict: the next pass decides on the fresh read).
func (c *Controller) writeConditions(ctx context.Context, changes []*conditionChange) (map[string]bool, error) {
	stale := make([]bool, len(changes))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(conditionWriters)
	for i, ch := range changes {
		g.Go(func() error {
			// Optimistic lock: the merge patch replaces the conditions list, so a stale read must not win.
			err := c.kube.Status().Patch(ctx, ch.claim, client.MergeFromWithOptions(ch.original(), client.MergeFromWithOptimisticLock{}))
			switch {
			case apierrors.IsConflict(err):
				stale[i] = true
			case client.IgnoreNotFound(err) != nil:
				return fmt.Errorf("updating nodeclaim %s conditions: %w", ch.claim.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for i, ch := range changes {
		if stale[i] {
			out[ch.claim.Name] = true
		}
	}
	return out, nil
}

// restamp writes the NodePool's current hash and hash version onto a NodeClaim whose hash an older Tailor computed
// (see state.CheckNodePoolDrift): an upgrade that changes what the hash covers must not drift every node. stale means
// the claim changed since it was read.
func (c *Controller) restamp(ctx context.Context, nc *apiv1.NodeClaim, pool *apiv1.NodePool) (bool, error) {
	original := nc.DeepCopy()
	if nc.Annotations == nil {
		nc.Annotations = map[string]string{}
	}
	for k, v := range state.NodePoolHashAnnotations(pool) {
		nc.Annotations[k] = v
	}
	err := c.kube.Patch(ctx, nc, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("re-stamping the nodepool hash of nodeclaim %s: %w", nc.Name, err)
	}
	log.FromContext(ctx).V(1).Info("re-stamped nodepool hash of another hash version", "nodeclaim", klog.KObj(nc),
		"previous", original.Annotations[apiv1.NodePoolHashAnnotationKey], "version", state.NodePoolHashVersion)
	return false, nil
}

// markDrifted sets Drifted when the NodePool's template (less its requirements) changed since launch, when the
// node's labels no longer meet the NodePool's requirements (state.CheckNodePoolDrift), or when the provider reports
// drift. When the provider no longer knows the machine it marks Drifted Unknown (MachineNotFound): what the provider
// said before is not trusted, and `tailor explain` reads the same from the condition.
func (c *Controller) markDrifted(nc *apiv1.NodeClaim, cand *policy.Candidate) {
	now := metav1.NewTime(c.clk.Now())
	switch {
	case cand.PoolDrift.Reason != "":
		nc.StatusConditions().Set(now, apiv1.ConditionTypeDrifted, metav1.ConditionTrue, cand.PoolDrift.Reason, cand.PoolDrift.Message)
	case cand.Provider.Unknown:
		nc.StatusConditions().Set(now, apiv1.ConditionTypeDrifted, metav1.ConditionUnknown, policy.DriftReasonMachineNotFound, policy.MachineNotFoundMessage)
	case cand.Provider.Reason != "":
		nc.StatusConditions().Set(now, apiv1.ConditionTypeDrifted, metav1.ConditionTrue, cand.Provider.Reason, cand.Provider.Message)
	default:
		nc.StatusConditions().Clear(apiv1.ConditionTypeDrifted)
	}
}

// markConsolidatable records where consolidateAfter stands (policy.ConsolidationOf) in the Consolidatable condition:
// True once consolidateAfter has passed since the node's last pod event (or since it became usable, if no pod ever
// came); an empty node is marked at once, False while it waits, and wakes the loop when its wait ends.
func (c *Controller) markConsolidatable(ctx context.Context, nc *apiv1.NodeClaim, s policy.Consolidation) {
	now := metav1.NewTime(c.clk.Now())
	prior := nc.StatusConditions().Get(apiv1.ConditionTypeConsolidatable)
	switch s.State {
	case policy.ConsolidationQuiet:
		nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionTrue, conditionQuiet, "no pod arrived or left for consolidateAfter")
	case policy.ConsolidationEmpty:
		if prior == nil || prior.Status != metav1.ConditionTrue || prior.Reason != conditionEmpty {
			log.FromContext(ctx).Info("marked node empty", "nodeclaim", klog.KObj(nc), "node", nc.Status.NodeName,
				"consolidateAfter", s.After.String(), "consolidatable", true)
		}
		nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionTrue, conditionEmpty, "the node has had no pods for consolidateAfter")
	case policy.ConsolidationEmptyWaiting:
		c.wake(s.Due)
		// A node that never had a pod is not news while it waits for the pods nominated to it.
		if (prior == nil || prior.Reason != conditionEmptyWaiting) && !nc.Status.LastPodEventTime.IsZero() {
			log.FromContext(ctx).Info("marked node empty", "nodeclaim", klog.KObj(nc), "node", nc.Status.NodeName,
				"consolidateAfter", s.After.String())
		}
		nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionFalse, conditionEmptyWaiting,
			fmt.Sprintf("empty since %s; removable once consolidateAfter (%s) has passed", s.Since.UTC().Format(time.RFC3339), s.After))
	default: // off, or pods arrived or left within consolidateAfter
		nc.StatusConditions().Clear(apiv1.ConditionTypeConsolidatable)
	}
}
