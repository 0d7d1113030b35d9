package disruption

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// Actions, as the tailor_disruption_decisions_total metric labels them.
const (
	actionDelete  = "delete"
	actionReplace = "replace"
)

// ReplacementTimeout bounds how long a replace waits for its replacements to initialize before it gives up, deletes
// them and keeps the candidates (Karpenter waits the same ten minutes).
const ReplacementTimeout = 10 * time.Minute

// Event reasons of a replace.
const (
	eventLaunchingReplacement = "DisruptionLaunchingReplacement"
	eventAbandoned            = "DisruptionAbandoned"
)

// disruptedTaint keeps new pods off a node a replace is about to remove. It is the taint the termination controller
// cordons with, so the drain finds it in place and adds nothing.
var disruptedTaint = apiv1.DisruptedTaint

// plan is one decision: candidates to remove, and the nodes to launch first (none for a delete).
type plan struct {
	reason       string
	candidates   []*candidate
	replacements []*scheduling.NodeClaim
	pools        map[string]*apiv1.NodePool
	// move is the consolidation move the plan carries out (consolidation only): its price, saving and score.
	move *scheduling.Move
}

func (p *plan) action() string {
	if len(p.replacements) > 0 {
		return actionReplace
	}
	return actionDelete
}

// key names the decision for the validation window: the same action on the same nodes.
func (p *plan) key() string {
	names := make([]string, 0, len(p.candidates))
	for _, cand := range p.candidates {
		names = append(names, cand.claim.Name)
	}
	slices.Sort(names)
	return p.action() + ":" + strings.Join(names, ",")
}

// command is a replace in flight: its replacements were created, its candidates are tainted and wait. It is
// recorded on its NodeClaims (see command.go), so another process can carry it on.
type command struct {
	id           string
	reason       string
	candidates   []*candidate
	replacements []string
	started      time.Time
}

func (cmd *command) has(nodeClaim string) bool {
	for _, cand := range cmd.candidates {
		if cand.claim.Name == nodeClaim {
			return true
		}
	}
	return false
}

func (cmd *command) nodes() []string {
	out := make([]string, 0, len(cmd.candidates))
	for _, cand := range cmd.candidates {
		out = append(out, cand.node.Name)
	}
	return out
}

// planReplacements decides how expired or drifted candidates go: by deletion when their pods fit on the rest of
// the cluster, else by replacement with the capacity the simulator plans for those pods. A drifted node whose pods
// would fit nowhere is kept (drift waits for room); an expired one goes anyway, with whatever replacements fit.
func (c *Controller) planReplacements(ctx context.Context, view *state.View, reason string, cands []*candidate) (*plan, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	if !anyPods(cands) {
		return &plan{reason: reason, candidates: cands}, nil
	}
	// A static NodePool's node is not replaced here: once it is deleted the static controller launches the next
	// one from the NodePool, and its pods wait for room as after any eviction.
	if static := staticOnes(cands); len(static) > 0 {
		return &plan{reason: reason, candidates: static}, nil
	}
	results, err := simulate(view.Snapshot, cands, true)
	if err != nil {
		return nil, err
	}
	if len(results.Unschedulable) == 0 || forceful(reason) {
		if n := len(results.Unschedulable); n > 0 {
			log.FromContext(ctx).Info(strings.ToLower(reason)+" node(s) go although some pods would fit nowhere", "pods", n)
		}
		return &plan{reason: reason, candidates: cands, replacements: results.NodeClaims, pools: view.NodePools}, nil
	}
	// Together they do not fit: take the first one that does on its own.
	for _, cand := range cands {
		one, err := simulate(view.Snapshot, []*candidate{cand}, true)
		if err != nil {
			return nil, err
		}
		if len(one.Unschedulable) == 0 {
			return &plan{reason: reason, candidates: []*candidate{cand}, replacements: one.NodeClaims, pools: view.NodePools}, nil
		}
		log.FromContext(ctx).Info("not disrupting node: its pods would fit nowhere, even on new capacity",
			"node", klog.KObj(cand.node), "reason", reason, "pods", len(one.Unschedulable),
			"why", strings.Join(scheduling.ReasonStrings(one.Unschedulable[0].Reasons), "; "))
	}
	return nil, nil
}

// staticOnes are the candidates of static NodePools (spec.replicas).
func staticOnes(cands []*candidate) []*candidate {
	var out []*candidate
	for _, cand := range cands {
		if cand.pool.IsStatic() {
			out = append(out, cand)
		}
	}
	return out
}

// simulate plans the candidates' pods on the cluster without the candidates' nodes; with launch, new capacity may
// be planned from the NodePools, otherwise only existing and in-flight nodes may take them.
func simulate(snap *scheduling.Snapshot, cands []*candidate, launch bool) (*scheduling.Results, error) {
	removal := make([]*scheduling.Candidate, 0, len(cands))
	for _, cand := range cands {
		removal = append(removal, &scheduling.Candidate{Node: cand.node.Name, Pods: cand.pods})
	}
	return scheduling.SimulateRemoval(snap, removal, launch)
}

