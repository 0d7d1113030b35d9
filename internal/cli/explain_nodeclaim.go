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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	policy "github.com/tailor-sh/tailor/internal/disruption"
	"github.com/tailor-sh/tailor/internal/state"
)

// How a NodeClaim's pods relate to it.
const (
	ClaimPodBound     = "Bound"
	ClaimPodNominated = "Nominated"
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

// ClaimDisruption says what disruption the NodeClaim is eligible for now, and why not: the disruption policy's
// verdict (internal/disruption), the one the disruption controller acts on.
type ClaimDisruption struct {
	// Summary is the verdict in one sentence.
	Summary string `json:"summary"`
	// Eligible is the reason the disruption controller would remove the node for now (Unhealthy, Expired, Drifted,
	// Empty; Underutilized: a consolidation candidate, see the consolidation section), or empty. It is set only when
	// nothing blocks the removal and the budget has room.
	Eligible string `json:"eligible,omitempty"`
	// Method is the first method that applies to a disruption candidate, blocked or not; empty for a NodeClaim that
	// is no candidate (being deleted, not initialized, held by a command).
	Method string `json:"method,omitempty"`
	// Methods are the disruption reasons in the order the controller tries them, each with whether it applies.
	Methods []DisruptionMethod `json:"methods"`
	// Blockers keep the node from being disrupted whatever the reason, in the order the controller checks them.
	Blockers []string `json:"blockers,omitempty"`
	// Forceful says why the method goes despite the blockers (expiry with a terminationGracePeriod, repair).
	Forceful string `json:"forceful,omitempty"`
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
	// Error says why the budget cannot be read, naming the field and the fix (Allowed is 0 then; the controller holds
	// the NodePool's candidates for the reason and warns on the NodePool).
	Error string `json:"error,omitempty"`
}

// claimWorld is what a NodeClaim's explanation reads.
type claimWorld struct {
	claim     *apiv1.NodeClaim
	pool      *apiv1.NodePool
	node      *corev1.Node
	pods      []corev1.Pod
	nominated map[types.UID]string // pod → NodeClaim
	// view is what the disruption policy reads: every NodePool, NodeClaim, node, pod and PodDisruptionBudget.
	view *policy.View
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
		pools  apiv1.NodePoolList
		claims apiv1.NodeClaimList
		nodes  corev1.NodeList
		pods   corev1.PodList
		pdbs   policyv1.PodDisruptionBudgetList
	)
	for _, l := range []client.ObjectList{&pools, &claims, &nodes, &pods, &pdbs} {
		if err := e.kube.List(ctx, l); err != nil {
			return nil, fmt.Errorf("listing %T: %w", l, err)
		}
	}
	w.pods = pods.Items
	w.view = policy.NewView(pools.Items, claims.Items, nodes.Items, state.PodPointers(pods.Items), pdbs.Items, nil)
	// The controller asks the provider about drift and writes the answer in the Drifted condition; explain reads it
	// there. It cannot know the provider's repair policies or the controller's repair flags: it assumes the default
	// policies (Ready False or Unknown for 30 minutes) with repair on.
	w.view.DriftFromConditions()
	w.view.RepairPolicies = cloudprovider.DefaultRepairPolicies()
	w.pool = w.view.NodePoolOf(w.claim)
	// The disruption controller finds the node by provider ID (so does the policy); the node name in the status is
	// the fallback shown for a node that registered without one.
	if w.node = w.view.NodeOf(w.claim); w.node == nil && w.claim.Status.NodeName != "" {
		for i := range nodes.Items {
			if nodes.Items[i].Name == w.claim.Status.NodeName {
				w.node = &nodes.Items[i]
			}
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
	w.claimPods(x)
	x.Disruption = e.disruption(w)
	if x.Consolidation, err = e.consolidation(ctx, w); err != nil {
		return nil, err
	}
	return x, nil
}

// claimPods lists the pods on the NodeClaim's node and the pending pods nominated to it.
func (w *claimWorld) claimPods(x *NodeClaimExplanation) {
	x.Pods = []ClaimPod{}
	for i := range w.pods {
		p := &w.pods[i]
		cp := ClaimPod{Pod: podName(p), Requests: podRequests(p), DoNotDisrupt: p.Annotations[apiv1.DoNotDisruptAnnotationKey] == "true"}
		switch {
		case w.node != nil && p.Spec.NodeName == w.node.Name:
			cp.State = ClaimPodBound
			cp.Owner = podOwnerKind(p)
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
func age(d time.Duration) string { return policy.Age(d) }

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

// disruption words the disruption policy's verdict on the NodeClaim — the verdict the disruption controller acts on:
// Evaluate runs over every NodeClaim, since candidates ahead of this one may take its NodePool's budget.
func (e *explainer) disruption(w *claimWorld) ClaimDisruption {
	now := e.clk.Now()
	var v *policy.Verdict
	for _, vd := range policy.Evaluate(w.view, now) {
		if vd.Claim.Name == w.claim.Name {
			v = vd
		}
	}
	d := ClaimDisruption{Summary: v.Summary(), Method: v.Method, Methods: []DisruptionMethod{}, Forceful: v.Forceful}
	if v.Disruptable() {
		d.Eligible = v.Method
	}
	for _, f := range v.Findings {
		d.Methods = append(d.Methods, DisruptionMethod{Reason: f.Reason, Applies: f.Applies, Detail: f.Detail})
	}
	if v.Candidate == nil {
		// No node or no NodePool: there is nothing to weigh.
		for _, m := range policy.Methods {
			d.Methods = append(d.Methods, DisruptionMethod{Reason: m.Reason(), Detail: "not weighed: " + v.Summary()})
		}
	}
	for _, b := range v.Blockers {
		d.Blockers = append(d.Blockers, b.String())
	}
	if w.pool != nil {
		counts := w.view.Count()
		for _, reason := range []string{policy.ReasonExpired, policy.ReasonDrifted, policy.ReasonEmpty, policy.ReasonUnderutilized} {
			b := w.view.PoolBudget(counts, w.pool, reason, now)
			bn := BudgetNow{Reason: reason, Allowed: b.Allowed, Disrupting: b.Disrupting, Nodes: b.Nodes}
			if b.Err != nil {
				bn.Allowed, bn.Error = 0, b.Err.Error()
			}
			d.Budgets = append(d.Budgets, bn)
		}
	}
	return d
}
