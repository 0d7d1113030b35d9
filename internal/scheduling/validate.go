package scheduling

import (
	"fmt"
	"maps"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// Validator re-checks a plan without trusting the planner: it rebuilds every node the plan ends with (existing
// nodes with their old and new pods, each NodeClaim as a node of its cheapest option with its daemonset pods) and
// checks every pod the way the kube-scheduler would on that final state. It shares with the planner only the
// requirement algebra and PodRequests, which have their own tests.
type Validator struct {
	Snapshot *Snapshot
	Pods     []*corev1.Pod
}

type vNode struct {
	name      string
	labels    map[string]string
	taints    []corev1.Taint
	alloc     corev1.ResourceList
	pods      []*corev1.Pod
	newPods   map[*corev1.Pod]bool
	cordoned  bool
	isNewNode bool
	// volumeLimit is how many EBS CSI volumes the node attaches.
	volumeLimit int64
}

type placedPod struct {
	pod  *corev1.Pod
	node *vNode
}

// Validate returns every violation it finds; none means the plan is valid.
func (v Validator) Validate(r *Results) []error {
	var errs []error
	addf := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// Every pending pod is accounted for exactly once.
	seen := map[*corev1.Pod]int{}
	for _, e := range r.ExistingNodes {
		for _, p := range e.Pods {
			seen[p]++
		}
	}
	for _, c := range r.NodeClaims {
		for _, p := range c.Pods {
			seen[p]++
		}
	}
	for _, u := range r.Unschedulable {
		seen[u.Pod]++
		if len(u.Reasons) == 0 {
			addf("unschedulable pod %s has no reason", podKey(u.Pod))
		}
	}
	for _, p := range v.Pods {
		if seen[p] != 1 {
			addf("pod %s appears %d times in the plan, want once", podKey(p), seen[p])
		}
		delete(seen, p)
	}
	for p := range seen {
		addf("the plan holds pod %s that was not pending", podKey(p))
	}

	checkReservations(r, addf)
	nodes, placed := v.buildNodes(r, addf)
	all := map[*corev1.Pod]*vNode{}
	for _, n := range nodes {
		for _, p := range n.pods {
			all[p] = n
		}
	}
	for _, pp := range placed {
		v.checkPod(pp, nodes, all, addf)
	}
	for _, n := range nodes {
		v.checkNode(n, addf)
	}
	return errs
}

func (v Validator) buildNodes(r *Results, addf func(string, ...any)) ([]*vNode, []placedPod) {
	var nodes []*vNode
	var placed []placedPod
	byName := map[string]*vNode{}
	for _, en := range v.Snapshot.Nodes {
		lbls := maps.Clone(en.Labels)
		if lbls == nil {
			lbls = map[string]string{}
		}
		if _, ok := lbls[apiv1.HostnameLabelKey]; !ok {
			lbls[apiv1.HostnameLabelKey] = en.Name
		}
		n := &vNode{name: en.Name, labels: lbls, taints: en.Taints, alloc: en.Allocatable, pods: slices.Clone(en.Pods), newPods: map[*corev1.Pod]bool{}, cordoned: en.Unschedulable, volumeLimit: existingAttachLimit(en)}
		nodes = append(nodes, n)
		byName[en.Name] = n
	}
	for _, e := range r.ExistingNodes {
		n, ok := byName[e.Node]
		if !ok {
			addf("plan places pods on unknown node %q", e.Node)
			continue
		}
		if n.cordoned {
			addf("plan places pods on unschedulable node %q", e.Node)
		}
		for _, p := range e.Pods {
			n.pods = append(n.pods, p)
			n.newPods[p] = true
			placed = append(placed, placedPod{p, n})
		}
	}
	pools := map[string]*NodePool{}
	for _, np := range v.Snapshot.NodePools {
		pools[np.Name] = np
	}
	capacity := map[string]corev1.ResourceList{}
	claims := map[string]int64{}
	for _, c := range r.NodeClaims {
		claims[c.NodePool]++
		np, ok := pools[c.NodePool]
		if !ok {
			addf("nodeclaim %s names unknown nodepool %q", c.Hostname, c.NodePool)
			continue
		}
		if len(c.InstanceTypeOptions) == 0 {
			addf("nodeclaim %s has no instance type option", c.Hostname)
			continue
		}
		n := v.claimNode(c, np, addf)
		nodes = append(nodes, n)
		for _, p := range c.Pods {
			placed = append(placed, placedPod{p, n})
		}
		add(capacity, c.NodePool, c.Cheapest().InstanceType.Capacity)
	}
	for _, np := range v.Snapshot.NodePools {
		for name, limit := range np.Limits {
			used := np.Usage[name].DeepCopy()
			if q, ok := capacity[np.Name][name]; ok {
				used.Add(q)
			}
			if name == ResourceNodes {
				used.Add(*resource.NewQuantity(claims[np.Name], resource.DecimalSI))
			}
			if used.Cmp(limit) > 0 {
				addf("nodepool %q %s limit %s exceeded: %s", np.Name, name, limit.String(), used.String())
			}
		}
	}
	return nodes, placed
}

func add(m map[string]corev1.ResourceList, key string, rl corev1.ResourceList) {
	if m[key] == nil {
		m[key] = corev1.ResourceList{}
	}
	for name, q := range rl {
		sum := m[key][name]
		sum.Add(q)
		m[key][name] = sum
	}
}

func (v Validator) claimNode(c *NodeClaim, np *NodePool, addf func(string, ...any)) *vNode {
	opt := c.Cheapest()
	checkOption(c, np, opt, addf)
	checkClaimLabels(c, np, opt, addf)
	checkMinValues(c, np, addf)
	n := &vNode{name: c.Hostname, labels: c.Labels, taints: np.Taints, alloc: opt.InstanceType.Allocatable(), newPods: map[*corev1.Pod]bool{}, isNewNode: true, volumeLimit: DefaultEBSAttachLimit}
	for _, ds := range v.Snapshot.DaemonSetPods {
		if v.taintsOK(ds, np.Taints) == nil && nodeAffinityMatches(ds, c.Labels) {
			n.pods = append(n.pods, ds)
		}
	}
	for _, p := range c.Pods {
		n.pods = append(n.pods, p)
		n.newPods[p] = true
	}
	return n
}

// checkOption checks the claim launches one of the NodePool's types on one of its available offerings, and that its
// options are ordered by price.
func checkOption(c *NodeClaim, np *NodePool, opt InstanceTypeOption, addf func(string, ...any)) {
	if !slices.Contains(np.InstanceTypes, opt.InstanceType) {
		addf("nodeclaim %s: instance type %s is not one of nodepool %q's", c.Hostname, opt.InstanceType.Name, np.Name)
	}
	if !slices.ContainsFunc(opt.InstanceType.Offerings, func(o cloudprovider.Offering) bool { return o == opt.Offering }) || !opt.Offering.Available {
		addf("nodeclaim %s: offering %+v is not an available offering of %s", c.Hostname, opt.Offering, opt.InstanceType.Name)
	}
	for i := 1; i < len(c.InstanceTypeOptions); i++ {
		if c.InstanceTypeOptions[i].Offering.PricePerHour < c.InstanceTypeOptions[i-1].Offering.PricePerHour {
			addf("nodeclaim %s: instance type options are not ordered by price", c.Hostname)
			break
		}
	}
}

// checkClaimLabels checks the claim's labels agree with its instance type, NodePool and offering.
func checkClaimLabels(c *NodeClaim, np *NodePool, opt InstanceTypeOption, addf func(string, ...any)) {
	lbls := c.Labels
	for k, val := range opt.InstanceType.Labels {
		if lbls[k] != val {
			addf("nodeclaim %s: label %s=%q, instance type says %q", c.Hostname, k, lbls[k], val)
		}
	}
	for k, val := range np.Labels {
		if lbls[k] != val {
			addf("nodeclaim %s: label %s=%q, nodepool says %q", c.Hostname, k, lbls[k], val)
		}
	}
	if lbls[apiv1.ZoneLabelKey] != opt.Offering.Zone || lbls[apiv1.CapacityTypeLabelKey] != opt.Offering.CapacityType {
		addf("nodeclaim %s: zone/capacity-type labels do not match offering %+v", c.Hostname, opt.Offering)
	}
	if !np.Requirements.Matches(lbls) {
		addf("nodeclaim %s: labels %v do not satisfy nodepool %q requirements %s", c.Hostname, lbls, np.Name, np.Requirements)
	}
}

// checkMinValues checks the claim's options span every minValues of the NodePool.
func checkMinValues(c *NodeClaim, np *NodePool, addf func(string, ...any)) {
	for _, k := range np.Requirements.MinValuesKeys() {
		vals := map[string]bool{}
		for _, o := range c.InstanceTypeOptions {
			switch k {
			case apiv1.ZoneLabelKey:
				vals[o.Offering.Zone] = true
			case apiv1.CapacityTypeLabelKey:
				vals[o.Offering.CapacityType] = true
			default:
				if val, ok := o.InstanceType.Labels[k]; ok {
					vals[val] = true
				}
			}
		}
		if len(vals) < np.Requirements.MinValues(k) {
			addf("nodeclaim %s: %d values of %s among its options, minValues is %d", c.Hostname, len(vals), k, np.Requirements.MinValues(k))
		}
	}
}

// taintsOK returns the first NoSchedule/NoExecute taint the pod does not tolerate, using the API's own matcher.
func (v Validator) taintsOK(p *corev1.Pod, taints []corev1.Taint) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		ok := false
		for j := range p.Spec.Tolerations {
			if p.Spec.Tolerations[j].ToleratesTaint(logr.Discard(), t, false) {
				ok = true
				break
			}
		}
		if !ok {
			return t
		}
	}
	return nil
}

