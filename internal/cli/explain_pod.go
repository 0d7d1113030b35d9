package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// Pod statuses.
const (
	PodBound       = "Bound"
	PodPending     = "Pending"
	PodFinished    = "Finished"
	PodTerminating = "Terminating"
)

// Decision kinds: where a pod is or would go.
const (
	// DecisionBound: the pod runs on a node.
	DecisionBound = "Bound"
	// DecisionExistingNode: the pod fits a node that exists; the kube-scheduler should bind it and Tailor launches
	// nothing for it.
	DecisionExistingNode = "ExistingNode"
	// DecisionInFlight: the pod fits a NodeClaim that is being launched; Tailor waits for it.
	DecisionInFlight = "InFlightNodeClaim"
	// DecisionNominated: the controller already planned the pod onto a NodeClaim (it announced so in a Nominated
	// event) and waits for that node.
	DecisionNominated = "Nominated"
	// DecisionNewNode: Tailor would launch a node for the pod.
	DecisionNewNode = "NewNode"
	// DecisionUnschedulable: the pod fits nowhere, not even on a new node.
	DecisionUnschedulable = "Unschedulable"
	// DecisionNone: nothing to decide (the pod finished or is being deleted).
	DecisionNone = "None"
)

// maxOtherInstanceTypes bounds the other fitting instance types listed for a new node.
const maxOtherInstanceTypes = 5

// PodExplanation is what `tailor explain` says about one pod.
type PodExplanation struct {
	Pod string `json:"pod"`
	// Status is Bound, Pending, Finished or Terminating; Detail says more (the kube-scheduler's message, say).
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Requests string `json:"requests"`
	// Decision is where the pod is or where the dry run puts it.
	Decision PodDecision `json:"decision"`
	// NodePools says, for a pod that is not bound, whether each NodePool could launch a node for it (asked one
	// NodePool at a time, ignoring existing nodes), in the order the simulator tries them.
	NodePools []NodePoolVerdict `json:"nodePools,omitempty"`
}

// PodDecision is where a pod is or would go.
type PodDecision struct {
	Kind string `json:"kind"`
	// Node is the node (existing or bound) and NodeClaim the NodeClaim behind it, if any.
	Node      string `json:"node,omitempty"`
	NodeClaim string `json:"nodeClaim,omitempty"`
	// NodePool, InstanceType, Zone, CapacityType and PricePerHour describe the node: the one the pod is on or goes
	// to, or the one that would be launched. PricePerHour is omitted when the catalogue does not sell it.
	NodePool     string   `json:"nodePool,omitempty"`
	InstanceType string   `json:"instanceType,omitempty"`
	Zone         string   `json:"zone,omitempty"`
	CapacityType string   `json:"capacityType,omitempty"`
	PricePerHour *float64 `json:"pricePerHour,omitempty"`
	// NodeOverlay names the NodeOverlay that set the price of the node to launch, and ListPricePerHour is the
	// provider's price it replaced.
	NodeOverlay      string  `json:"nodeOverlay,omitempty"`
	ListPricePerHour float64 `json:"listPricePerHour,omitempty"`
	// SharedWith counts the other pending pods the dry run puts on the same new node.
	SharedWith int `json:"sharedWith,omitempty"`
	// OtherInstanceTypes are the next cheapest types that fit too (the launch falls back to them).
	OtherInstanceTypes []string `json:"otherInstanceTypes,omitempty"`
	// Reasons the pod fits nowhere: one for existing nodes and one per NodePool.
	Reasons []string `json:"reasons,omitempty"`
	// Note qualifies the decision (a registered node the kube-scheduler should bind to, say).
	Note string `json:"note,omitempty"`
	// CapacityBuffers (namespace/name) whose room the pod takes or took: the node was launched for them, or its free
	// room is what they hold. Tailor buys that room again once a pod takes it.
	CapacityBuffers []string `json:"capacityBuffers,omitempty"`
}