// launch starts a replace: it records the command on the candidates, taints them so nothing new lands there, marks
// them Disrupting, creates the replacement NodeClaims (recorded too) and holds their room in the cluster state for
// the candidates' pods. Any failure gives the command up at once.
func (c *Controller) launch(ctx context.Context, p *plan) error {
	cmd := &command{id: newCommandID(p.reason), reason: p.reason, candidates: p.candidates, started: c.clk.Now()}
	held := state.Replacement{Candidates: cmd.nodes(), Pods: map[string][]*corev1.Pod{}}
	// Name the replacements up front so the candidates' record lists them before any exists.
	var claims []*apiv1.NodeClaim
	for _, planned := range p.replacements {
		np := p.pools[planned.NodePool]
		if np == nil {
			return fmt.Errorf("planned a replacement in nodepool %q, which is gone", planned.NodePool)
		}
		nc := state.NodeClaimFor(np, planned)
		nc.Name, nc.GenerateName = nc.GenerateName+rand.String(5), ""
		claims = append(claims, nc)
		cmd.replacements = append(cmd.replacements, nc.Name)
		held.Pods[nc.Name] = planned.Pods
	}
	c.command = cmd
	rec := cmd.record()
	for _, cand := range p.candidates {
		if err := c.writeRecord(ctx, cand.claim, rec); err != nil {
			return c.abandonErr(ctx, err)
		}
		if c.crashed(crashAfterRecord) {
			return errCrashed
		}
		if err := c.taint(ctx, cand.node.Name, true); err != nil {
			return c.abandonErr(ctx, err)
		}
		if c.crashed(crashAfterTaint) {
			return errCrashed
		}
		if err := c.setDisrupting(ctx, cand.claim, p.reason, "launching replacement capacity before removing the node"); err != nil {
			return c.abandonErr(ctx, err)
		}
	}
	var types []string
	for i, nc := range claims {
		planned := p.replacements[i]
		nc.Annotations[apiv1.DisruptionCommandAnnotationKey] = rec
		if err := c.kube.Create(ctx, nc); err != nil {
			return c.abandonErr(ctx, fmt.Errorf("creating replacement nodeclaim %s in nodepool %q: %w", nc.Name, planned.NodePool, err))
		}
		if c.crashed(crashAfterReplacement) {
			return errCrashed
		}
		cheapest := planned.Cheapest()
		types = append(types, fmt.Sprintf("%s/%s $%.4f/h (%d option(s))", cheapest.InstanceType.Name,
			cheapest.Offering.CapacityType, cheapest.Offering.PricePerHour, len(planned.InstanceTypeOptions)))
	}
	c.cluster.MarkReplacing(cmd.id, held)
	log.FromContext(ctx).Info(fmt.Sprintf("launching replacement(s) before disrupting node(s), reason: %s", strings.ToLower(p.reason)),
		"nodes", strings.Join(cmd.nodes(), ","), "replacements", strings.Join(cmd.replacements, ","), "cheapest", strings.Join(types, ", "))
	for _, cand := range p.candidates {
		c.recorder.Eventf(cand.claim, cand.node, corev1.EventTypeNormal, eventLaunchingReplacement, "Disrupt",
			"launching replacement nodeclaim(s) %s before removing node %s, reason: %s",
			strings.Join(cmd.replacements, ","), cand.node.Name, strings.ToLower(p.reason))
	}
	return nil
}

// progress moves the replace in flight along: once every replacement is initialized the candidates are deleted; a
// replacement that went away before that (its launch failed) or the timeout gives the command up.
func (c *Controller) progress(ctx context.Context) ([]string, error) {
	cmd := c.command
	ready := 0
	for _, name := range cmd.replacements {
		nc := &apiv1.NodeClaim{}
		err := c.fresh.Get(ctx, client.ObjectKey{Name: name}, nc)
		switch {
		case client.IgnoreNotFound(err) != nil:
			return nil, fmt.Errorf("reading replacement nodeclaim %s: %w", name, err)
		case err != nil || !nc.DeletionTimestamp.IsZero():
			return nil, c.abandon(ctx, cmd, fmt.Sprintf("replacement nodeclaim %s went away before it initialized", name))
		case nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized):
			ready++
		}
	}
	if ready < len(cmd.replacements) {
		if waited := c.clk.Since(cmd.started); waited >= ReplacementTimeout {
			return nil, c.abandon(ctx, cmd, fmt.Sprintf("%d of %d replacement(s) not initialized after %s",
				len(cmd.replacements)-ready, len(cmd.replacements), waited.Round(time.Second)))
		}
		log.FromContext(ctx).V(1).Info("waiting for replacement(s) to initialize", "replacements", cmd.replacements, "initialized", ready)
		return nil, nil
	}
	var kept []*candidate
	for _, cand := range cmd.candidates {
		if why, err := c.revalidate(ctx, cand); err != nil {
			return nil, err
		} else if why != "" {
			log.FromContext(ctx).Info("disruption candidate went away while its replacement launched", "nodeclaim", klog.KObj(cand.claim), "why", why)
			continue
		}
		kept = append(kept, cand)
	}
	c.command = nil
	c.cluster.Unmark(cmd.id)
	var names []string
	if len(kept) > 0 {
		var err error
		if names, err = c.deleteAll(ctx, cmd.reason, actionReplace, kept); err != nil {
			return names, err // the candidates left keep the record: the next pass resumes the command
		}
	}
	return names, c.finish(ctx, cmd)
}

