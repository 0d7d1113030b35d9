package interruption

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Queue delivers instance events to a handler until its context ends; an event is removed from the queue once the
// handler returns nil and delivered again later otherwise. A provider's interruption queue satisfies it (AWS:
// *aws.InterruptionQueue, wired in cmd/tailor); the controller never imports a provider.
type Queue = cloudprovider.InterruptionQueue

// ReasonInterrupted is the reason of the Disrupting condition and of the events of an interrupted NodeClaim.
const ReasonInterrupted = apiv1.DisruptingReasonInterrupted

// ReasonRebalanceRecommended is the reason of the event recorded for a rebalance recommendation.
const ReasonRebalanceRecommended = "RebalanceRecommended"

// eventAction is the action of the Kubernetes events this controller records.
const eventAction = "Interruption"

// Action is what the controller did about one instance of an event; it is the action label of
// tailor_interruption_actions_total.
type Action string

// Actions.
const (
	// ActionDisrupt: the NodeClaim got its Disrupting condition and was deleted.
	ActionDisrupt Action = "Disrupt"
	// ActionRecord: an event was recorded on the NodeClaim and its Node, nothing else.
	ActionRecord Action = "Record"
	// ActionIgnore: the event needs nothing (a state change to pending or running).
	ActionIgnore Action = "Ignore"
	// ActionAlreadyDeleting: the NodeClaim is already being deleted.
	ActionAlreadyDeleting Action = "AlreadyDeleting"
	// ActionNoNodeClaim: no NodeClaim has the instance.
	ActionNoNodeClaim Action = "NoNodeClaim"
)

// disruptingStates are the instance states a state change must reach for the NodeClaim to be disrupted.
var disruptingStates = sets.New("stopping", "stopped", "shutting-down", "terminated")

// conditionBackoff retries the Disrupting condition's patch on conflicts for about 1.3 s: the informer cache the
// NodeClaim is read from catches up within milliseconds, and the deletion must not wait long.
var conditionBackoff = wait.Backoff{Steps: 4, Duration: 10 * time.Millisecond, Factor: 5, Jitter: 0.1}

// Controller consumes the interruption queue and disrupts the NodeClaims whose instances are going away.
type Controller struct {
	clk      clock.Clock
	kube     client.Client
	queue    Queue
	recorder events.EventRecorder
}

// New returns the controller; every dependency is required.
func New(clk clock.Clock, kube client.Client, queue Queue, recorder events.EventRecorder) (*Controller, error) {
	if clk == nil || kube == nil || queue == nil || recorder == nil {
		return nil, errors.New("interruption: every dependency (clock, client, queue, recorder) is required")
	}
	return &Controller{clk: clk, kube: kube, queue: queue, recorder: recorder}, nil
}

var _ manager.LeaderElectionRunnable = (*Controller)(nil)

// NeedLeaderElection makes the controller run on the leader only: two replicas acting on one event would both
// delete the NodeClaim, harmlessly, but would double every event and metric.
func (c *Controller) NeedLeaderElection() bool { return true }

// Start reads the queue until ctx ends (manager.Runnable).
func (c *Controller) Start(ctx context.Context) error {
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithName("interruption"))
	log.FromContext(ctx).Info("reading the interruption queue")
	return c.queue.Run(ctx, c.Handle)
}

// Handle acts on one event. It returns an error, so that the event comes back, only when an action that the event
// calls for failed; events about instances without a NodeClaim are done with.
func (c *Controller) Handle(ctx context.Context, ev cloudprovider.InterruptionEvent) error {
	kind := string(ev.Kind)
	receivedMessages.WithLabelValues(kind).Inc()
	if !ev.Time.IsZero() {
		messageLatency.Observe(max(c.clk.Since(ev.Time).Seconds(), 0))
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("kind", kind, "event", ev.ID))
	ids := sets.New(ev.InstanceIDs...)
	claims, err := c.claimsOf(ctx, ids)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range sets.List(ids) {
		if len(claims[id]) == 0 {
			log.FromContext(ctx).V(1).Info("no nodeclaim has the instance; dropping the event", "instance", id)
			actionsTaken.WithLabelValues(kind, string(ActionNoNodeClaim)).Inc()
			continue
		}
		for _, nc := range claims[id] {
			action, err := c.act(ctx, ev, id, nc)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			actionsTaken.WithLabelValues(kind, string(action)).Inc()
		}
	}
	return errors.Join(errs...)
}

// claimsOf returns the NodeClaims of the instances, by instance ID.
func (c *Controller) claimsOf(ctx context.Context, ids sets.Set[string]) (map[string][]*apiv1.NodeClaim, error) {
	list := &apiv1.NodeClaimList{}
	if err := c.kube.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing nodeclaims: %w", err)
	}
	out := map[string][]*apiv1.NodeClaim{}
	for i := range list.Items {
		nc := &list.Items[i]
		if id := instanceID(nc.Status.ProviderID); id != "" && ids.Has(id) {
			out[id] = append(out[id], nc)
		}
	}
	return out, nil
}

// instanceID is the machine ID at the end of a provider ID (AWS: aws:///<zone>/<instance-id>), or "" for a
// NodeClaim not launched yet.
func instanceID(providerID string) string { return cloudprovider.MachineID(providerID) }