// NodePoolVerdict is whether one NodePool could launch a node for a pod, with the simulator's reason when not.
type NodePoolVerdict struct {
	NodePool string `json:"nodePool"`
	Weight   int32  `json:"weight,omitempty"`
	CanHost  bool   `json:"canHost"`
	Reason   string `json:"reason,omitempty"`
	// The cheapest node the NodePool would launch for the pod.
	InstanceType string  `json:"instanceType,omitempty"`
	Zone         string  `json:"zone,omitempty"`
	CapacityType string  `json:"capacityType,omitempty"`
	PricePerHour float64 `json:"pricePerHour,omitempty"`
}

// explainPods explains one pod or every pending pod.
func (e *explainer) explainPods(ctx context.Context) ([]PodExplanation, error) {
	all := &corev1.PodList{}
	if err := e.kube.List(ctx, all); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	targets, err := e.selectPods(all.Items)
	if err != nil || len(targets) == 0 {
		return nil, err
	}
	view, nominated, err := e.readCluster(ctx, all.Items)
	if err != nil {
		return nil, err
	}
	view.SettleNominations() // as the provisioner's Prune does before it plans
	plan := newDryRun(view, nominated)
	out := make([]PodExplanation, 0, len(targets))
	var unbound []*corev1.Pod
	for _, p := range targets {
		x := PodExplanation{Pod: podName(p), Requests: podRequests(p)}
		x.Status, x.Detail = podStatus(p)
		if x.Status == PodPending {
			unbound = append(unbound, p)
			plan.want(p)
		}
		out = append(out, x)
	}
	if len(unbound) > 0 {
		if err := plan.solve(); err != nil {
			return nil, err
		}
	}
	verdicts, err := poolVerdicts(view, unbound)
	if err != nil {
		return nil, err
	}
	for i, p := range targets {
		out[i].Decision = e.decide(view, plan, p)
		out[i].NodePools = verdicts[p.UID]
	}
	return out, nil
}

// selectPods picks the pods to explain from every pod of the cluster.
func (e *explainer) selectPods(pods []corev1.Pod) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		switch e.opts.Target {
		case ExplainPod:
			if p.Namespace == e.opts.Namespace && p.Name == e.opts.Name {
				return []*corev1.Pod{p}, nil
			}
		case ExplainPending:
			status, _ := podStatus(p)
			if status == PodPending && (e.opts.AllNamespaces || p.Namespace == e.opts.Namespace) {
				out = append(out, p)
			}
		}
	}
	if e.opts.Target == ExplainPod {
		return nil, errNotFound("pod", e.opts.Namespace+"/"+e.opts.Name)
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return cmp.Compare(podName(a), podName(b)) })
	return out, nil
}

// podStatus says where a pod stands with the kube-scheduler.
func podStatus(p *corev1.Pod) (string, string) {
	switch {
	case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		return PodFinished, fmt.Sprintf("phase %s: the pod needs no node", p.Status.Phase)
	case !p.DeletionTimestamp.IsZero():
		return PodTerminating, "the pod is being deleted"
	case p.Spec.NodeName != "":
		return PodBound, fmt.Sprintf("on node %s, phase %s", p.Spec.NodeName, p.Status.Phase)
	}
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse {
			continue
		}
		switch c.Reason {
		case corev1.PodReasonUnschedulable:
			return PodPending, "the kube-scheduler found no node: " + strings.TrimSpace(c.Message)
		case corev1.PodReasonSchedulingGated:
			return PodPending, "scheduling gated: neither the kube-scheduler nor Tailor acts before the gates are removed; shown as Tailor would plan it then"
		}
	}
	return PodPending, "not marked unschedulable by the kube-scheduler (yet); shown as Tailor would plan it once marked"
}

