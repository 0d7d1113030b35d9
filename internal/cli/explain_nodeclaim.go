package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// How a NodeClaim's pods relate to it.
const (
	ClaimPodBound     = "Bound"
	ClaimPodNominated = "Nominated"
)

// Disruption reasons, in the order the disruption controller tries them (internal/controller/disruption).
const (
	reasonExpired = apiv1.DisruptingReasonExpired
	reasonDrifted = apiv1.DisruptingReasonDrifted
	reasonEmpty   = apiv1.DisruptingReasonEmpty
)

// NodeClaimExplanation is what `tailor explain nodeclaim` says about one NodeClaim.
type NodeClaimExplanation struct {
	Name      string    `json:"name"`
	NodePool  string    `json:"nodePool,omitempty"`
	NodeClass string    `json:"nodeClass"`
	Created   time.Time `json:"created"`
	Age       string    `json:"age"`
	// Node is the node that registered for the NodeClaim, if any.
	Node       string `json:"node,omitempty"`
	ProviderID string `json:"providerID,omitempty"`
	// The instance launched (empty before launch) and its catalogue price (omitted when the catalogue does not sell it).
	InstanceType string   `json:"instanceType,omitempty"`
	Zone         string   `json:"zone,omitempty"`
	CapacityType string   `json:"capacityType,omitempty"`
	PricePerHour *float64 `json:"pricePerHour,omitempty"`
	// InstanceTypeOptions are the instance types the NodeClaim allows, cheapest first as the provisioner wrote them.
	InstanceTypeOptions []string `json:"instanceTypeOptions,omitempty"`
	// Requests are the requests of the pods (and daemonsets) the NodeClaim was made for.
	Requests   string               `json:"requests"`
	Conditions []ExplainedCondition `json:"conditions,omitempty"`
	// Pods are the pods on its node and the pending pods nominated to it: why it exists.
	Pods       []ClaimPod      `json:"pods"`
	Disruption ClaimDisruption `json:"disruption"`
	// Consolidation is what each consolidation policy would make of the node; nil before it registers.
	Consolidation *ClaimConsolidation `json:"consolidation,omitempty"`
}

// ExplainedCondition is a status condition with how long it has held.
type ExplainedCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Since   string `json:"since,omitempty"`
}

// ClaimPod is one pod of a NodeClaim.
type ClaimPod struct {
	Pod string `json:"pod"`
	// State is Bound (on the node) or Nominated (pending, planned onto this NodeClaim by the controller).
	State string `json:"state"`
	// Owner is DaemonSet, Mirror or Finished for pods that would not move if the node went away.
	Owner        string `json:"owner,omitempty"`
	Requests     string `json:"requests"`
	DoNotDisrupt bool   `json:"doNotDisrupt,omitempty"`
}

// ClaimDisruption says what disruption the NodeClaim is eligible for now, and why not.
type ClaimDisruption struct {
	// Summary is the verdict in one sentence.
	Summary string `json:"summary"`
	// Eligible is the reason the disruption controller would remove the node for now (Expired, Drifted, Empty), or
	// empty. It is set only when nothing blocks the removal and the budget has room.
	Eligible string `json:"eligible,omitempty"`
	// Methods are the disruption reasons in the order the controller tries them, each with whether it applies.
	Methods []DisruptionMethod `json:"methods"`
	// Blockers keep the node from being disrupted whatever the reason.
	Blockers []string `json:"blockers,omitempty"`
	// Budgets are the NodePool's budgets now, per reason.
	Budgets []BudgetNow `json:"budgets,omitempty"`
}

// DisruptionMethod is one reason for disruption and whether it applies to the NodeClaim now.
type DisruptionMethod struct {
	Reason  string `json:"reason"`
	Applies bool   `json:"applies"`
	Detail  string `json:"detail"`
}

// BudgetNow is how many of a NodePool's nodes may be disrupted for a reason at this moment.
type BudgetNow struct {
	Reason     string `json:"reason"`
	Allowed    int    `json:"allowed"`
	Disrupting int    `json:"disrupting"`
	Nodes      int    `json:"nodes"`
}

