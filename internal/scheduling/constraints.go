package scheduling

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Constraint is one scheduling rule. Check returns "" when the pod may join the node (possibly narrowing the
// attempt: requirements, candidate instance types, the target type) or a human-readable reason.
type Constraint interface {
	// Name identifies the rule in messages and tests.
	Name() string
	// Monotone rules never accept an identical pod on a node after rejecting one there in this plan: nodes only
	// fill up and narrow. The planner uses this to skip nodes it already knows are out.
	Monotone(s *solver) bool
	Check(s *solver, p *podInfo, n *node, a *attempt) string
}

// constraints run in this order: cheap and decisive first; resources after everything that narrows the claim.
var constraints = []Constraint{
	TaintToleration{},
	HostPorts{},
	NodeAffinity{},
	HostnameTopology{},
	InterPod{},
	Preferences{},
	NodeResources{},
	MinValues{},
}

// Reason strings.
const (
	reasonNoNodePool       = "no nodepool: the cluster has no NodePool to launch capacity from"
	reasonNoTypeFormat     = "no instance type has %s %s (largest allowed: %s)"
	reasonNoTypeLeftFormat = "no instance type satisfies the combined requirements %s"
	reasonLimitFormat      = "nodepool %q %s limit %s would be exceeded"
	reasonTaintFormat      = "the pod does not tolerate taint %s"
	reasonPortFormat       = "host port %s is already in use"
	reasonInsufficientFmt  = "insufficient %s"
	reasonSpreadFormat     = "topology spread on %s (maxSkew %d) would be violated in every allowed domain"
	reasonAffinityFormat   = "no pod matching the required pod affinity (%s on %s) runs in an allowed domain"
	reasonAntiFormat       = "a pod matching the required pod anti-affinity (%s on %s) runs in every allowed domain"
	reasonAntiSymFormat    = "an existing pod's anti-affinity (%s on %s) rejects this pod in every allowed domain"
	reasonPreferenceFormat = "preference not met: %s"
	reasonMinValuesFormat  = "requirement %s needs minValues %d but only %d values fit"
	reasonNoDomainFormat   = "the node offers no value for topology key %s"
	// reasonDRA: the planner cannot tell which node a DRA driver's devices would be allocated on, so it buys none
	// rather than a node the kube-scheduler might not use.
	reasonDRA = "DRA resource claims (spec.resourceClaims) are not supported by Tailor's planner yet"
)

// insufficientReasons are the reasons for the usual resources, built once: rejections are the planner's hot path.
var insufficientReasons = map[corev1.ResourceName]string{}

func init() {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		insufficientReasons[name] = fmt.Sprintf(reasonInsufficientFmt, name)
	}
}

func reasonInsufficient(name corev1.ResourceName) string {
	if r, ok := insufficientReasons[name]; ok {
		return r
	}
	if name == ebsVolumeResource {
		return reasonCSIVolumesFull
	}
	return fmt.Sprintf(reasonInsufficientFmt, name)
}

func reasonLimit(pool string, name corev1.ResourceName, limits corev1.ResourceList) string {
	q := limits[name]
	return fmt.Sprintf(reasonLimitFormat, pool, name, q.String())
}

// Compile-time checks that every rule is a Constraint.
var (
	_ Constraint = TaintToleration{}
	_ Constraint = HostPorts{}
	_ Constraint = NodeAffinity{}
	_ Constraint = HostnameTopology{}
	_ Constraint = InterPod{}
	_ Constraint = Preferences{}
	_ Constraint = NodeResources{}
	_ Constraint = MinValues{}
)

// TaintToleration rejects nodes with NoSchedule or NoExecute taints the pod does not tolerate. Startup taints of a
// NodePool are not checked: they are gone before pods bind.
type TaintToleration struct{}

func (TaintToleration) Name() string          { return "TaintToleration" }
func (TaintToleration) Monotone(*solver) bool { return true }
func (TaintToleration) Check(_ *solver, p *podInfo, n *node, _ *attempt) string {
	if t := untoleratedTaint(p.tolerations, n.taints); t != nil {
		return fmt.Sprintf(reasonTaintFormat, t.ToString())
	}
	return ""
}

// HostPorts rejects nodes where a host port the pod binds is taken.
type HostPorts struct{}