// dryRun is the provisioner's next batch, planned without acting: every pending pod the controller would plan, plus
// the pods being explained that it would not plan yet.
type dryRun struct {
	view      *state.View
	nominated map[types.UID]string
	// inFlight maps pods that state.Read placed on an in-flight NodeClaim (their nomination) to that NodeClaim.
	inFlight map[types.UID]string
	pending  map[types.UID]bool
	batch    []*corev1.Pod
	results  *scheduling.Results
	unread   map[types.UID]error
	// buffers are the virtual pods of every CapacityBuffer; held, the ones existing nodes hold room for, by node.
	buffers []*corev1.Pod
	held    map[string][]*corev1.Pod
}

func newDryRun(view *state.View, nominated map[types.UID]string) *dryRun {
	d := &dryRun{view: view, nominated: nominated, inFlight: map[types.UID]string{}, pending: map[types.UID]bool{}, unread: map[types.UID]error{}}
	for _, n := range view.Snapshot.Nodes {
		if n.InFlight {
			for _, p := range n.Pods {
				d.inFlight[p.UID] = n.NodeClaim
			}
		}
	}
	for _, p := range view.Pending {
		d.pending[p.UID] = true
	}
	d.batch = slices.Clone(view.Pending)
	// The controller plans buffers after the pending pods; so does the dry run, and it notes where buffers hold room.
	d.buffers = state.BufferPods(view.Buffers)
	if held, _, err := scheduling.BufferRoom(view.Snapshot, d.buffers); err == nil {
		d.held = held
	}
	return d
}

// buffersOn names the buffers whose room on node the dry run found (sorted namespace/name).
func (d *dryRun) buffersOn(node string) []string {
	var out []string
	for _, p := range d.held[node] {
		if key, ok := state.BufferOf(p); ok && !slices.Contains(out, key.String()) {
			out = append(out, key.String())
		}
	}
	slices.Sort(out)
	return out
}

// launchedFor names the buffers a NodeClaim was launched to hold room for.
func launchedFor(nc *apiv1.NodeClaim) []string {
	if nc == nil || nc.Annotations[apiv1.CapacityBuffersAnnotationKey] == "" {
		return nil
	}
	return strings.Split(nc.Annotations[apiv1.CapacityBuffersAnnotationKey], ",")
}

// want adds an explained pod to the batch unless the controller plans it already or waits for its nomination.
func (d *dryRun) want(p *corev1.Pod) {
	if d.pending[p.UID] || d.inFlight[p.UID] != "" || d.registeredNomination(p) != nil {
		return
	}
	d.pending[p.UID] = true
	d.batch = append(d.batch, p)
}

// registeredNomination is the NodeClaim a provisionable pod was nominated to when state.Read kept the nomination
// although the NodeClaim is no longer in flight: its node registered, and the kube-scheduler is expected to bind it.
func (d *dryRun) registeredNomination(p *corev1.Pod) *apiv1.NodeClaim {
	name, ok := d.nominated[p.UID]
	if !ok || d.pending[p.UID] || !state.Provisionable(p) {
		return nil
	}
	nc := d.view.NodeClaims[name]
	if nc == nil || !nc.DeletionTimestamp.IsZero() {
		return nil
	}
	return nc
}

// solve plans the batch. A pod the simulator cannot read (a malformed selector, say) is set aside with its error,
// so the others are still planned.
func (d *dryRun) solve() error {
	batch := d.batch
	for {
		res, err := scheduling.Solve(d.view.Snapshot, append(slices.Clone(batch), d.buffers...), scheduling.Options{})
		if err == nil {
			d.results = res
			return nil
		}
		bad := unreadablePods(batch)
		if len(bad) == 0 {
			return fmt.Errorf("planning %d pending pod(s): %w", len(batch), err)
		}
		for uid, perr := range bad {
			d.unread[uid] = perr
		}
		batch = slices.DeleteFunc(slices.Clone(batch), func(p *corev1.Pod) bool { return bad[p.UID] != nil })
	}
}

// unreadablePods finds the pods the simulator rejects on their own.
func unreadablePods(pods []*corev1.Pod) map[types.UID]error {
	bad := map[types.UID]error{}
	for _, p := range pods {
		if _, err := scheduling.Solve(&scheduling.Snapshot{}, []*corev1.Pod{p}, scheduling.Options{}); err != nil {
			bad[p.UID] = err
		}
	}
	return bad
}