// nodeAffinityMatches checks nodeSelector and required node affinity against labels.
func nodeAffinityMatches(p *corev1.Pod, lbls map[string]string) bool {
	for k, val := range p.Spec.NodeSelector {
		if got, ok := lbls[k]; !ok || got != val {
			return false
		}
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		r, err := FromNodeSelectorTerm(term)
		if err == nil && r.Matches(lbls) {
			return true
		}
	}
	return false
}

func (v Validator) volumesMatch(p *corev1.Pod, lbls map[string]string) error {
	vols := newVolumeIndex(v.Snapshot)
	terms, err := vols.volumeTerms(p)
	if err != nil {
		return err
	}
	for _, alts := range terms {
		if !slices.ContainsFunc(alts, func(r Requirements) bool { return r.Matches(lbls) }) {
			return fmt.Errorf("volume topology %v not met", alts)
		}
	}
	return nil
}

func (v Validator) checkPod(pp placedPod, nodes []*vNode, all map[*corev1.Pod]*vNode, addf func(string, ...any)) {
	p, n := pp.pod, pp.node
	where := fmt.Sprintf("pod %s on %s", podKey(p), n.name)
	if !nodeAffinityMatches(p, n.labels) {
		addf("%s: nodeSelector/node affinity does not match labels %v", where, n.labels)
	}
	if err := v.volumesMatch(p, n.labels); err != nil {
		addf("%s: %v", where, err)
	}
	if t := v.taintsOK(p, n.taints); t != nil {
		addf("%s: taint %s not tolerated", where, t.ToString())
	}
	for i := range p.Spec.TopologySpreadConstraints {
		c := &p.Spec.TopologySpreadConstraints[i]
		if c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		if err := v.checkSpread(p, n, c, nodes); err != nil {
			addf("%s: %v", where, err)
		}
	}
	v.checkPodAffinity(p, n, all, func(format string, args ...any) { addf("%s: "+format, append([]any{where}, args...)...) })
	// Symmetry: no pod in the same domain has a required anti-affinity term matching p.
	for q, qn := range all {
		if q == p || q.Spec.Affinity == nil || q.Spec.Affinity.PodAntiAffinity == nil {
			continue
		}
		for _, t := range q.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if sameDomain(n, qn, t.TopologyKey) && termMatches(q, &t, p) {
				addf("%s: pod %s's anti-affinity on %s rejects it", where, podKey(q), t.TopologyKey)
			}
		}
	}
}