func (HostPorts) Name() string          { return "HostPorts" }
func (HostPorts) Monotone(*solver) bool { return true }
func (HostPorts) Check(_ *solver, p *podInfo, n *node, _ *attempt) string {
	for _, want := range p.ports {
		for _, have := range n.ports {
			if want.conflicts(have) {
				return fmt.Sprintf(reasonPortFormat, want)
			}
		}
	}
	return ""
}

// NodeAffinity matches the pod's nodeSelector, required node affinity (an OR of terms) and volume topology against
// the node's labels; on a NodeClaim it narrows the requirements and the instance types to the first alternative
// that leaves some type.
type NodeAffinity struct{}

func (NodeAffinity) Name() string          { return "NodeAffinity" }
func (NodeAffinity) Monotone(*solver) bool { return true }
func (NodeAffinity) Check(s *solver, p *podInfo, n *node, a *attempt) string {
	if !n.isClaim() {
		for _, alt := range p.alts {
			if alt.CompatibleWithNode(n.reqs) == nil {
				return ""
			}
		}
		return nodeConflictReason(p, n.reqs, nil)
	}
	if n.sigOK[p.reqSig] {
		return ""
	}
	var firstErr error
	for _, alt := range p.alts {
		if err := alt.CompatibleWithNode(a.reqs); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		reqs := a.reqs.Intersect(alt)
		if reqs.Equal(a.reqs) {
			return ""
		}
		types := s.filterTypes(a.types, reqs)
		if len(types) == 0 {
			if firstErr == nil {
				firstErr = fmt.Errorf(reasonNoTypeLeftFormat, alt)
			}
			continue
		}
		a.reqs, a.types, a.changed = reqs, types, true
		return ""
	}
	var ce *ConflictError
	if errors.As(firstErr, &ce) {
		return nodeConflictReason(p, a.reqs, ce)
	}
	return firstErr.Error()
}

func (s *solver) filterTypes(types []*typeInfo, reqs Requirements) []*typeInfo {
	out := make([]*typeInfo, 0, len(types))
	f := s.compileFilter(reqs)
	for _, t := range types {
		if f.ok(t) {
			out = append(out, t)
		}
	}
	return out
}

// nodeConflictReason words a requirement conflict from the pod's side: which of its sources (nodeSelector, node
// affinity, volume) disagrees with what the node side has.
func nodeConflictReason(p *podInfo, nodeReqs Requirements, ce *ConflictError) string {
	for _, k := range p.selector.Keys() {
		if p.selector.get(k).intersect(orAbsent(nodeReqs.get(k))).empty() {
			v := p.pod.Spec.NodeSelector[k]
			return fmt.Sprintf("%s conflicts with pod nodeSelector %s=%s", describeNodeSide(nodeReqs, k), k, v)
		}
	}
	for _, term := range p.affinity {
		if err := term.CompatibleWithNode(nodeReqs); err != nil {
			var c *ConflictError
			if errors.As(err, &c) {
				return fmt.Sprintf("%s conflicts with pod node affinity %s", describeNodeSide(nodeReqs, c.Key), joinRequirements(c.Ours))
			}
		}
	}
	if ce != nil {
		return fmt.Sprintf("%s conflicts with volume topology %s", describeNodeSide(nodeReqs, ce.Key), joinRequirements(ce.Ours))
	}
	return "no combination of the pod's node requirements fits"
}

func orAbsent(s *valueSet) *valueSet {
	if s == nil {
		return absentSet()
	}
	return s
}

func describeNodeSide(nodeReqs Requirements, key string) string {
	reqs := nodeReqs.Get(key)
	if len(reqs) == 0 {
		return fmt.Sprintf("label %s (not set on the node)", key)
	}
	short := make([]Requirement, len(reqs))
	for i, r := range reqs {
		short[i] = r
		if len(r.Values) > maxReasonValues {
			short[i].Values = append(slices.Clone(r.Values[:maxReasonValues]), fmt.Sprintf("… %d more", len(r.Values)-maxReasonValues))
		}
	}
	return "requirement " + joinRequirements(short)
}

// maxReasonValues is how many values of a requirement a reason lists: a NodePool's closed instance-type requirement
// can have a thousand.
const maxReasonValues = 8

