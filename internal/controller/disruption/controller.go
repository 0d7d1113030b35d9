package disruption

import (
	"context"
	"errors"
	"fmt"
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
	policy "github.com/tailor-sh/tailor/internal/disruption"
	"github.com/tailor-sh/tailor/internal/state"
)

// ProviderIDIndex is the nodeclaim controller's index of NodeClaims by status.providerID.
const ProviderIDIndex = state.ProviderIDIndex

// PollInterval is how often the decision loop looks for nodes to disrupt.
const PollInterval = 5 * time.Second

// CommandPollInterval is how often the loop looks again while a replace waits for its replacements: the candidates
// should go as soon as those are initialized, not up to a PollInterval later.
const CommandPollInterval = time.Second

// Reasons, in the order the methods run (policy.Methods). Empty and Drifted match the NodePool budget reasons.
const (
	ReasonExpired = policy.ReasonExpired
	ReasonDrifted = policy.ReasonDrifted
	ReasonEmpty   = policy.ReasonEmpty
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

// eventInvalidBudget reports a NodePool budget that cannot be evaluated; that NodePool's candidates are held.
const eventInvalidBudget = "InvalidDisruptionBudget"

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
	// budgetWarned is, per NodePool, the generation and error of the last event saying its budget cannot be read.
	budgetWarned map[string]string
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
	// verdict is the policy's verdict that made it a candidate; nil for the candidates of a rebuilt command.
	verdict *policy.Verdict
}

// world is one read of what the decision needs.
type world = policy.View

// Disrupt runs one pass: it refreshes the Consolidatable and Drifted conditions, then either moves the command in
// flight along (a replace waiting for its replacements) or carries out the first method that has candidates within
// budget. It returns the NodeClaims it deleted.
func (c *Controller) Disrupt(ctx context.Context) ([]string, error) {
	defer func(begin time.Time) { passDuration.Observe(c.clk.Since(begin).Seconds()) }(c.clk.Now())
	c.nextDue = time.Time{}
	w, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.adopt(ctx, w); err != nil {
		return nil, err
	}
	candidates, _, err := c.candidates(ctx, w)
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
		} else {
			chosen = c.withinBudgets(ctx, w, candidates[reason])
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

// candidates asks the provider about drift, evaluates every NodeClaim with the disruption policy, records each
// verdict (conditions, events, logs) and groups the candidates by the method that would remove them. It also returns
// the verdicts it recorded.
func (c *Controller) candidates(ctx context.Context, w *world) (map[string][]*candidate, []*policy.Verdict, error) {
	if err := c.askDrift(ctx, w); err != nil {
		return nil, nil, err
	}
	verdicts := policy.Evaluate(w, c.clk.Now())
	// The conditions first, the claims' status patches several at a time (when a scale-up's nodes all turn
	// Consolidatable, one after another they held a pass for seconds), then each verdict in order.
	var live []*policy.Verdict
	var changes []*conditionChange
	for _, v := range verdicts {
		ch, err := c.conditions(ctx, w, v)
		if err != nil {
			return nil, nil, err
		}
		if ch == nil {
			continue
		}
		live = append(live, v)
		if ch.changed() {
			changes = append(changes, ch)
		}
	}
	stale, err := c.writeConditions(ctx, changes)
	if err != nil {
		return nil, nil, err
	}
	candidates := map[string][]*candidate{}
	var recorded []*policy.Verdict
	for _, v := range live {
		if stale[v.Claim.Name] {
			continue
		}
		cand, ok := c.record(ctx, w, v)
		if ok {
			recorded = append(recorded, v)
		}
		if cand != nil {
			candidates[cand.reason] = append(candidates[cand.reason], cand)
		}
	}
	return candidates, recorded, nil
}

func (c *Controller) read(ctx context.Context) (*world, error) {
	var (
		pools  apiv1.NodePoolList
		claims apiv1.NodeClaimList
		nodes  corev1.NodeList
		pdbs   policyv1.PodDisruptionBudgetList
	)
	for _, l := range []client.ObjectList{&pools, &claims, &nodes, &pdbs} {
		if err := c.kube.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %T: %w", l, err)
		}
	}
	// Every pod, every pass: the cache's own objects (state.Cluster.Pods). Nothing here or downstream writes to a
	// pod; a change goes through a copy.
	pods, err := c.cluster.Pods(ctx)
	if err != nil {
		return nil, err
	}
	w := policy.NewView(pools.Items, claims.Items, nodes.Items, pods, pdbs.Items, c.cluster.Nominations().Nomination)
	w.RepairPolicies = c.repairPolicies()
	return w, nil
}

// askDrift asks the cloud provider whether each candidate drifted from its node class; the NodePool's side of drift
// is the policy's. Claims busy with a command, or drifted from their NodePool, are not asked about.
func (c *Controller) askDrift(ctx context.Context, w *world) error {
	for _, nc := range w.NodeClaims {
		if w.Considered(nc) != "" || state.CheckNodePoolDrift(nc, w.NodePoolOf(nc)).Reason != "" {
			continue
		}
		reason, err := c.cloud.IsDrifted(ctx, nc)
		switch {
		case cloudprovider.IsNodeClaimNotFoundError(err):
			w.ProviderDrift[nc.Name] = policy.ProviderDrift{Unknown: true}
		case err != nil:
			return fmt.Errorf("checking drift of nodeclaim %s: %w", nc.Name, err)
		case reason != "":
			w.ProviderDrift[nc.Name] = policy.ProviderDrift{Reason: string(reason), Message: policy.ProviderDriftMessage}
		}
	}
	return nil
}