// checkPodAffinity checks p's own required pod affinity and anti-affinity terms on n.
func (v Validator) checkPodAffinity(p *corev1.Pod, n *vNode, all map[*corev1.Pod]*vNode, addf func(string, ...any)) {
	a := p.Spec.Affinity
	if a == nil {
		return
	}
	if a.PodAffinity != nil {
		for _, t := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if !v.affinityHolds(p, n, &t, all) {
				addf("required pod affinity on %s not met", t.TopologyKey)
			}
		}
	}
	if a.PodAntiAffinity != nil {
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if q := v.antiViolator(p, n, &t, all); q != nil {
				addf("required pod anti-affinity on %s violated by %s", t.TopologyKey, podKey(q))
			}
		}
	}
}

func sameDomain(a, b *vNode, key string) bool {
	da, okA := a.labels[key]
	db, okB := b.labels[key]
	return okA && okB && da == db
}

// termMatches reports whether owner's affinity term selects pod q.
func termMatches(owner *corev1.Pod, t *corev1.PodAffinityTerm, q *corev1.Pod) bool {
	if t.NamespaceSelector == nil {
		nss := t.Namespaces
		if len(nss) == 0 {
			nss = []string{owner.Namespace}
		}
		if !slices.Contains(nss, q.Namespace) {
			return false
		}
	}
	sel := t.LabelSelector.DeepCopy()
	if sel == nil {
		return false
	}
	for _, k := range t.MatchLabelKeys {
		if val, ok := owner.Labels[k]; ok {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{val}})
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(q.Labels))
}