// HostnameTopology enforces the per-node terms that only get harder as a node fills: required anti-affinity and
// topology spread on kubernetes.io/hostname, and the symmetric anti-affinity of pods on the node.
type HostnameTopology struct{}

func (HostnameTopology) Name() string { return "HostnameTopology" }

// Monotone: with a NodePool a fresh node can always be added, so the minimum a hostname spread is measured against
// stays 0; on existing nodes alone the minimum can rise as other nodes fill, and a rejected pod may fit later.
func (HostnameTopology) Monotone(s *solver) bool { return len(s.pools) > 0 }
func (HostnameTopology) Check(s *solver, p *podInfo, n *node, _ *attempt) string {
	d, ok := n.domain(apiv1.HostnameLabelKey)
	if !ok {
		return ""
	}
	for _, t := range p.owned {
		if !isHostname(t.group.key) || t.kind == kindAffinity {
			continue
		}
		if out, reason := s.filterDomains(p, t, []string{d}); len(out) == 0 {
			return reason
		}
	}
	for _, g := range p.matches {
		if isHostname(g.key) && g.antiOwners[d] > 0 {
			return fmt.Sprintf(reasonAntiSymFormat, g.selString, g.key)
		}
	}
	return ""
}

// InterPod enforces required topology spread, pod affinity and pod anti-affinity (including the anti-affinity of
// pods already placed, which is symmetric) on every other key, and hostname pod affinity. On a NodeClaim whose
// domain for a key is still open it pins the domain.
type InterPod struct{}

func (InterPod) Name() string          { return "InterPod" }
func (InterPod) Monotone(*solver) bool { return false }
func (InterPod) Check(s *solver, p *podInfo, n *node, a *attempt) string {
	return s.checkTerms(p, n, a, p.owned, true)
}

// Preferences enforces the preferences still active at the attempt's relaxation level.
type Preferences struct{}

func (Preferences) Name() string          { return "Preferences" }
func (Preferences) Monotone(*solver) bool { return false }
func (Preferences) Check(s *solver, p *podInfo, n *node, a *attempt) string {
	prefs := activePrefs(p, a.level)
	var terms []*term
	for _, pr := range prefs {
		switch {
		case pr.avoidPreferTaint:
			if hasUntoleratedPreferNoSchedule(p.tolerations, n.taints) {
				return fmt.Sprintf(reasonPreferenceFormat, pr)
			}
		case pr.nodeReqs != nil:
			if !n.isClaim() {
				if pr.nodeReqs.CompatibleWithNode(n.reqs) != nil {
					return fmt.Sprintf(reasonPreferenceFormat, pr)
				}
				continue
			}
			if pr.nodeReqs.CompatibleWithNode(a.reqs) != nil {
				return fmt.Sprintf(reasonPreferenceFormat, pr)
			}
			reqs := a.reqs.Intersect(*pr.nodeReqs)
			if !reqs.Equal(a.reqs) {
				types := s.filterTypes(a.types, reqs)
				if len(types) == 0 {
					return fmt.Sprintf(reasonPreferenceFormat, pr)
				}
				a.reqs, a.types, a.changed = reqs, types, true
			}
		case pr.term != nil:
			terms = append(terms, pr.term)
		}
	}
	if len(terms) > 0 {
		if r := s.checkTerms(p, n, a, terms, false); r != "" {
			return fmt.Sprintf(reasonPreferenceFormat, r)
		}
	}
	return ""
}

// checkTerms evaluates inter-pod terms on n. For each topology key involved it computes the domains the node may
// still be in, keeps those every term allows, and pins an open NodeClaim to the best one.
func (s *solver) checkTerms(p *podInfo, n *node, a *attempt, terms []*term, withSymmetry bool) string {
	for _, key := range termKeys(p, n, terms, withSymmetry) {
		if r := s.checkKey(p, n, a, terms, key, withSymmetry); r != "" {
			return r
		}
	}
	return ""
}