// decide says where the pod is or where the dry run puts it.
func (e *explainer) decide(view *state.View, d *dryRun, p *corev1.Pod) PodDecision {
	status, _ := podStatus(p)
	switch status {
	case PodFinished, PodTerminating:
		return PodDecision{Kind: DecisionNone}
	case PodBound:
		dec := PodDecision{Kind: DecisionBound}
		e.describeNode(view, p.Spec.NodeName, &dec)
		if buffers := launchedFor(view.NodeClaims[dec.NodeClaim]); len(buffers) > 0 {
			dec.CapacityBuffers = buffers
			dec.Note = "the node was launched to hold capacity buffer room; the pod took it without waiting for a launch"
		}
		return dec
	}
	if nc := d.inFlight[p.UID]; nc != "" {
		dec := PodDecision{Kind: DecisionNominated, NodeClaim: nc, Note: "the controller planned this pod onto the NodeClaim, which is still launching; it waits for that node"}
		e.describeClaim(view.NodeClaims[nc], &dec)
		return dec
	}
	if nc := d.registeredNomination(p); nc != nil {
		dec := PodDecision{Kind: DecisionNominated, NodeClaim: nc.Name, Node: nc.Status.NodeName,
			Note: "the controller planned this pod onto the NodeClaim, whose node has registered; the kube-scheduler should bind it there"}
		e.describeClaim(nc, &dec)
		return dec
	}
	if err := d.unread[p.UID]; err != nil {
		return PodDecision{Kind: DecisionUnschedulable, Reasons: []string{"the simulator cannot read the pod: " + err.Error()}}
	}
	dec := e.placement(view, d.results, p)
	switch dec.Kind {
	case DecisionExistingNode:
		dec.CapacityBuffers = d.buffersOn(dec.Node)
	case DecisionInFlight:
		dec.CapacityBuffers = launchedFor(view.NodeClaims[dec.NodeClaim])
	}
	if len(dec.CapacityBuffers) > 0 {
		dec.Note = "the pod takes room capacity buffers hold there; Tailor buys that room again for the buffers"
	}
	return dec
}

// placement finds the pod in the dry run's results.
func (e *explainer) placement(view *state.View, res *scheduling.Results, p *corev1.Pod) PodDecision {
	for _, ep := range res.ExistingNodes {
		if !containsPod(ep.Pods, p) {
			continue
		}
		if ep.InFlight {
			dec := PodDecision{Kind: DecisionInFlight, NodeClaim: ep.Node}
			e.describeClaim(view.NodeClaims[ep.Node], &dec)
			return dec
		}
		dec := PodDecision{Kind: DecisionExistingNode}
		e.describeNode(view, ep.Node, &dec)
		return dec
	}
	for _, c := range res.NodeClaims {
		if !containsPod(c.Pods, p) {
			continue
		}
		best := c.Cheapest()
		price := best.Offering.PricePerHour
		dec := PodDecision{Kind: DecisionNewNode, NodePool: c.NodePool, InstanceType: best.InstanceType.Name,
			Zone: best.Offering.Zone, CapacityType: best.Offering.CapacityType, PricePerHour: &price, SharedWith: len(c.Pods) - 1,
			NodeOverlay: best.Offering.Overlay, ListPricePerHour: best.Offering.ListPrice}
		for _, o := range c.InstanceTypeOptions[1:] {
			if len(dec.OtherInstanceTypes) == maxOtherInstanceTypes {
				break
			}
			if !slices.Contains(dec.OtherInstanceTypes, o.InstanceType.Name) {
				dec.OtherInstanceTypes = append(dec.OtherInstanceTypes, o.InstanceType.Name)
			}
		}
		return dec
	}
	dec := PodDecision{Kind: DecisionUnschedulable}
	for _, u := range res.Unschedulable {
		if u.Pod.UID == p.UID {
			dec.Reasons = append(dec.Reasons, scheduling.ReasonStrings(u.Reasons)...)
		}
	}
	for _, name := range sortedKeys(view.NodePoolProblems) {
		dec.Reasons = append(dec.Reasons, fmt.Sprintf("nodepool %q: %v", name, view.NodePoolProblems[name]))
	}
	if len(view.NodePools) == 0 {
		dec.Reasons = append(dec.Reasons, "no NodePool exists: create one to let Tailor launch nodes")
	}
	return dec
}