// claimWorld is what a NodeClaim's explanation reads.
type claimWorld struct {
	claim     *apiv1.NodeClaim
	pool      *apiv1.NodePool
	node      *corev1.Node
	claims    []apiv1.NodeClaim
	pods      []corev1.Pod
	pdbs      []policyv1.PodDisruptionBudget
	nominated map[types.UID]string // pod → NodeClaim
}

func (e *explainer) readClaimWorld(ctx context.Context) (*claimWorld, error) {
	w := &claimWorld{claim: &apiv1.NodeClaim{}}
	if err := e.kube.Get(ctx, client.ObjectKey{Name: e.opts.Name}, w.claim); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, errNotFound("nodeclaim", e.opts.Name)
		}
		return nil, fmt.Errorf("getting nodeclaim %s: %w", e.opts.Name, err)
	}
	var (
		claims apiv1.NodeClaimList
		nodes  corev1.NodeList
		pods   corev1.PodList
		pdbs   policyv1.PodDisruptionBudgetList
	)
	for _, l := range []client.ObjectList{&claims, &nodes, &pods, &pdbs} {
		if err := e.kube.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %T: %w", l, err)
		}
	}
	w.claims, w.pods, w.pdbs = claims.Items, pods.Items, pdbs.Items
	// The disruption controller finds the node by provider ID; the node name in the status is the fallback.
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if (w.claim.Status.ProviderID != "" && n.Spec.ProviderID == w.claim.Status.ProviderID) ||
			(w.node == nil && w.claim.Status.NodeName != "" && n.Name == w.claim.Status.NodeName) {
			w.node = n
		}
	}
	if name := w.claim.Labels[apiv1.NodePoolLabelKey]; name != "" {
		np := &apiv1.NodePool{}
		if err := e.kube.Get(ctx, client.ObjectKey{Name: name}, np); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("getting nodepool %s: %w", name, err)
		} else if err == nil {
			w.pool = np
		}
	}
	var err error
	if w.nominated, err = e.nominations(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// explainNodeClaim explains why a NodeClaim exists and what disruption it is eligible for.
func (e *explainer) explainNodeClaim(ctx context.Context) (*NodeClaimExplanation, error) {
	w, err := e.readClaimWorld(ctx)
	if err != nil {
		return nil, err
	}
	nc := w.claim
	now := e.clk.Now()
	x := &NodeClaimExplanation{
		Name:         nc.Name,
		NodePool:     nc.Labels[apiv1.NodePoolLabelKey],
		NodeClass:    nc.Spec.NodeClassRef.Name,
		Created:      nc.CreationTimestamp.UTC(),
		Age:          age(now.Sub(nc.CreationTimestamp.Time)),
		ProviderID:   nc.Status.ProviderID,
		InstanceType: nc.Labels[apiv1.InstanceTypeLabelKey],
		Zone:         nc.Labels[apiv1.ZoneLabelKey],
		CapacityType: nc.Labels[apiv1.CapacityTypeLabelKey],
		Requests:     formatResources(nc.Spec.Resources.Requests),
		Conditions:   explainConditions(nc.Status.Conditions, now),
	}
	if w.node != nil {
		x.Node = w.node.Name
	}
	if price, ok := e.price(x.InstanceType, x.Zone, x.CapacityType); ok {
		x.PricePerHour = &price
	}
	for _, r := range nc.Spec.Requirements {
		if r.Key == apiv1.InstanceTypeLabelKey && r.Operator == corev1.NodeSelectorOpIn {
			x.InstanceTypeOptions = r.Values
		}
	}
	movable := w.claimPods(x)
	x.Disruption = e.disruption(w, movable)
	if x.Consolidation, err = e.consolidation(ctx, w); err != nil {
		return nil, err
	}
	return x, nil
}

// claimPods lists the pods on the NodeClaim's node and the pending pods nominated to it, and returns the ones a
// removal of the node would have to move.
func (w *claimWorld) claimPods(x *NodeClaimExplanation) []*corev1.Pod {
	var movable []*corev1.Pod
	x.Pods = []ClaimPod{}
	for i := range w.pods {
		p := &w.pods[i]
		cp := ClaimPod{Pod: podName(p), Requests: podRequests(p), DoNotDisrupt: p.Annotations[apiv1.DoNotDisruptAnnotationKey] == "true"}
		switch {
		case w.node != nil && p.Spec.NodeName == w.node.Name:
			cp.State = ClaimPodBound
			if cp.Owner = podOwnerKind(p); cp.Owner == "" {
				movable = append(movable, p)
			}
		case p.Spec.NodeName == "" && w.nominated[p.UID] == w.claim.Name:
			if status, _ := podStatus(p); status != PodPending {
				continue
			}
			cp.State = ClaimPodNominated
		default:
			continue
		}
		x.Pods = append(x.Pods, cp)
	}
	slices.SortFunc(x.Pods, func(a, b ClaimPod) int {
		if c := cmp.Compare(a.State, b.State); c != 0 {
			return c
		}
		return cmp.Compare(a.Pod, b.Pod)
	})
	return movable
}

// podOwnerKind is why a pod would not move when its node goes away, as the disruption controller counts it:
// Finished, Mirror or DaemonSet; empty for pods that would move.
func podOwnerKind(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return "Finished"
	}
	if _, ok := p.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return "Mirror"
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return "DaemonSet"
		}
	}
	return ""
}