// termKeys lists the topology keys to check: those of the terms and, with symmetry, of the groups that match the
// pod. On a NodeClaim the pod's precomputed pin keys stand for the non-hostname ones.
func termKeys(p *podInfo, n *node, terms []*term, withSymmetry bool) []string {
	if n.isClaim() && withSymmetry {
		// Hostname terms need no pinning but must still be checked.
		keys := p.pinKeys
		for _, t := range terms {
			keys = appendHostnameKey(keys, t.group.key)
		}
		for _, g := range p.matches {
			keys = appendHostnameKey(keys, g.key)
		}
		return keys
	}
	var keys []string
	for _, t := range terms {
		keys = appendNew(keys, t.group.key)
	}
	if withSymmetry {
		for _, g := range p.matches {
			keys = appendNew(keys, g.key)
		}
	}
	return keys
}

// appendNew appends key unless keys has it. It never writes into keys' backing array, which may be shared.
func appendNew(keys []string, key string) []string {
	if slices.Contains(keys, key) {
		return keys
	}
	return append(keys[:len(keys):len(keys)], key)
}

func appendHostnameKey(keys []string, key string) []string {
	if !isHostname(key) {
		return keys
	}
	return appendNew(keys, key)
}

// checkKey checks the terms on one topology key and, on a NodeClaim whose domain for the key is still open, pins it.
func (s *solver) checkKey(p *podInfo, n *node, a *attempt, terms []*term, key string, withSymmetry bool) string {
	domains := s.candidateDomains(n, a, key)
	if len(domains) == 0 {
		if keylessNodeOK(n, terms, key) {
			return ""
		}
		return fmt.Sprintf(reasonNoDomainFormat, key)
	}
	domains, reason := s.allowedDomains(p, terms, key, domains, withSymmetry)
	if len(domains) == 0 {
		return reason
	}
	if _, known := n.domain(key); known || !n.isClaim() {
		return ""
	}
	if withSymmetry {
		// The pod's required terms pin the claim before its preferences are checked: pin it where the preferences
		// still in force hold too, if any such domain is left, or they would fail on a domain chosen without them.
		domains = s.preferredDomains(p, a, key, domains)
	}
	// Pin the claim: the least loaded domain for spread, else the first; ties go to the cheaper domain.
	best := s.pickDomain(p, n, key, domains, terms, a)
	pin := s.pinned(n, a, key, best)
	if len(pin.types) == 0 {
		return fmt.Sprintf(reasonNoTypeLeftFormat, key+"="+best)
	}
	a.reqs, a.types, a.changed = pin.reqs, pin.types, true
	return ""
}

// preferredDomains narrows domains to those the pod's inter-pod preferences on key, still in force at the attempt's
// relaxation level, allow; it returns domains unchanged when no such domain is left.
func (s *solver) preferredDomains(p *podInfo, a *attempt, key string, domains []string) []string {
	for _, pr := range activePrefs(p, a.level) {
		if pr.term == nil || pr.term.group.key != key {
			continue
		}
		if kept, _ := s.filterDomains(p, pr.term, domains); len(kept) > 0 {
			domains = kept
		}
	}
	return domains
}

// keylessNodeOK reports whether an existing node without the key passes the terms on it: it is in no domain, so
// anti-affinity holds and nothing is counted; only a term that needs a domain (spread, affinity) fails.
func keylessNodeOK(n *node, terms []*term, key string) bool {
	if n.isClaim() {
		return false
	}
	on := termsOn(terms, key)
	return len(on) == len(termsOnKind(terms, key, kindAntiAffinity))
}

// allowedDomains keeps the domains every term on key allows and, with symmetry, those where no placed pod's
// anti-affinity rejects p. It returns the reason of the first filter that leaves none.
func (s *solver) allowedDomains(p *podInfo, terms []*term, key string, domains []string, withSymmetry bool) ([]string, string) {
	var reason string
	for _, t := range termsOn(terms, key) {
		if domains, reason = s.filterDomains(p, t, domains); len(domains) == 0 {
			return nil, reason
		}
	}
	if !withSymmetry {
		return domains, ""
	}
	for _, g := range p.matches {
		if g.key != key {
			continue
		}
		// Filter into a new slice: domains may be the claim's cached list.
		domains = slices.DeleteFunc(slices.Clone(domains), func(d string) bool { return g.antiOwners[d] > 0 })
		if len(domains) == 0 {
			return nil, fmt.Sprintf(reasonAntiSymFormat, g.selString, key)
		}
	}
	return domains, ""
}