func (v Validator) affinityHolds(p *corev1.Pod, n *vNode, t *corev1.PodAffinityTerm, all map[*corev1.Pod]*vNode) bool {
	anywhere := false
	for q, qn := range all {
		if q == p || !termMatches(p, t, q) {
			continue
		}
		anywhere = true
		if sameDomain(n, qn, t.TopologyKey) {
			return true
		}
	}
	return !anywhere && termMatches(p, t, p)
}

func (v Validator) antiViolator(p *corev1.Pod, n *vNode, t *corev1.PodAffinityTerm, all map[*corev1.Pod]*vNode) *corev1.Pod {
	var found *corev1.Pod
	for q, qn := range all {
		if q != p && sameDomain(n, qn, t.TopologyKey) && termMatches(p, t, q) && (found == nil || podKey(q) < podKey(found)) {
			found = q
		}
	}
	return found
}

// checkSpread measures the skew of the final state over the eligible nodes' domains, as the kube-scheduler does
// (nodeAffinityPolicy Honor by default, nodeTaintsPolicy Ignore by default, minDomains).
func (v Validator) checkSpread(p *corev1.Pod, n *vNode, c *corev1.TopologySpreadConstraint, nodes []*vNode) error {
	sel := c.LabelSelector.DeepCopy()
	if sel == nil {
		return nil
	}
	for _, k := range c.MatchLabelKeys {
		if val, ok := p.Labels[k]; ok {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{val}})
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return err
	}
	counts := v.spreadCounts(p, c, s, nodes)
	d, ok := n.labels[c.TopologyKey]
	if !ok {
		return fmt.Errorf("topology spread: node has no %s label", c.TopologyKey)
	}
	minCount := -1
	for _, cnt := range counts {
		if minCount < 0 || cnt < minCount {
			minCount = cnt
		}
	}
	if c.MinDomains != nil && int32(len(counts)) < *c.MinDomains {
		minCount = 0
	}
	if skew := counts[d] - minCount; int32(skew) > c.MaxSkew {
		return fmt.Errorf("topology spread on %s: domain %s has %d matching pods, minimum is %d, maxSkew %d", c.TopologyKey, d, counts[d], minCount, c.MaxSkew)
	}
	return nil
}