// age words a duration for people ("3m", "2d4h"); a time slightly in the future (clock skew) counts as zero.
func age(d time.Duration) string {
	return duration.HumanDuration(max(d, 0))
}

// conditionOrder lists a NodeClaim's conditions in the order a healthy one gains them.
var conditionOrder = []string{
	apiv1.ConditionTypeLaunched, apiv1.ConditionTypeRegistered, apiv1.ConditionTypeInitialized, apiv1.ConditionTypeReady,
	apiv1.ConditionTypeDrifted, apiv1.ConditionTypeConsolidatable, apiv1.ConditionTypeDisrupting,
}

func explainConditions(conds []metav1.Condition, now time.Time) []ExplainedCondition {
	rank := func(t string) int {
		if i := slices.Index(conditionOrder, t); i >= 0 {
			return i
		}
		return len(conditionOrder)
	}
	sorted := slices.Clone(conds)
	slices.SortStableFunc(sorted, func(a, b metav1.Condition) int {
		if c := cmp.Compare(rank(a.Type), rank(b.Type)); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
	out := make([]ExplainedCondition, 0, len(sorted))
	for _, c := range sorted {
		ec := ExplainedCondition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message}
		if !c.LastTransitionTime.IsZero() {
			ec.Since = age(now.Sub(c.LastTransitionTime.Time))
		}
		out = append(out, ec)
	}
	return out
}

// disruption works out what the disruption controller would do with the NodeClaim now, the way it decides:
// candidates first (a registered, initialized node of an existing NodePool), then expiry, drift and emptiness in
// that order, then the do-not-disrupt annotations and PodDisruptionBudgets, then the NodePool's budget.
func (e *explainer) disruption(w *claimWorld, movable []*corev1.Pod) ClaimDisruption {
	nc := w.claim
	d := ClaimDisruption{Methods: []DisruptionMethod{e.expiry(nc), drift(w), e.emptiness(w, movable)}}
	d.Blockers = blockers(w, movable)
	if w.pool != nil {
		d.Budgets = e.budgets(w)
	}
	var applies *DisruptionMethod
	for i := range d.Methods {
		if d.Methods[i].Applies {
			applies = &d.Methods[i]
			break
		}
	}
	switch {
	case !nc.DeletionTimestamp.IsZero():
		d.Summary = "being removed: the NodeClaim is being deleted"
		if c := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); c != nil && c.Status == metav1.ConditionTrue {
			d.Summary += fmt.Sprintf(" (disrupted: %s)", c.Reason)
		}
	case w.pool == nil:
		d.Summary = fmt.Sprintf("not a disruption candidate: its NodePool %q does not exist", nc.Labels[apiv1.NodePoolLabelKey])
	case w.node == nil:
		d.Summary = "not a disruption candidate yet: no node has registered for it"
	case !w.node.DeletionTimestamp.IsZero():
		d.Summary = "being removed: its node is being deleted"
	case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized):
		d.Summary = "not a disruption candidate yet: the node is not initialized"
	case applies == nil:
		d.Summary = "not eligible for disruption: it has not expired, has not drifted and is not empty long enough"
	case len(d.Blockers) > 0:
		d.Summary = fmt.Sprintf("%s, but blocked: %s", applies.Reason, d.Blockers[0])
	default:
		d.Summary, d.Eligible = withinBudget(d.Budgets, applies.Reason)
	}
	return d
}