func termsOn(terms []*term, key string) []*term {
	var out []*term
	for _, t := range terms {
		if t.group.key == key {
			out = append(out, t)
		}
	}
	return out
}

func termsOnKind(terms []*term, key string, kind termKind) []*term {
	var out []*term
	for _, t := range termsOn(terms, key) {
		if t.kind == kind {
			out = append(out, t)
		}
	}
	return out
}

// candidateDomains lists the domains n may be in for key under the attempt's requirements.
func (s *solver) candidateDomains(n *node, a *attempt, key string) []string {
	if d, ok := n.domain(key); ok {
		return []string{d}
	}
	if !n.isClaim() {
		return nil
	}
	if v, ok := a.reqs.Single(key); ok {
		return []string{v}
	}
	if !a.changed {
		if d, ok := n.domains[key]; ok {
			return d
		}
	}
	d := s.possibleValues(a.reqs, a.types, key)
	if !a.changed {
		if n.domains == nil {
			n.domains = map[string][]string{}
		}
		n.domains[key] = d
	}
	return d
}

func (s *solver) filterDomains(p *podInfo, t *term, domains []string) ([]string, string) {
	g := t.group
	var keep func(d string) bool
	switch t.kind {
	case kindSpread:
		minCount := s.spreadMin(g, t)
		keep = func(d string) bool { return int32(g.counts[d]+1-minCount) <= t.maxSkew }
	case kindAffinity:
		if g.total == 0 && g.matchesPod(p.pod.Namespace, p.labels) {
			return domains, ""
		}
		keep = func(d string) bool { return g.counts[d] > 0 }
	default:
		keep = func(d string) bool { return g.counts[d] == 0 }
	}
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		if keep(d) {
			out = append(out, d)
		}
	}
	if len(out) > 0 {
		return out, ""
	}
	// Word the reason only when it is needed: this runs for every node a pod is tried on.
	switch t.kind {
	case kindSpread:
		return out, fmt.Sprintf(reasonSpreadFormat, g.key, t.maxSkew)
	case kindAffinity:
		return out, fmt.Sprintf(reasonAffinityFormat, g.selString, g.key)
	default:
		return out, fmt.Sprintf(reasonAntiFormat, g.selString, g.key)
	}
}

// spreadMin is the global minimum count the skew is measured against. For the hostname key a new node (count 0)
// can always be added while a NodePool exists; otherwise it is the minimum over eligible existing nodes. For other
// keys it is the minimum over the group's universe, or 0 when fewer domains than minDomains exist.
func (s *solver) spreadMin(g *topoGroup, t *term) int {
	if isHostname(g.key) {
		if len(s.pools) > 0 {
			return 0
		}
		m := math.MaxInt
		for _, n := range s.existing {
			if g.eligible(n.reqs, n.taints) {
				m = min(m, g.counts[n.name])
			}
		}
		if m == math.MaxInt {
			return 0
		}
		return m
	}
	if int32(len(g.universe)) < t.minDomains || len(g.universe) == 0 {
		return 0
	}
	m := math.MaxInt
	for _, d := range g.universe {
		m = min(m, g.counts[d])
	}
	return m
}

func (s *solver) pickDomain(p *podInfo, n *node, key string, domains []string, terms []*term, a *attempt) string {
	best, bestLoad, bestPrice := "", math.MaxInt, math.Inf(1)
	for _, d := range domains {
		load := 0
		for _, t := range termsOn(terms, key) {
			switch t.kind {
			case kindSpread:
				load += t.group.counts[d]
			case kindAffinity:
				load -= t.group.counts[d]
			}
		}
		if load > bestLoad {
			continue
		}
		price := math.Inf(1)
		if offeringKey(key) {
			price = s.pinned(n, a, key, d).price
		}
		if load < bestLoad || price < bestPrice {
			best, bestLoad, bestPrice = d, load, price
		}
	}
	return best
}

// pinInfo is what fixing a claim's domain for a key would leave: requirements, types and the cheapest price.
type pinInfo struct {
	reqs  Requirements
	types []*typeInfo
	price float64
}