// spreadCounts counts the pods sel matches in p's namespace per domain of the constraint's key, over the nodes
// eligible under its nodeAffinityPolicy and nodeTaintsPolicy (every eligible domain appears, possibly with 0).
func (v Validator) spreadCounts(p *corev1.Pod, c *corev1.TopologySpreadConstraint, sel labels.Selector, nodes []*vNode) map[string]int {
	counts := map[string]int{}
	for _, m := range nodes {
		d, ok := m.labels[c.TopologyKey]
		if !ok || !v.spreadEligible(p, c, m) {
			continue
		}
		counts[d] += 0
		for _, q := range m.pods {
			if q.Namespace == p.Namespace && sel.Matches(labels.Set(q.Labels)) {
				counts[d]++
			}
		}
	}
	return counts
}

func (v Validator) spreadEligible(p *corev1.Pod, c *corev1.TopologySpreadConstraint, m *vNode) bool {
	if (c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor) && !nodeAffinityMatches(p, m.labels) {
		return false
	}
	return c.NodeTaintsPolicy == nil || *c.NodeTaintsPolicy != corev1.NodeInclusionPolicyHonor || v.taintsOK(p, m.taints) == nil
}

// checkNode checks resources and host ports over everything the node runs.
func (v Validator) checkNode(n *vNode, addf func(string, ...any)) {
	if len(n.newPods) == 0 {
		return
	}
	var total Resources
	type port struct {
		proto corev1.Protocol
		ip    string
		port  int32
	}
	var ports []port
	for _, p := range n.pods {
		total = total.Add(PodRequests(p))
		for _, hp := range podHostPorts(p) {
			for _, other := range ports {
				if other.port == hp.port && other.proto == hp.protocol && (other.ip == hp.ip || isAnyIP(other.ip) || isAnyIP(hp.ip)) {
					addf("node %s: host port %s used twice", n.name, hp)
				}
			}
			ports = append(ports, port{hp.protocol, hp.ip, hp.port})
		}
	}
	alloc := ResourcesFrom(n.alloc)
	if short := total.FirstShortfall(alloc); short != "" {
		addf("node %s: pods request %s but allocatable is %s (short of %s)", n.name, total, alloc, short)
	}
	vols := newVolumeIndex(v.Snapshot)
	volumes := map[string]bool{}
	for _, p := range n.pods {
		for _, k := range vols.ebsVolumeKeys(p) {
			volumes[k] = true
		}
	}
	if int64(len(volumes)) > n.volumeLimit {
		addf("node %s: its pods mount %d %s volumes but it attaches %d", n.name, len(volumes), EBSCSIDriver, n.volumeLimit)
	}
}

// checkReservations checks the plan launches no more NodeClaims into a capacity reservation than its offering's
// remaining count.
func checkReservations(r *Results, addf func(string, ...any)) {
	used := map[string]int{}
	for _, c := range r.NodeClaims {
		if len(c.InstanceTypeOptions) == 0 {
			continue
		}
		o := c.Cheapest().Offering
		if o.ReservationID == "" {
			continue
		}
		used[o.ReservationID]++
		if used[o.ReservationID] > o.ReservationCapacity {
			addf("nodeclaim %s: capacity reservation %s takes %d claims, more than its %d remaining", c.Hostname, o.ReservationID, used[o.ReservationID], o.ReservationCapacity)
		}
	}
}