// record carries one verdict out once its conditions are written (conditions, writeConditions): it reports what
// holds the claim back, and returns it as a candidate of the verdict's method, or nil.
func (c *Controller) record(ctx context.Context, w *world, v *policy.Verdict) (cand *candidate, recorded bool) {
	nc, node := v.Claim, w.NodeOf(v.Claim)
	if f, _ := v.Finding(ReasonUnhealthy); !f.Due.IsZero() {
		c.wake(f.Due)
	}
	if v.Method == "" {
		return nil, true
	}
	cand = &candidate{claim: nc, node: node, pool: v.Candidate.Pool, pods: v.Candidate.Pods, reason: v.Method, verdict: v}
	switch {
	case v.Method == ReasonUnhealthy:
		broken, _, _ := policy.Unhealthy(w.RepairPolicies, node, c.clk.Now())
		log.FromContext(ctx).V(1).Info("node unhealthy beyond its toleration", "node", klog.KObj(node),
			"condition", string(broken.ConditionType), "status", string(broken.ConditionStatus))
	case v.Blocked():
		c.blocked(v.Blockers[0])
		log.FromContext(ctx).V(1).Info("not disrupting node", "node", klog.KObj(node), "reason", v.Method, "blockedBy", v.Blockers[0].String())
		return nil, true
	}
	return cand, true
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

// blocked records what holds a candidate back, the first blocker the policy found: a do-not-disrupt duration wakes
// the loop when it runs out; a bad value is reported once per object and value with an event naming the fix.
func (c *Controller) blocked(b policy.Blocker) {
	if b.Kind != policy.BlockerDoNotDisrupt {
		return
	}
	if b.Invalid != nil {
		if c.warned == nil {
			c.warned = map[types.UID]string{}
		}
		if c.warned[b.On.GetUID()] != b.Value {
			c.warned[b.On.GetUID()] = b.Value
			c.recorder.Eventf(b.On, nil, corev1.EventTypeWarning, eventInvalidDoNotDisrupt, "Disrupt",
				"%v; set it to %q or to a duration such as \"30m\" (counted from the pod's start)", b.Invalid, apiv1.DoNotDisruptForever)
		}
	}
	if !b.Until.IsZero() {
		c.wake(b.Until)
	}
}

// wake makes the loop run again at t at the latest.
func (c *Controller) wake(t time.Time) {
	if c.nextDue.IsZero() || t.Before(c.nextDue) {
		c.nextDue = t
	}
}

// withinBudgets keeps the candidates each NodePool's budget allows now, counting nodes already being disrupted and
// the candidates ahead of each (policy.View.Allot). A NodePool whose budget cannot be read holds its own candidates
// (budgetUnreadable); it does not stop the others.
func (c *Controller) withinBudgets(ctx context.Context, w *world, cands []*candidate) []*candidate {
	w.Allot(verdictsOf(cands), c.clk.Now())
	var chosen []*candidate
	for _, cand := range cands {
		switch b := cand.verdict.Budget; {
		case b.Err != nil:
			c.budgetUnreadable(ctx, cand, b.Err)
		case !b.Within:
			log.FromContext(ctx).V(1).Info("disruption budget reached", "nodepool", cand.pool.Name, "reason", cand.reason,
				"allowed", b.Allowed, "disrupting", b.Disrupting+b.Taken)
		default:
			chosen = append(chosen, cand)
		}
	}
	return chosen
}

// budgetUnreadable reports a candidate held because its NodePool's budget cannot be read: a warning event on the
// NodePool (once per generation and error; the error names the field and the fix) and a log line.
func (c *Controller) budgetUnreadable(ctx context.Context, cand *candidate, err error) {
	logger := log.FromContext(ctx).WithValues("nodepool", klog.KObj(cand.pool), "nodeclaim", klog.KObj(cand.claim), "reason", cand.reason)
	key := fmt.Sprintf("%d/%v", cand.pool.Generation, err)
	if c.budgetWarned[cand.pool.Name] == key {
		logger.V(1).Info("not disrupting node: its nodepool's budget cannot be read", "error", err.Error())
		return
	}
	if c.budgetWarned == nil {
		c.budgetWarned = map[string]string{}
	}
	c.budgetWarned[cand.pool.Name] = key
	logger.Error(err, "not disrupting the nodepool's nodes for the reasons this budget covers until it is fixed; other nodepools are not affected")
	c.recorder.Eventf(cand.pool, nil, corev1.EventTypeWarning, eventInvalidBudget, "Disrupt",
		"%v. Until it is fixed, the NodePool's nodes are not disrupted for the reasons that budget covers; other NodePools are not affected", err)
}

func verdictsOf(cands []*candidate) []*policy.Verdict {
	out := make([]*policy.Verdict, 0, len(cands))
	for _, cand := range cands {
		out = append(out, cand.verdict)
	}
	return out
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
	if n := len(movable(state.PodPointers(pods.Items))); n > 0 {
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