// pinned computes (and, while the claim's requirements are unchanged, caches) the effect of pinning key=d.
func (s *solver) pinned(n *node, a *attempt, key, d string) *pinInfo {
	ck := key + "=" + d
	if !a.changed {
		if pi, ok := n.pins[ck]; ok {
			return pi
		}
	}
	reqs := a.reqs.Clone()
	reqs.addSet(key, &valueSet{values: []string{d}})
	pi := &pinInfo{reqs: reqs, types: s.filterTypes(a.types, reqs), price: math.Inf(1)}
	for _, t := range pi.types {
		if o, ok := t.cheapest(reqs); ok {
			pi.price = min(pi.price, o.PricePerHour)
		}
	}
	if !a.changed {
		if n.pins == nil {
			n.pins = map[string]*pinInfo{}
		}
		n.pins[ck] = pi
	}
	return pi
}

// NodeResources checks the pod fits the node's allocatable: for an existing node directly; for a NodeClaim, some
// instance type it may still launch as must hold all its pods plus this one within the NodePool's limits. The
// cheapest such type becomes the attempt's target.
type NodeResources struct{}

func (NodeResources) Name() string          { return "NodeResources" }
func (NodeResources) Monotone(*solver) bool { return true }
func (NodeResources) Check(s *solver, p *podInfo, n *node, a *attempt) string {
	need := n.used.Add(p.requests)
	if !n.isClaim() {
		if short := need.FirstShortfall(n.alloc); short != "" {
			return reasonInsufficient(short)
		}
		return ""
	}
	t, reason := s.launchType(n, a, need)
	if t == nil {
		return reason
	}
	a.target = t
	return ""
}

// largestReason words "no instance type has 300Gi memory (largest allowed: 256Gi)" for the first resource no
// remaining type has enough of.
func largestReason(need Resources, types []*typeInfo) string {
	var largest Resources
	for _, t := range types {
		largest = largest.Max(t.alloc)
	}
	if len(types) == 0 {
		return "no instance type is left after the pod's requirements"
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if need.Get(name) > largest.Get(name) {
			return fmt.Sprintf(reasonNoTypeFormat, fmtQuantity(need, name), name, fmtQuantity(largest, name))
		}
	}
	for _, name := range sortedResourceNames(need.Extended) {
		if need.Extended[name] > largest.Extended[name] {
			if name == ebsVolumeResource {
				return volumeLimitReason(need, largest)
			}
			return fmt.Sprintf(reasonNoTypeFormat, fmtQuantity(need, name), name, fmtQuantity(largest, name))
		}
	}
	return "no single instance type has enough cpu, memory and pods together"
}

func sortedResourceNames(m map[corev1.ResourceName]int64) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func fmtQuantity(r Resources, name corev1.ResourceName) string {
	q := r.Quantity(name)
	if name == corev1.ResourceMemory || name == corev1.ResourceEphemeralStorage {
		v := r.Get(name)
		for _, u := range []struct {
			s string
			n int64
		}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
			if v >= u.n && v%u.n == 0 {
				return fmt.Sprintf("%d%s", v/u.n, u.s)
			}
		}
		if v >= 1<<30 {
			return fmt.Sprintf("%.1fGi", float64(v)/(1<<30))
		}
	}
	return q.String()
}

// MinValues keeps a NodeClaim flexible: for each NodePool requirement with minValues, the types that fit the
// claim's pods must still span that many distinct values.
type MinValues struct{}

func (MinValues) Name() string          { return "MinValues" }
func (MinValues) Monotone(*solver) bool { return true }
func (MinValues) Check(s *solver, p *podInfo, n *node, a *attempt) string {
	if !n.isClaim() {
		return ""
	}
	keys := n.pool.np.Requirements.MinValuesKeys()
	if len(keys) == 0 {
		return ""
	}
	need := n.used.Add(p.requests)
	for _, k := range keys {
		want := n.pool.np.Requirements.MinValues(k)
		vals := map[string]bool{}
		for _, t := range a.types {
			if !need.Fits(t.alloc) {
				continue
			}
			for _, v := range s.possibleValues(a.reqs, []*typeInfo{t}, k) {
				vals[v] = true
			}
		}
		if len(vals) < want {
			return fmt.Sprintf(reasonMinValuesFormat, strings.TrimSpace(joinRequirements(n.pool.np.Requirements.Get(k))), want, len(vals))
		}
	}
	return ""
}

var _ = apiv1.ZoneLabelKey