// abandon gives a replace up: its replacements are deleted, its candidates lose the taint, the Disrupting condition
// and the command record, and stay.
func (c *Controller) abandon(ctx context.Context, cmd *command, why string) error {
	if c.command == cmd {
		c.command = nil
	}
	c.cluster.Unmark(cmd.id)
	log.FromContext(ctx).Info("abandoned disruption; keeping the node(s)", "why", why, "reason", cmd.reason,
		"nodes", strings.Join(cmd.nodes(), ","), "replacements", strings.Join(cmd.replacements, ","))
	var errs []error
	for _, name := range cmd.replacements {
		nc := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting replacement nodeclaim %s: %w", name, err))
		}
	}
	for _, cand := range cmd.candidates {
		if err := c.release(ctx, cand.claim.Name, cand.node.Name); err != nil {
			errs = append(errs, err)
		}
		c.recorder.Eventf(cand.claim, cand.node, corev1.EventTypeWarning, eventAbandoned, "Disrupt",
			"kept node %s (reason was %s): %s", cand.node.Name, strings.ToLower(cmd.reason), why)
	}
	if len(errs) > 0 {
		return fmt.Errorf("abandoning disruption of %s: %w", strings.Join(cmd.nodes(), ","), errors.Join(errs...))
	}
	return nil
}

// abandonErr gives the command up because of err and returns err with whatever the clean-up added.
func (c *Controller) abandonErr(ctx context.Context, err error) error {
	if cleanup := c.abandon(ctx, c.command, err.Error()); cleanup != nil {
		return errors.Join(err, cleanup)
	}
	return err
}

// recover releases a node left Disrupting by a replace this process no longer tracks (the leader restarted, or a
// delete failed half way): the node is not being deleted, so nothing else will lift the taint. Interruption marks
// its own nodes Disrupting and deletes them in the same breath; those are left alone.
func (c *Controller) recover(ctx context.Context, nc *apiv1.NodeClaim, node *corev1.Node, reason string) error {
	if !sets.New(methods...).Has(reason) {
		return nil
	}
	log.FromContext(ctx).Info("releasing node left disrupting by an unfinished command", "nodeclaim", klog.KObj(nc), "node", klog.KObj(node), "reason", reason)
	return c.release(ctx, nc.Name, node.Name)
}

// release clears the taint, the Disrupting condition and the command record a replace put on, in that order: the
// record goes last, so a crash half way leaves it for the next leader to finish the job.
func (c *Controller) release(ctx context.Context, claim, node string) error {
	nc := &apiv1.NodeClaim{}
	err := c.fresh.Get(ctx, client.ObjectKey{Name: claim}, nc)
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading nodeclaim %s: %w", claim, err)
	}
	if err == nil && !nc.DeletionTimestamp.IsZero() {
		return nil // it is going after all; the termination controller owns the taint now
	}
	if node != "" {
		if err := c.taint(ctx, node, false); err != nil {
			return err
		}
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting) != nil {
		patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
		nc.StatusConditions().Clear(apiv1.ConditionTypeDisrupting)
		if err := c.kube.Status().Patch(ctx, nc, patch); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("clearing Disrupting on nodeclaim %s: %w", claim, err)
		}
	}
	return c.dropRecord(ctx, claim, "")
}

// setDisrupting marks the NodeClaim Disrupting for reason.
func (c *Controller) setDisrupting(ctx context.Context, nc *apiv1.NodeClaim, reason, message string) error {
	patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	nc.StatusConditions().Set(metav1.NewTime(c.clk.Now()), apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, reason, message)
	if err := c.kube.Status().Patch(ctx, nc, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("marking nodeclaim %s disrupting: %w", nc.Name, err)
	}
	return nil
}

// taint puts the disrupted taint on the node (on) or takes it off. It reads the node from the API server, not the
// cache, so a taint put on a moment ago is seen, and retries when the kubelet's status updates win the race.
func (c *Controller) taint(ctx context.Context, name string, on bool) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := &corev1.Node{}
		if err := c.fresh.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return client.IgnoreNotFound(err)
		}
		has := slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&disruptedTaint) })
		if has == on {
			return nil
		}
		patch := client.MergeFromWithOptions(node.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if on {
			node.Spec.Taints = append(node.Spec.Taints, disruptedTaint)
		} else {
			node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&disruptedTaint) })
		}
		return client.IgnoreNotFound(c.kube.Patch(ctx, node, patch))
	})
	if err != nil {
		return fmt.Errorf("updating the %s taint of node %s: %w", disruptedTaint.Key, name, err)
	}
	return nil
}

func anyPods(cands []*candidate) bool {
	return slices.ContainsFunc(cands, func(cand *candidate) bool { return len(cand.pods) > 0 })
}
