package scheduling

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Constraint is one scheduling rule. Check returns the attempt as the rule leaves it (possibly narrowed:
// requirements, candidate instance types, the target type) and the zero Reason when the pod may join the node, or
// why it may not. The attempt goes by value, so checking a node allocates nothing.
type Constraint interface {
	// Name identifies the rule in messages and tests.
	Name() string
	// Monotone rules never accept an identical pod on a node after rejecting one there in this plan: nodes only
	// fill up and narrow. The planner uses this to skip nodes it already knows are out.
	Monotone(s *solver) bool
	Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason)
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
func (TaintToleration) Check(_ *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	if t := untoleratedTaint(p.tolerations, n.taints); t != nil {
		return a, reasonf(ReasonTaint, reasonTaintFormat, t.ToString())
	}
	return a, Reason{}
}

// HostPorts rejects nodes where a host port the pod binds is taken.
type HostPorts struct{}

func (HostPorts) Name() string          { return "HostPorts" }
func (HostPorts) Monotone(*solver) bool { return true }
func (HostPorts) Check(_ *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	for _, want := range p.ports {
		for _, have := range n.ports {
			if want.conflicts(have) {
				return a, reasonf(ReasonHostPort, reasonPortFormat, want)
			}
		}
	}
	return a, Reason{}
}

// NodeAffinity matches the pod's nodeSelector, required node affinity (an OR of terms) and volume topology against
// the node's labels; on a NodeClaim it narrows the requirements and the instance types to the first alternative
// that leaves some type.
type NodeAffinity struct{}

func (NodeAffinity) Name() string          { return "NodeAffinity" }
func (NodeAffinity) Monotone(*solver) bool { return true }
func (NodeAffinity) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	if !n.isClaim() {
		for _, alt := range p.alts {
			if alt.CompatibleWithNode(n.reqs) == nil {
				return a, Reason{}
			}
		}
		return a, nodeConflictReason(p, n.reqs, nil)
	}
	if n.sigOK[p.reqSig] {
		return a, Reason{}
	}
	// The first alternative's failure words the reason: a conflict with the node side, or no type left.
	var firstErr error
	var noTypeLeft Reason
	for _, alt := range p.alts {
		if err := alt.CompatibleWithNode(a.reqs); err != nil {
			if firstErr == nil && !noTypeLeft.rejects() {
				firstErr = err
			}
			continue
		}
		reqs := a.reqs.Intersect(alt)
		if reqs.Equal(a.reqs) {
			return a, Reason{}
		}
		types := s.filterTypes(a.types, reqs)
		if len(types) == 0 {
			if firstErr == nil && !noTypeLeft.rejects() {
				noTypeLeft = reasonf(ReasonNoInstanceType, reasonNoTypeLeftFormat, alt)
			}
			continue
		}
		a.reqs, a.types, a.changed = reqs, types, true
		return a, Reason{}
	}
	if noTypeLeft.rejects() {
		return a, noTypeLeft
	}
	var ce *ConflictError
	if errors.As(firstErr, &ce) {
		return a, nodeConflictReason(p, a.reqs, ce)
	}
	return a, Reason{Kind: ReasonRequirements, Message: firstErr.Error()}
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
func nodeConflictReason(p *podInfo, nodeReqs Requirements, ce *ConflictError) Reason {
	for _, k := range p.selector.Keys() {
		if p.selector.get(k).intersect(orAbsent(nodeReqs.get(k))).empty() {
			v := p.pod.Spec.NodeSelector[k]
			return reasonf(ReasonRequirements, "%s conflicts with pod nodeSelector %s=%s", describeNodeSide(nodeReqs, k), k, v)
		}
	}
	for _, term := range p.affinity {
		if err := term.CompatibleWithNode(nodeReqs); err != nil {
			var c *ConflictError
			if errors.As(err, &c) {
				return reasonf(ReasonRequirements, "%s conflicts with pod node affinity %s", describeNodeSide(nodeReqs, c.Key), joinRequirements(c.Ours))
			}
		}
	}
	if ce != nil {
		return reasonf(ReasonRequirements, "%s conflicts with volume topology %s", describeNodeSide(nodeReqs, ce.Key), joinRequirements(ce.Ours))
	}
	return Reason{Kind: ReasonRequirements, Message: "no combination of the pod's node requirements fits"}
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
func (HostnameTopology) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	d, ok := n.domain(apiv1.HostnameLabelKey)
	if !ok {
		return a, Reason{}
	}
	for _, t := range p.owned {
		if !isHostname(t.group.key) || t.kind == kindAffinity {
			continue
		}
		if out, reason := s.filterDomains(p, t, []string{d}); len(out) == 0 {
			return a, reason
		}
	}
	for _, g := range p.matches {
		if isHostname(g.key) && g.antiOwners[d] > 0 {
			return a, reasonf(ReasonPodAntiAffinity, reasonAntiSymFormat, g.selString, g.key)
		}
	}
	return a, Reason{}
}

// NodeResources checks the pod fits the node's allocatable: for an existing node directly; for a NodeClaim, some
// instance type it may still launch as must hold all its pods plus this one within the NodePool's limits. The
// cheapest such type becomes the attempt's target.
type NodeResources struct{}

func (NodeResources) Name() string          { return "NodeResources" }
func (NodeResources) Monotone(*solver) bool { return true }
func (NodeResources) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	need := n.used.Add(p.requests)
	if !n.isClaim() {
		if short := need.FirstShortfall(n.alloc); short != "" {
			return a, reasonInsufficient(short)
		}
		return a, Reason{}
	}
	t, reason := s.launchType(n, &a, need)
	if t == nil {
		return a, reason
	}
	a.target = t
	return a, Reason{}
}

// largestReason words "no instance type has 300Gi memory (largest allowed: 256Gi)" for the first resource no
// remaining type has enough of.
func largestReason(need Resources, types []*typeInfo) Reason {
	var largest Resources
	for _, t := range types {
		largest = largest.Max(t.alloc)
	}
	if len(types) == 0 {
		return Reason{Kind: ReasonNoInstanceType, Message: "no instance type is left after the pod's requirements"}
	}
	tooLarge := func(name corev1.ResourceName) Reason {
		return Reason{Kind: ReasonNoInstanceType, Resource: name, Message: fmt.Sprintf(reasonNoTypeFormat, fmtQuantity(need, name), name, fmtQuantity(largest, name))}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if need.Get(name) > largest.Get(name) {
			return tooLarge(name)
		}
	}
	for _, name := range sortedResourceNames(need.Extended) {
		if need.Extended[name] > largest.Extended[name] {
			if name == ebsVolumeResource {
				return volumeLimitReason(need, largest)
			}
			return tooLarge(name)
		}
	}
	return Reason{Kind: ReasonNoInstanceType, Message: "no single instance type has enough cpu, memory and pods together"}
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
func (MinValues) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	if !n.isClaim() {
		return a, Reason{}
	}
	keys := n.pool.np.Requirements.MinValuesKeys()
	if len(keys) == 0 {
		return a, Reason{}
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
			return a, reasonf(ReasonMinValues, reasonMinValuesFormat, strings.TrimSpace(joinRequirements(n.pool.np.Requirements.Get(k))), want, len(vals))
		}
	}
	return a, Reason{}
}

var _ = apiv1.ZoneLabelKey
