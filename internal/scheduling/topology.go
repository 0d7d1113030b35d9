package scheduling

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

type termKind int

const (
	kindSpread termKind = iota
	kindAffinity
	kindAntiAffinity
)

func (k termKind) String() string {
	switch k {
	case kindSpread:
		return "topology spread"
	case kindAffinity:
		return "pod affinity"
	default:
		return "pod anti-affinity"
	}
}

// topoGroup counts the pods a label selector matches in each domain of one topology key. Terms of many pods share
// a group when they count the same thing.
type topoGroup struct {
	id        string
	key       string
	selector  labels.Selector
	selString string
	allNS     bool
	ns        []string
	// Eligibility of nodes for counting (topology spread with nodeAffinityPolicy / nodeTaintsPolicy Honor).
	honorAffinity bool
	honorTaints   bool
	ownerAlts     []Requirements
	ownerTols     []corev1.Toleration
	// universe is the set of domains a spread term on a non-hostname key balances over.
	universe []string

	counts     map[string]int
	total      int
	antiOwners map[string]int
}

// term is one inter-pod term a pod owns: a spread constraint, an affinity or an anti-affinity term.
type term struct {
	group      *topoGroup
	kind       termKind
	required   bool
	maxSkew    int32
	minDomains int32
	weight     int32
}

func (g *topoGroup) matchesPod(ns string, l labels.Set) bool {
	if !g.allNS {
		if _, ok := slices.BinarySearch(g.ns, ns); !ok {
			return false
		}
	}
	return g.selector.Matches(l)
}

// eligible reports whether pods on a node with these requirements and taints count for the group.
func (g *topoGroup) eligible(nodeReqs Requirements, taints []corev1.Taint) bool {
	if g.honorTaints && untoleratedTaint(g.ownerTols, taints) != nil {
		return false
	}
	if g.honorAffinity {
		for _, a := range g.ownerAlts {
			if a.CompatibleWithNode(nodeReqs) == nil {
				return true
			}
		}
		return len(g.ownerAlts) == 0
	}
	return true
}

// termBuilder deduplicates groups across pods.
type termBuilder struct {
	groups map[string]*topoGroup
	list   []*topoGroup
}

func (b *termBuilder) group(key string, sel labels.Selector, selString string, allNS bool, ns []string, honorAff, honorTaints bool, alts []Requirements, tols []corev1.Toleration) *topoGroup {
	var id strings.Builder
	fmt.Fprintf(&id, "%s|%s|%v|%s", key, selString, allNS, strings.Join(ns, ","))
	if honorAff {
		id.WriteString("|aff:" + requirementsSig(alts))
	}
	if honorTaints {
		id.WriteString("|tol:" + tolerationsSig(tols))
	}
	if g, ok := b.groups[id.String()]; ok {
		return g
	}
	g := &topoGroup{
		id: id.String(), key: key, selector: sel, selString: selString, allNS: allNS, ns: ns,
		honorAffinity: honorAff, honorTaints: honorTaints, ownerAlts: alts, ownerTols: tols,
		counts: map[string]int{}, antiOwners: map[string]int{},
	}
	if b.groups == nil {
		b.groups = map[string]*topoGroup{}
	}
	b.groups[g.id] = g
	b.list = append(b.list, g)
	return g
}

// podTerms compiles the inter-pod terms of a pod: required ones and preferred ones (as preferences).
func (b *termBuilder) podTerms(pod *corev1.Pod, alts []Requirements) (owned []*term, prefs []preference, err error) {
	c := &termCollector{b: b, pod: pod}
	if err := c.spread(alts); err != nil {
		return nil, nil, err
	}
	if err := c.affinities(); err != nil {
		return nil, nil, err
	}
	return c.owned, c.prefs, nil
}

// termCollector gathers one pod's terms.
type termCollector struct {
	b     *termBuilder
	pod   *corev1.Pod
	owned []*term
	prefs []preference
}

func (c *termCollector) spread(alts []Requirements) error {
	pod := c.pod
	for i := range pod.Spec.TopologySpreadConstraints {
		tsc := &pod.Spec.TopologySpreadConstraints[i]
		sel, selStr, err := labelSelector(tsc.LabelSelector, pod, tsc.MatchLabelKeys)
		if err != nil {
			return fmt.Errorf("topologySpreadConstraints[%d].labelSelector: %w", i, err)
		}
		if tsc.MaxSkew < 1 {
			return fmt.Errorf("topologySpreadConstraints[%d].maxSkew must be at least 1, got %d", i, tsc.MaxSkew)
		}
		honorAff := tsc.NodeAffinityPolicy == nil || *tsc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor
		honorTaints := tsc.NodeTaintsPolicy != nil && *tsc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor
		g := c.b.group(tsc.TopologyKey, sel, selStr, false, []string{pod.Namespace}, honorAff, honorTaints, alts, pod.Spec.Tolerations)
		t := &term{group: g, kind: kindSpread, maxSkew: tsc.MaxSkew, minDomains: int32Or(tsc.MinDomains, 1)}
		if tsc.WhenUnsatisfiable == corev1.ScheduleAnyway {
			c.prefs = append(c.prefs, preference{weight: 0, term: t})
			continue
		}
		t.required = true
		c.owned = append(c.owned, t)
	}
	return nil
}

func (c *termCollector) affinities() error {
	a := c.pod.Spec.Affinity
	if a == nil {
		return nil
	}
	if pa := a.PodAffinity; pa != nil {
		if err := c.addAll(kindAffinity, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if err := c.addAll(kindAntiAffinity, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return err
		}
	}
	return nil
}

func (c *termCollector) addAll(kind termKind, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) error {
	for i := range required {
		if err := c.add(kind, &required[i], true, 0); err != nil {
			return err
		}
	}
	for i := range preferred {
		if err := c.add(kind, &preferred[i].PodAffinityTerm, false, preferred[i].Weight); err != nil {
			return err
		}
	}
	return nil
}

func (c *termCollector) add(kind termKind, pa *corev1.PodAffinityTerm, required bool, weight int32) error {
	sel, selStr, err := labelSelector(pa.LabelSelector, c.pod, pa.MatchLabelKeys)
	if err != nil {
		return fmt.Errorf("%s labelSelector: %w", kind, err)
	}
	if pa.TopologyKey == "" {
		return fmt.Errorf("%s term has an empty topologyKey", kind)
	}
	allNS, ns := termNamespaces(c.pod, pa)
	g := c.b.group(pa.TopologyKey, sel, selStr, allNS, ns, false, false, nil, nil)
	t := &term{group: g, kind: kind, required: required, weight: weight}
	if required {
		c.owned = append(c.owned, t)
	} else {
		c.prefs = append(c.prefs, preference{weight: weight, term: t})
	}
	return nil
}

// preference is something a pod would like: a preferred node affinity term, a preferred inter-pod term, or (for
// PreferNoSchedule taints) avoiding nodes it does not tolerate.
type preference struct {
	weight           int32
	nodeReqs         *Requirements
	term             *term
	avoidPreferTaint bool
}

func (p preference) String() string {
	switch {
	case p.nodeReqs != nil:
		return fmt.Sprintf("preferred node affinity (weight %d) %s", p.weight, p.nodeReqs)
	case p.term != nil:
		return fmt.Sprintf("preferred %s on %s (weight %d)", p.term.kind, p.term.group.key, p.weight)
	default:
		return "avoid PreferNoSchedule taints"
	}
}

// isHostname reports whether key is the per-node topology key.
func isHostname(key string) bool { return key == apiv1.HostnameLabelKey }