// withinBudget words the verdict for a NodeClaim that a method applies to and nothing blocks.
func withinBudget(budgets []BudgetNow, reason string) (string, string) {
	for _, b := range budgets {
		if b.Reason != reason {
			continue
		}
		if b.Disrupting >= b.Allowed {
			return fmt.Sprintf("%s, but the NodePool's budget allows %d of %d node(s) to be disrupted now and %d already are",
				reason, b.Allowed, b.Nodes, b.Disrupting), ""
		}
	}
	return fmt.Sprintf("eligible now: %s; the disruption controller deletes it on its next pass (while the budget has room)", reason), reason
}

func (e *explainer) expiry(nc *apiv1.NodeClaim) DisruptionMethod {
	m := DisruptionMethod{Reason: reasonExpired}
	d, ok, err := nc.Spec.ExpireAfter.Duration()
	lived := e.clk.Since(nc.CreationTimestamp.Time)
	switch {
	case err != nil:
		m.Detail = fmt.Sprintf("expireAfter %q cannot be read: %v", nc.Spec.ExpireAfter, err)
	case !ok:
		m.Detail = "never expires (expireAfter Never)"
	case lived >= d:
		m.Applies = true
		m.Detail = fmt.Sprintf("expired: %s old, expireAfter %s", age(lived), nc.Spec.ExpireAfter)
	default:
		m.Detail = fmt.Sprintf("expires in %s (expireAfter %s)", age(d-lived), nc.Spec.ExpireAfter)
	}
	return m
}

func drift(w *claimWorld) DisruptionMethod {
	m := DisruptionMethod{Reason: reasonDrifted}
	if w.pool == nil {
		m.Detail = "unknown: the NodePool does not exist"
		return m
	}
	// The same check the disruption controller makes (state.CheckNodePoolDrift): the template hash, less the
	// requirements, and the node's labels against the requirements.
	pd := state.CheckNodePoolDrift(w.claim, w.pool)
	if pd.Reason != "" {
		m.Applies = true
		m.Detail = fmt.Sprintf("%s: %s", pd.Reason, pd.Message)
		return m
	}
	// Provider drift (image, subnets, security groups) is only known to the controller, through the condition.
	if c := w.claim.StatusConditions().Get(apiv1.ConditionTypeDrifted); c != nil && c.Status == metav1.ConditionTrue &&
		c.Reason != state.DriftReasonNodePool && c.Reason != state.DriftReasonRequirements {
		m.Applies = true
		m.Detail = fmt.Sprintf("the cloud provider reports drift (%s): %s", c.Reason, c.Message)
		return m
	}
	m.Detail = "matches its NodePool's template and requirements, and the controller reports no provider drift"
	if pd.Restamp {
		m.Detail += "; its template hash is of an older hash version, which the controller re-stamps rather than compares"
	}
	return m
}

