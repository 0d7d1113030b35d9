package disruption

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
)

// ProviderIDIndex is the nodeclaim controller's index of NodeClaims by status.providerID.
const ProviderIDIndex = state.ProviderIDIndex

// PollInterval is how often the decision loop looks for nodes to disrupt.
const PollInterval = 5 * time.Second

// CommandPollInterval is how often the loop looks again while a replace waits for its replacements: the candidates
// should go as soon as those are initialized, not up to a PollInterval later.
const CommandPollInterval = time.Second

// Reasons, in the order the methods run. Empty and Drifted match the NodePool budget reasons.
const (
	ReasonExpired = apiv1.DisruptingReasonExpired
	ReasonDrifted = apiv1.DisruptingReasonDrifted
	ReasonEmpty   = apiv1.DisruptingReasonEmpty
)

var methods = []string{ReasonUnhealthy, ReasonExpired, ReasonDrifted, ReasonEmpty, ReasonUnderutilized}

// Condition reasons on NodeClaims.
const (
	conditionEmptyWaiting = "EmptyWaiting"
	conditionEmpty        = "Empty"
	conditionQuiet        = "ConsolidateAfterElapsed"
)

// eventInvalidDoNotDisrupt reports a tailor.sh/do-not-disrupt value that is neither "true" nor a duration.
const eventInvalidDoNotDisrupt = "InvalidDoNotDisrupt"

// Controller is the disruption decision loop. It runs on the leader only.
type Controller struct {
	clk      clock.Clock
	kube     client.Client // the informer cache
	fresh    client.Reader // the API server, to re-validate a decision before acting
	cloud    cloudprovider.CloudProvider
	recorder events.EventRecorder
	cluster  *state.Cluster // the simulator's view, for consolidation and replacements
	pending  *pendingCommand
	command  *command // a replace waiting for its replacements to initialize; one at a time
	// nextDue is the earliest moment, seen by the last pass, at which an empty node's consolidateAfter runs out: the
	// loop wakes then rather than up to a PollInterval later (the reference scale-down promises about 30 s).
	nextDue time.Time
	repair  RepairOptions
	// repairWarned is, per NodePool, the last message of the event saying repair stopped there.
	repairWarned map[string]string
	// warned are the objects whose bad do-not-disrupt value was reported, with that value.
	warned map[types.UID]string
	// crashAfter, set by tests only, stops a command after the named step as a killed process would (command.go).
	crashAfter func(step string) bool
	// maxCandidates caps a multi-node consolidation move (WithMaxConsolidationCandidates).
	maxCandidates int
}