func containsPod(pods []*corev1.Pod, p *corev1.Pod) bool {
	return slices.ContainsFunc(pods, func(q *corev1.Pod) bool { return q.UID == p.UID })
}

// describeNode fills in what the node is: its NodeClaim, NodePool, instance type and price.
func (e *explainer) describeNode(view *state.View, name string, dec *PodDecision) {
	dec.Node = name
	for _, n := range view.Snapshot.Nodes {
		if n.Name == name && !n.InFlight {
			dec.NodePool = n.Labels[apiv1.NodePoolLabelKey]
			dec.InstanceType, dec.Zone, dec.CapacityType = n.Labels[apiv1.InstanceTypeLabelKey], n.Labels[apiv1.ZoneLabelKey], n.Labels[apiv1.CapacityTypeLabelKey]
		}
	}
	for _, nc := range view.NodeClaims {
		if nc.Status.NodeName == name {
			dec.NodeClaim = nc.Name
		}
	}
	if price, ok := e.price(dec.InstanceType, dec.Zone, dec.CapacityType); ok {
		dec.PricePerHour = &price
	}
}

// describeClaim fills in a NodeClaim's NodePool and, once launched, its instance type and price.
func (e *explainer) describeClaim(nc *apiv1.NodeClaim, dec *PodDecision) {
	if nc == nil {
		return
	}
	dec.NodePool = nc.Labels[apiv1.NodePoolLabelKey]
	dec.InstanceType, dec.Zone, dec.CapacityType = nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.ZoneLabelKey], nc.Labels[apiv1.CapacityTypeLabelKey]
	if price, ok := e.price(dec.InstanceType, dec.Zone, dec.CapacityType); ok {
		dec.PricePerHour = &price
	}
}

// poolVerdicts asks every NodePool on its own whether it could launch a node for each pod: the simulator plans the
// pod alone against that NodePool, with every existing node closed to new pods (they still count for topology).
// Pods that are alike (the replicas of one workload) are asked once. NodePools are listed in the order the simulator
// tries them: highest weight first, then by name.
func poolVerdicts(view *state.View, pods []*corev1.Pod) (map[types.UID][]NodePoolVerdict, error) {
	out := map[types.UID][]NodePoolVerdict{}
	if len(pods) == 0 {
		return out, nil
	}
	explained := map[types.UID]bool{}
	for _, p := range pods {
		explained[p.UID] = true
	}
	groups := groupAlike(pods)
	for _, np := range poolsInOrder(view) {
		base := NodePoolVerdict{NodePool: np.Name}
		if np.Spec.Weight != nil {
			base.Weight = *np.Spec.Weight
		}
		pool := schedulingPool(view, np.Name)
		if pool == nil {
			base.Reason = "the NodePool is being deleted"
			if problem := view.NodePoolProblems[np.Name]; problem != nil {
				base.Reason = problem.Error()
			}
			for _, p := range pods {
				out[p.UID] = append(out[p.UID], base)
			}
			continue
		}
		snap := isolate(view.Snapshot, pool, explained)
		for _, g := range groups {
			d := &dryRun{view: &state.View{Snapshot: snap}, batch: g[:1], unread: map[types.UID]error{}}
			if err := d.solve(); err != nil {
				return nil, fmt.Errorf("nodepool %q: %w", np.Name, err)
			}
			v := verdict(base, d, g[0])
			for _, p := range g {
				out[p.UID] = append(out[p.UID], v)
			}
		}
	}
	return out, nil
}