// actionFor is what an event calls for, before looking at the NodeClaim.
func actionFor(ev cloudprovider.InterruptionEvent) Action {
	switch ev.Kind {
	case cloudprovider.InterruptionSpot, cloudprovider.InterruptionScheduledChange:
		return ActionDisrupt
	case cloudprovider.InterruptionStateChange:
		if disruptingStates.Has(ev.State) {
			return ActionDisrupt
		}
		return ActionIgnore
	case cloudprovider.InterruptionRebalance:
		return ActionRecord
	}
	return ActionIgnore
}

// act does what the event calls for to one NodeClaim and returns what it did.
func (c *Controller) act(ctx context.Context, ev cloudprovider.InterruptionEvent, instanceID string, nc *apiv1.NodeClaim) (Action, error) {
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("nodeclaim", klog.KObj(nc), "instance", instanceID))
	logger := log.FromContext(ctx)
	action := actionFor(ev)
	if action == ActionIgnore {
		logger.V(1).Info("instance event needs no action", "state", ev.State)
		return action, nil
	}
	if action == ActionDisrupt && !nc.DeletionTimestamp.IsZero() {
		logger.V(1).Info("nodeclaim is already being deleted")
		return ActionAlreadyDeleting, nil
	}
	node := c.nodeOf(ctx, nc)
	what := describe(ev, instanceID)
	if action == ActionRecord {
		logger.Info("instance has a rebalance recommendation; recording it", "node", klog.KObj(node))
		c.record(nc, node, corev1.EventTypeNormal, ReasonRebalanceRecommended,
			what+"; the node is kept until it is interrupted or disrupted for another reason")
		return action, nil
	}

	if err := c.markDisrupting(ctx, nc, what); err != nil {
		// The deletion matters more than the condition: go on, and say so.
		logger.Error(err, "setting the disrupting condition; deleting the nodeclaim anyway")
	}
	if err := c.kube.Delete(ctx, nc); err != nil {
		if apierrors.IsNotFound(err) {
			return ActionAlreadyDeleting, nil
		}
		return "", fmt.Errorf("deleting nodeclaim %s of interrupted instance %s: %w", nc.Name, instanceID, err)
	}
	logger.Info("disrupting interrupted nodeclaim", "node", klog.KObj(node), "reason", what)
	c.record(nc, node, corev1.EventTypeWarning, ReasonInterrupted, what+"; draining the node and replacing it")
	return action, nil
}

// markDisrupting sets the NodeClaim's Disrupting condition, reason Interrupted, with an optimistic lock so that no
// other controller's condition is lost.
func (c *Controller) markDisrupting(ctx context.Context, nc *apiv1.NodeClaim, message string) error {
	first := true
	return retry.RetryOnConflict(conditionBackoff, func() error {
		if !first {
			if err := c.kube.Get(ctx, client.ObjectKeyFromObject(nc), nc); err != nil {
				return err
			}
		}
		first = false
		patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if !nc.StatusConditions().Set(metav1.NewTime(c.clk.Now()), apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, ReasonInterrupted, message) {
			return nil
		}
		return c.kube.Status().Patch(ctx, nc, patch)
	})
}

// nodeOf returns the NodeClaim's Node, or nil when it has none (yet) or it cannot be read.
func (c *Controller) nodeOf(ctx context.Context, nc *apiv1.NodeClaim) *corev1.Node {
	if nc.Status.NodeName != "" {
		node := &corev1.Node{}
		err := c.kube.Get(ctx, client.ObjectKey{Name: nc.Status.NodeName}, node)
		if err == nil && node.Spec.ProviderID == nc.Status.ProviderID {
			return node
		}
		if client.IgnoreNotFound(err) != nil {
			log.FromContext(ctx).Error(err, "reading the nodeclaim's node", "node", nc.Status.NodeName)
			return nil
		}
	}
	// Not registered yet as far as the NodeClaim says: the Node may still be there.
	nodes := &corev1.NodeList{}
	if err := c.kube.List(ctx, nodes); err != nil {
		log.FromContext(ctx).Error(err, "listing nodes")
		return nil
	}
	for i := range nodes.Items {
		if nodes.Items[i].Spec.ProviderID == nc.Status.ProviderID {
			return &nodes.Items[i]
		}
	}
	return nil
}

// record puts an event on the NodeClaim and one on its Node (when there is one), each naming the other.
func (c *Controller) record(nc *apiv1.NodeClaim, node *corev1.Node, eventType, reason, note string) {
	if node == nil {
		c.recorder.Eventf(nc, nil, eventType, reason, eventAction, "%s", note)
		return
	}
	c.recorder.Eventf(nc, node, eventType, reason, eventAction, "%s", note)
	c.recorder.Eventf(node, nc, eventType, reason, eventAction, "%s", note)
}

// describe names the event for conditions, events and logs.
func describe(ev cloudprovider.InterruptionEvent, instanceID string) string {
	var what string
	switch ev.Kind {
	case cloudprovider.InterruptionSpot:
		what = "spot interruption warning"
		if ev.Action != "" {
			what += " (instance action " + ev.Action + ")"
		}
	case cloudprovider.InterruptionScheduledChange:
		what = "scheduled change"
		if ev.EventTypeCode != "" {
			what += " " + ev.EventTypeCode
		}
	case cloudprovider.InterruptionStateChange:
		what = "state change to " + ev.State
	case cloudprovider.InterruptionRebalance:
		what = "rebalance recommendation"
	default:
		what = string(ev.Kind) + " event"
	}
	what += " for instance " + instanceID
	if ev.ID != "" {
		what += " (event " + ev.ID + ")"
	}
	return what
}