// New returns the disruption controller; every dependency is required.
func New(clk clock.Clock, kube client.Client, fresh client.Reader, cloud cloudprovider.CloudProvider, recorder events.EventRecorder, cluster *state.Cluster, opts ...Option) (*Controller, error) {
	if clk == nil || kube == nil || fresh == nil || cloud == nil || recorder == nil || cluster == nil {
		return nil, errors.New("disruption: every dependency (clock, client, API reader, cloud provider, recorder, cluster state) is required")
	}
	c := &Controller{clk: clk, kube: kube, fresh: fresh, cloud: cloud, recorder: recorder, cluster: cluster}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Start runs the loop until ctx ends (manager.Runnable).
func (c *Controller) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("disruption")
	ctx = log.IntoContext(ctx, logger)
	for {
		interval := PollInterval
		if c.command != nil {
			interval = CommandPollInterval
		}
		if !c.nextDue.IsZero() {
			// A little past the moment, so the pass sees consolidateAfter as elapsed.
			interval = max(min(interval, c.nextDue.Sub(c.clk.Now())+100*time.Millisecond), 100*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.clk.After(interval):
		}
		if _, err := c.Disrupt(ctx); err != nil {
			logger.Error(err, "disruption pass failed; will retry")
		}
	}
}

// candidate is a node that one method would remove.
type candidate struct {
	claim  *apiv1.NodeClaim
	node   *corev1.Node
	pool   *apiv1.NodePool
	pods   []*corev1.Pod // pods that must move (not DaemonSet, mirror or finished)
	reason string
}

// world is one read of what the decision needs.
type world struct {
	pools      map[string]*apiv1.NodePool
	claims     []*apiv1.NodeClaim
	nodes      map[string]*corev1.Node // by provider ID
	podsByNode map[string][]*corev1.Pod
	pdbs       []policyv1.PodDisruptionBudget
}

// Disrupt runs one pass: it refreshes the Consolidatable and Drifted conditions, then either moves the command in
// flight along (a replace waiting for its replacements) or carries out the first method that has candidates within
// budget. It returns the NodeClaims it deleted.
func (c *Controller) Disrupt(ctx context.Context) ([]string, error) {
	c.nextDue = time.Time{}
	w, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.adopt(ctx, w); err != nil {
		return nil, err
	}
	candidates, err := c.candidates(ctx, w)
	if err != nil {
		return nil, err
	}
	// read once, and only when a method needs the simulator or a buffer's room must be kept
	view, err := c.keepBufferRoom(ctx, candidates)
	if err != nil {
		return nil, err
	}
	for _, reason := range methods {
		eligibleNodes.WithLabelValues(reason).Set(float64(len(candidates[reason])))
	}
	if c.command != nil {
		return c.progress(ctx)
	}
	for _, reason := range methods {
		var chosen []*candidate
		if reason == ReasonUnhealthy {
			chosen = c.repairable(ctx, w, candidates[reason])
		} else if chosen, err = c.withinBudgets(ctx, w, candidates[reason]); err != nil {
			return nil, err
		}
		if len(chosen) == 0 {
			if reason == ReasonUnderutilized {
				c.pending = nil
			}
			continue
		}
		if view == nil && (reason == ReasonUnderutilized || anyPods(chosen)) {
			if view, err = c.cluster.Read(ctx, c.cloud.GetInstanceTypes); err != nil {
				return nil, err
			}
		}
		var p *plan
		if reason == ReasonUnderutilized {
			p, err = c.consolidate(ctx, view, chosen)
		} else {
			p, err = c.planReplacements(ctx, view, reason, chosen)
		}
		if err != nil {
			return nil, err
		}
		if p != nil {
			return c.execute(ctx, p)
		}
	}
	return nil, nil
}

// candidates evaluates every NodeClaim and groups the candidates by the method that would remove them.
func (c *Controller) candidates(ctx context.Context, w *world) (map[string][]*candidate, error) {
	candidates := map[string][]*candidate{}
	for _, nc := range w.claims {
		cand, err := c.evaluate(ctx, w, nc)
		if err != nil {
			return nil, err
		}
		if cand != nil {
			candidates[cand.reason] = append(candidates[cand.reason], cand)
		}
	}
	return candidates, nil
}

func (c *Controller) read(ctx context.Context) (*world, error) {
	var (
		pools  apiv1.NodePoolList
		claims apiv1.NodeClaimList
		nodes  corev1.NodeList
		pods   corev1.PodList
		pdbs   policyv1.PodDisruptionBudgetList
	)
	for _, l := range []client.ObjectList{&pools, &claims, &nodes, &pods, &pdbs} {
		if err := c.kube.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %T: %w", l, err)
		}
	}
	w := &world{pools: map[string]*apiv1.NodePool{}, nodes: map[string]*corev1.Node{}, podsByNode: map[string][]*corev1.Pod{}, pdbs: pdbs.Items}
	for i := range pools.Items {
		w.pools[pools.Items[i].Name] = &pools.Items[i]
	}
	for i := range claims.Items {
		w.claims = append(w.claims, &claims.Items[i])
	}
	sort.Slice(w.claims, func(i, j int) bool { return w.claims[i].Name < w.claims[j].Name })
	for i := range nodes.Items {
		if id := nodes.Items[i].Spec.ProviderID; id != "" {
			w.nodes[id] = &nodes.Items[i]
		}
	}
	for i := range pods.Items {
		if n := pods.Items[i].Spec.NodeName; n != "" {
			w.podsByNode[n] = append(w.podsByNode[n], &pods.Items[i])
		}
	}
	return w, nil
}