// groupAlike groups pods whose namespace, labels and spec (less the node name) are the same: the simulator treats
// them the same way.
func groupAlike(pods []*corev1.Pod) [][]*corev1.Pod {
	index := map[string]int{}
	var groups [][]*corev1.Pod
	for _, p := range pods {
		spec := p.Spec.DeepCopy()
		spec.NodeName, spec.Hostname = "", ""
		b, err := json.Marshal(struct {
			Namespace string
			Labels    map[string]string
			Spec      *corev1.PodSpec
		}{p.Namespace, p.Labels, spec})
		key := string(b)
		if err != nil {
			key = string(p.UID) // never shared: asked alone
		}
		if i, ok := index[key]; ok {
			groups[i] = append(groups[i], p)
			continue
		}
		index[key] = len(groups)
		groups = append(groups, []*corev1.Pod{p})
	}
	return groups
}

// verdict reads one pod's fate out of a single-NodePool plan.
func verdict(base NodePoolVerdict, d *dryRun, p *corev1.Pod) NodePoolVerdict {
	v := base
	if err := d.unread[p.UID]; err != nil {
		v.Reason = "the simulator cannot read the pod: " + err.Error()
		return v
	}
	for _, c := range d.results.NodeClaims {
		if containsPod(c.Pods, p) {
			best := c.Cheapest()
			v.CanHost = true
			v.InstanceType, v.Zone, v.CapacityType, v.PricePerHour = best.InstanceType.Name, best.Offering.Zone, best.Offering.CapacityType, best.Offering.PricePerHour
			return v
		}
	}
	for _, u := range d.results.Unschedulable {
		if u.Pod.UID == p.UID {
			v.Reason = strings.Join(trimPoolPrefix(u.Reasons, base.NodePool), "; ")
		}
	}
	if v.Reason == "" {
		v.Reason = "the simulator placed the pod on no new node"
	}
	return v
}

// trimPoolPrefix words the reasons without the NodePool they are about when that is pool: the verdict names the
// NodePool already. A limit reason keeps it ("nodepool "x" cpu limit 8 would be exceeded" reads as one sentence).
func trimPoolPrefix(reasons []scheduling.Reason, pool string) []string {
	out := make([]string, 0, len(reasons))
	for _, r := range reasons {
		if r.NodePool == pool && r.Kind != scheduling.ReasonLimit {
			out = append(out, r.Message)
			continue
		}
		out = append(out, r.String())
	}
	return out
}

// isolate is the snapshot with pool as the only NodePool and every node closed to new pods. The explained pods are
// taken off the in-flight nodes they were nominated to, so they do not count twice.
func isolate(snap *scheduling.Snapshot, pool *scheduling.NodePool, explained map[types.UID]bool) *scheduling.Snapshot {
	out := *snap
	out.NodePools = []*scheduling.NodePool{pool}
	out.Nodes = make([]*scheduling.ExistingNode, 0, len(snap.Nodes))
	for _, n := range snap.Nodes {
		c := *n
		c.Unschedulable = true
		c.Pods = slices.DeleteFunc(slices.Clone(n.Pods), func(p *corev1.Pod) bool { return explained[p.UID] })
		out.Nodes = append(out.Nodes, &c)
	}
	return &out
}

// poolsInOrder lists the NodePools the way the simulator tries them: highest weight first, then by name.
func poolsInOrder(view *state.View) []*apiv1.NodePool {
	pools := make([]*apiv1.NodePool, 0, len(view.NodePools))
	for _, np := range view.NodePools {
		pools = append(pools, np)
	}
	weight := func(np *apiv1.NodePool) int32 {
		if np.Spec.Weight == nil {
			return 0
		}
		return *np.Spec.Weight
	}
	slices.SortFunc(pools, func(a, b *apiv1.NodePool) int {
		if c := cmp.Compare(weight(b), weight(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return pools
}

func schedulingPool(view *state.View, name string) *scheduling.NodePool {
	for _, p := range view.Snapshot.NodePools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