func (e *explainer) emptiness(w *claimWorld, movable []*corev1.Pod) DisruptionMethod {
	m := DisruptionMethod{Reason: reasonEmpty}
	if w.pool == nil {
		m.Detail = "unknown: the NodePool does not exist"
		return m
	}
	if len(movable) > 0 {
		m.Detail = fmt.Sprintf("not empty: %d pod(s) would have to move", len(movable))
		return m
	}
	after, ok, err := w.pool.Spec.Disruption.ConsolidateAfter.Duration()
	switch {
	case err != nil:
		m.Detail = fmt.Sprintf("consolidateAfter %q cannot be read: %v", w.pool.Spec.Disruption.ConsolidateAfter, err)
		return m
	case !ok && w.pool.Spec.Disruption.ConsolidateAfter.IsNever():
		m.Detail = "empty, but the NodePool's consolidateAfter is Never"
		return m
	}
	since := w.claim.Status.LastPodEventTime.Time
	if init := w.claim.StatusConditions().Get(apiv1.ConditionTypeInitialized); init != nil && init.LastTransitionTime.After(since) {
		since = init.LastTransitionTime.Time
	}
	if since.IsZero() {
		m.Detail = "empty, and not initialized yet: consolidateAfter counts from initialization or the last pod event"
		return m
	}
	empty, spec := e.clk.Since(since), w.pool.Spec.Disruption.ConsolidateAfter
	if empty >= after {
		m.Applies = true
		m.Detail = fmt.Sprintf("empty for %s (consolidateAfter %s)", age(empty), spec)
		return m
	}
	m.Detail = fmt.Sprintf("empty for %s of consolidateAfter %s: eligible in %s", age(empty), spec,
		age(after-empty))
	return m
}

// blockers are what keeps disruption away from the node: the do-not-disrupt annotation on the node, the NodeClaim
// or a pod that would move, and PodDisruptionBudgets that allow no disruption of such a pod.
func blockers(w *claimWorld, movable []*corev1.Pod) []string {
	var out []string
	if w.node != nil && w.node.Annotations[apiv1.DoNotDisruptAnnotationKey] == "true" {
		out = append(out, fmt.Sprintf("node %s is annotated %s", w.node.Name, apiv1.DoNotDisruptAnnotationKey))
	}
	if w.claim.Annotations[apiv1.DoNotDisruptAnnotationKey] == "true" {
		out = append(out, fmt.Sprintf("the NodeClaim is annotated %s", apiv1.DoNotDisruptAnnotationKey))
	}
	for _, p := range movable {
		if p.Annotations[apiv1.DoNotDisruptAnnotationKey] == "true" {
			out = append(out, fmt.Sprintf("pod %s is annotated %s", podName(p), apiv1.DoNotDisruptAnnotationKey))
		}
		for i := range w.pdbs {
			pdb := &w.pdbs[i]
			if pdb.Namespace != p.Namespace || pdb.Status.DisruptionsAllowed > 0 {
				continue
			}
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
				out = append(out, fmt.Sprintf("PodDisruptionBudget %s/%s allows no disruption of pod %s", pdb.Namespace, pdb.Name, podName(p)))
			}
		}
	}
	return out
}

// budgets are the NodePool's budgets now, per reason, with the nodes of the NodePool being disrupted already.
func (e *explainer) budgets(w *claimWorld) []BudgetNow {
	total, disrupting := 0, 0
	for i := range w.claims {
		nc := &w.claims[i]
		if nc.Labels[apiv1.NodePoolLabelKey] != w.pool.Name {
			continue
		}
		total++
		if !nc.DeletionTimestamp.IsZero() || nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting) {
			disrupting++
		}
	}
	var out []BudgetNow
	for _, reason := range []string{reasonExpired, reasonDrifted, reasonEmpty} {
		allowed, err := state.AllowedDisruptions(w.pool, reason, total, e.clk.Now())
		if err != nil {
			// The API server validates budgets; a budget that still fails here blocks disruption in the controller too.
			allowed = 0
		}
		out = append(out, BudgetNow{Reason: reason, Allowed: allowed, Disrupting: disrupting, Nodes: total})
	}
	return out
}