// evaluate updates the claim's Consolidatable and Drifted conditions and returns it as a candidate of the first
// method that applies, or nil.
func (c *Controller) evaluate(ctx context.Context, w *world, nc *apiv1.NodeClaim) (*candidate, error) {
	node := w.nodes[nc.Status.ProviderID]
	pool := w.pools[nc.Labels[apiv1.NodePoolLabelKey]]
	if node == nil || pool == nil || !nc.DeletionTimestamp.IsZero() || !node.DeletionTimestamp.IsZero() ||
		!nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized) {
		return nil, nil
	}
	if busy, err := c.leftOver(ctx, nc, node); busy || err != nil {
		return nil, err
	}
	cand := &candidate{claim: nc, node: node, pool: pool, pods: movable(w.podsByNode[node.Name])}
	empty := len(cand.pods) == 0
	drifted, consolidatable, stale, err := c.refresh(ctx, nc, pool, empty)
	if err != nil || stale {
		return nil, err
	}
	policy, overdue := c.unhealthy(node)
	switch {
	case policy != nil && overdue:
		cand.reason = ReasonUnhealthy
		log.FromContext(ctx).V(1).Info("node unhealthy beyond its toleration", "node", klog.KObj(node),
			"condition", string(policy.ConditionType), "status", string(policy.ConditionStatus))
		return cand, nil // repair is not held back by do-not-disrupt or PodDisruptionBudgets
	case c.expired(nc):
		cand.reason = ReasonExpired
	case drifted:
		cand.reason = ReasonDrifted
	case empty && consolidatable:
		cand.reason = ReasonEmpty
	case consolidatable && underutilized(pool, nc):
		cand.reason = ReasonUnderutilized
	default:
		return nil, nil
	}
	if why := c.blocked(w, cand); why != "" {
		log.FromContext(ctx).V(1).Info("not disrupting node", "node", klog.KObj(node), "reason", cand.reason, "blockedBy", why)
		return nil, nil
	}
	return cand, nil
}

// leftOver tidies what an unfinished command may have left on a node no command in flight holds (a Disrupting
// condition without a record, a stray disrupted taint) and tells whether the claim is busy with a command (Disrupting)
// and so no candidate this pass.
func (c *Controller) leftOver(ctx context.Context, nc *apiv1.NodeClaim, node *corev1.Node) (bool, error) {
	ours := c.command != nil && c.command.has(nc.Name)
	if disrupting := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); disrupting != nil && disrupting.Status == metav1.ConditionTrue {
		if _, recorded := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]; !recorded && !ours {
			return true, c.recover(ctx, nc, node, disrupting.Reason)
		}
		return true, nil // its command is in flight, or waits for adopt
	}
	if ours {
		return false, nil
	}
	return false, c.unstrand(ctx, nc, node)
}

