package disruption

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
)

// refresh updates the claim's Drifted and Consolidatable conditions; stale means the claim changed since it was
// read, so no decision should be made on it this pass.
func (c *Controller) refresh(ctx context.Context, nc *apiv1.NodeClaim, pool *apiv1.NodePool, empty bool) (drifted, consolidatable, stale bool, err error) {
	poolDrift := state.CheckNodePoolDrift(nc, pool)
	if poolDrift.Restamp {
		if stale, err = c.restamp(ctx, nc, pool); err != nil || stale {
			return false, false, stale, err
		}
	}
	original := nc.DeepCopy()
	if drifted, err = c.markDrifted(ctx, nc, poolDrift); err != nil {
		return false, false, false, err
	}
	consolidatable = c.markConsolidatable(ctx, nc, pool, empty)
	if equality.Semantic.DeepEqual(original.Status, nc.Status) {
		return drifted, consolidatable, false, nil
	}
	// Optimistic lock: the merge patch replaces the conditions list, so a stale read must not win.
	err = c.kube.Status().Patch(ctx, nc, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		return false, false, true, nil // decided on a stale read; the next pass sees the fresh one
	}
	if client.IgnoreNotFound(err) != nil {
		return false, false, false, fmt.Errorf("updating nodeclaim %s conditions: %w", nc.Name, err)
	}
	return drifted, consolidatable, false, nil
}

func (c *Controller) expired(nc *apiv1.NodeClaim) bool {
	d, ok, err := nc.Spec.ExpireAfter.Duration()
	return err == nil && ok && c.clk.Since(nc.CreationTimestamp.Time) >= d
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
// node's labels no longer meet the NodePool's requirements (poolDrift, from state.CheckNodePoolDrift), or when the
// provider reports drift.
func (c *Controller) markDrifted(ctx context.Context, nc *apiv1.NodeClaim, poolDrift state.NodePoolDrift) (bool, error) {
	now := metav1.NewTime(c.clk.Now())
	if poolDrift.Reason != "" {
		nc.StatusConditions().Set(now, apiv1.ConditionTypeDrifted, metav1.ConditionTrue, poolDrift.Reason, poolDrift.Message)
		return true, nil
	}
	reason, err := c.cloud.IsDrifted(ctx, nc)
	if err != nil {
		if cloudprovider.IsNodeClaimNotFoundError(err) {
			return false, nil
		}
		return false, fmt.Errorf("checking drift of nodeclaim %s: %w", nc.Name, err)
	}
	if reason != "" {
		nc.StatusConditions().Set(now, apiv1.ConditionTypeDrifted, metav1.ConditionTrue, string(reason), "the node no longer matches its node class")
		return true, nil
	}
	nc.StatusConditions().Clear(apiv1.ConditionTypeDrifted)
	return false, nil
}

// markConsolidatable keeps the Consolidatable condition: a node becomes consolidatable once consolidateAfter has
// passed since its last pod event (or since it became usable, if no pod ever came); an empty node is marked at once,
// while it waits.
func (c *Controller) markConsolidatable(ctx context.Context, nc *apiv1.NodeClaim, pool *apiv1.NodePool, empty bool) bool {
	after, ok, err := pool.Spec.Disruption.ConsolidateAfter.Duration()
	// A static NodePool's nodes are its spec.replicas, needed or not: never consolidated.
	if err != nil || (!ok && pool.Spec.Disruption.ConsolidateAfter.IsNever()) || pool.IsStatic() {
		nc.StatusConditions().Clear(apiv1.ConditionTypeConsolidatable)
		return false
	}
	since := nc.Status.LastPodEventTime.Time
	if init := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized); init != nil && init.LastTransitionTime.After(since) {
		since = init.LastTransitionTime.Time
	}
	now := metav1.NewTime(c.clk.Now())
	prior := nc.StatusConditions().Get(apiv1.ConditionTypeConsolidatable)
	if c.clk.Since(since) >= after {
		if !empty {
			nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionTrue, conditionQuiet, "no pod arrived or left for consolidateAfter")
			return true
		}
		if prior == nil || prior.Status != metav1.ConditionTrue || prior.Reason != conditionEmpty {
			log.FromContext(ctx).Info("marked node empty", "nodeclaim", klog.KObj(nc), "node", nc.Status.NodeName,
				"consolidateAfter", after.String(), "consolidatable", true)
		}
		nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionTrue, conditionEmpty, "the node has had no pods for consolidateAfter")
		return true
	}
	if !empty {
		nc.StatusConditions().Clear(apiv1.ConditionTypeConsolidatable)
		return false
	}
	if due := since.Add(after); c.nextDue.IsZero() || due.Before(c.nextDue) {
		c.nextDue = due
	}
	// A node that never had a pod is not news while it waits for the pods nominated to it.
	if (prior == nil || prior.Reason != conditionEmptyWaiting) && !nc.Status.LastPodEventTime.IsZero() {
		log.FromContext(ctx).Info("marked node empty", "nodeclaim", klog.KObj(nc), "node", nc.Status.NodeName,
			"consolidateAfter", after.String())
	}
	nc.StatusConditions().Set(now, apiv1.ConditionTypeConsolidatable, metav1.ConditionFalse, conditionEmptyWaiting,
		fmt.Sprintf("empty since %s; removable once consolidateAfter (%s) has passed", since.UTC().Format(time.RFC3339), after))
	return false
}