// blocked says why a candidate may not be disrupted now, or "". Expiry is forceful when the NodeClaim bounds its
// drain with a terminationGracePeriod: neither do-not-disrupt nor a PodDisruptionBudget holds it back (the drain
// still honours PodDisruptionBudgets until the grace period ends). Without that bound they hold an expired node as
// they hold any other, since its drain could otherwise wait forever on a node already cordoned.
func (c *Controller) blocked(w *world, cand *candidate) string {
	if cand.reason == ReasonExpired && cand.claim.Spec.TerminationGracePeriod != nil {
		return ""
	}
	if c.protected(cand.node, cand.node.CreationTimestamp.Time) || c.protected(cand.claim, cand.claim.CreationTimestamp.Time) {
		return "node annotated " + apiv1.DoNotDisruptAnnotationKey
	}
	for _, p := range cand.pods {
		if c.protected(p, podStart(p)) {
			return fmt.Sprintf("pod %s/%s annotated %s=%s", p.Namespace, p.Name, apiv1.DoNotDisruptAnnotationKey, p.Annotations[apiv1.DoNotDisruptAnnotationKey])
		}
		pdbs := state.PDBsFor(p, w.pdbs)
		if len(pdbs) > 1 {
			return fmt.Sprintf("pod %s/%s is selected by %d PodDisruptionBudgets, which the Eviction API refuses to evict", p.Namespace, p.Name, len(pdbs))
		}
		for _, pdb := range pdbs {
			if pdb.Status.DisruptionsAllowed <= 0 {
				return fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption of pod %s", pdb.Namespace, pdb.Name, p.Name)
			}
		}
	}
	return ""
}

// protected tells whether obj's tailor.sh/do-not-disrupt annotation holds disruption back now (see
// apiv1.DoNotDisrupt). A duration that runs out wakes the loop then; a bad value protects and is reported once per
// object and value with an event naming the fix.
func (c *Controller) protected(obj client.Object, start time.Time) bool {
	value := obj.GetAnnotations()[apiv1.DoNotDisruptAnnotationKey]
	if value == "" {
		return false
	}
	protected, until, err := apiv1.DoNotDisrupt(value, start, c.clk.Now())
	if err != nil {
		if c.warned == nil {
			c.warned = map[types.UID]string{}
		}
		if c.warned[obj.GetUID()] != value {
			c.warned[obj.GetUID()] = value
			c.recorder.Eventf(obj, nil, corev1.EventTypeWarning, eventInvalidDoNotDisrupt, "Disrupt",
				"%v; set it to %q or to a duration such as \"30m\" (counted from the pod's start)", err, apiv1.DoNotDisruptForever)
		}
	}
	if protected && !until.IsZero() && (c.nextDue.IsZero() || until.Before(c.nextDue)) {
		c.nextDue = until
	}
	return protected
}

// podStart is when a pod's do-not-disrupt duration starts: when it started, or, before that, when it was created.
func podStart(p *corev1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}

// withinBudgets keeps the candidates each NodePool's budget allows now, counting nodes already being disrupted.
func (c *Controller) withinBudgets(ctx context.Context, w *world, cands []*candidate) ([]*candidate, error) {
	total, disrupting := map[string]int{}, map[string]int{}
	for _, nc := range w.claims {
		pool := nc.Labels[apiv1.NodePoolLabelKey]
		total[pool]++
		if !nc.DeletionTimestamp.IsZero() || nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting) {
			disrupting[pool]++
		}
	}
	var chosen []*candidate
	taken := map[string]int{}
	for _, cand := range cands {
		pool := cand.pool.Name
		allowed, err := state.AllowedDisruptions(cand.pool, cand.reason, total[pool], c.clk.Now())
		if err != nil {
			return nil, err
		}
		if disrupting[pool]+taken[pool] >= allowed {
			log.FromContext(ctx).V(1).Info("disruption budget reached", "nodepool", pool, "reason", cand.reason,
				"allowed", allowed, "disrupting", disrupting[pool]+taken[pool])
			continue
		}
		taken[pool]++
		chosen = append(chosen, cand)
	}
	return chosen, nil
}

// execute re-validates the plan against the API server, then deletes its candidates at once (a delete) or launches
// its replacements first (a replace; the candidates go once those are initialized, see progress).
func (c *Controller) execute(ctx context.Context, p *plan) ([]string, error) {
	var kept []*candidate
	var errs []error
	for _, cand := range p.candidates {
		if why, err := c.revalidate(ctx, cand); err != nil || why != "" {
			if err != nil {
				errs = append(errs, err)
			} else {
				log.FromContext(ctx).Info("dropped disruption candidate on re-validation", "nodeclaim", klog.KObj(cand.claim), "why", why)
			}
			continue
		}
		kept = append(kept, cand)
	}
	if len(kept) == 0 {
		return nil, errors.Join(errs...)
	}
	if len(p.replacements) > 0 {
		if len(kept) != len(p.candidates) {
			// The replacements were planned for all of them; plan again on the next pass.
			return nil, errors.Join(errs...)
		}
		return nil, errors.Join(append(errs, c.launch(ctx, p))...)
	}
	names, err := c.deleteAll(ctx, p.reason, actionDelete, kept)
	return names, errors.Join(append(errs, err)...)
}

// deleteAll deletes the candidates' NodeClaims and counts the decision.
func (c *Controller) deleteAll(ctx context.Context, reason, action string, cands []*candidate) ([]string, error) {
	var names, nodes []string
	for _, cand := range cands {
		names = append(names, cand.claim.Name)
		nodes = append(nodes, cand.node.Name)
	}
	log.FromContext(ctx).Info(fmt.Sprintf("disrupting node(s) via %s, reason: %s", action, strings.ToLower(reason)),
		"nodes", strings.Join(nodes, ","), "nodeclaims", strings.Join(names, ","))
	var errs []error
	for _, cand := range cands {
		if err := c.disrupt(ctx, cand, action); err != nil {
			errs = append(errs, err)
		}
		if action == actionReplace && c.crashed(crashAfterDelete) {
			return names, errCrashed
		}
	}
	decisions.WithLabelValues(reason, action).Add(float64(len(names)))
	if reason == ReasonUnhealthy {
		for _, cand := range cands {
			repaired.WithLabelValues(cand.claim.Labels[apiv1.NodePoolLabelKey]).Inc()
		}
	}
	return names, errors.Join(errs...)
}

// revalidate reads the claim and the node's pods from the API server: the decision must still hold.
func (c *Controller) revalidate(ctx context.Context, cand *candidate) (string, error) {
	nc := &apiv1.NodeClaim{}
	if err := c.fresh.Get(ctx, client.ObjectKeyFromObject(cand.claim), nc); err != nil {
		return "nodeclaim is gone", client.IgnoreNotFound(err)
	}
	if !nc.DeletionTimestamp.IsZero() {
		return "nodeclaim is already being deleted", nil
	}
	if cand.reason != ReasonEmpty {
		return "", nil
	}
	pods := &corev1.PodList{}
	if err := c.fresh.List(ctx, pods, client.MatchingFields{"spec.nodeName": cand.node.Name}); err != nil {
		return "", fmt.Errorf("re-reading pods on node %s: %w", cand.node.Name, err)
	}
	var list []*corev1.Pod
	for i := range pods.Items {
		list = append(list, &pods.Items[i])
	}
	if n := len(movable(list)); n > 0 {
		return fmt.Sprintf("node has %d pod(s) again", n), nil
	}
	return "", nil
}

func (c *Controller) disrupt(ctx context.Context, cand *candidate, action string) error {
	nc := cand.claim
	if err := c.setDisrupting(ctx, nc, cand.reason, fmt.Sprintf("removing the node: %s", strings.ToLower(cand.reason))); err != nil {
		return err
	}
	c.recorder.Eventf(nc, cand.node, corev1.EventTypeNormal, "DisruptionTerminating", "Disrupt", "disrupting node %s via %s, reason: %s", cand.node.Name, action, strings.ToLower(cand.reason))
	if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting nodeclaim %s: %w", nc.Name, err)
	}
	return nil
}

// movable are the pods a node's removal would move: not finished, not DaemonSet pods, not mirror pods.
func movable(pods []*corev1.Pod) []*corev1.Pod { return state.MovablePods(pods) }
