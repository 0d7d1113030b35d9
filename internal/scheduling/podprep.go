package scheduling

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func (s *solver) buildPods(pods []*corev1.Pod) ([]*podInfo, error) {
	// Existing pods: their anti-affinity terms bind new pods, and they count for every group.
	existingOwned, err := s.existingAntiTerms()
	if err != nil {
		return nil, err
	}
	infos := make([]*podInfo, 0, len(pods))
	for _, pod := range pods {
		p, err := s.compilePod(pod)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", p.key, err)
		}
		infos = append(infos, p)
	}
	s.countGroups(existingOwned, infos)
	for _, p := range infos {
		s.finishPod(p)
	}
	return infos, nil
}

// existingAntiTerms compiles the required anti-affinity terms of the pods on the nodes the plan keeps, which new pods
// must respect, by position in the memo's pods.
func (s *solver) existingAntiTerms() (map[int][]*term, error) {
	owned := map[int][]*term{}
	for _, i := range s.memo.anti {
		ep := s.memo.pods[i]
		if s.existingAt[ep.at] == nil {
			continue
		}
		anti := &corev1.Pod{ObjectMeta: ep.p.ObjectMeta, Spec: corev1.PodSpec{Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: ep.p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		}}}}
		terms, _, err := s.terms.podTerms(anti, nil)
		if err != nil {
			return nil, fmt.Errorf("existing pod %s: %w", podKey(ep.p), err)
		}
		owned[i] = terms
	}
	return owned, nil
}

// compilePod turns a pending pod into what the constraints need.
func (s *solver) compilePod(pod *corev1.Pod) (*podInfo, error) {
	p := &podInfo{pod: pod, key: podKey(pod), labels: labels.Set(pod.Labels), requests: withVolumes(PodRequests(pod), s.vols.ebsVolumes(pod)), tolerations: pod.Spec.Tolerations, ports: podHostPorts(pod)}
	var err error
	var volErr string
	p.selector, p.affinity, p.alts, volErr, err = compileNodeRequirements(pod, s.vols)
	if err != nil {
		return p, err
	}
	if volErr != "" {
		p.refusal = &Reason{Kind: ReasonVolume, Message: volErr}
	}
	if why := requestsOutOfRange(pod); why != "" {
		p.refusal = &Reason{Kind: ReasonRequests, Message: why}
	}
	if len(pod.Spec.ResourceClaims) > 0 && p.refusal == nil {
		p.refusal = &Reason{Kind: ReasonDRA, Message: reasonDRA}
	}
	if p.owned, p.prefs, err = s.terms.podTerms(pod, p.alts); err != nil {
		return p, err
	}
	if err := addNodePreferences(p); err != nil {
		return p, err
	}
	switch s.opts.Preferences {
	case PreferenceIgnore:
		p.prefs = nil
	case PreferenceCost:
		markSoftHA(p)
	}
	return p, nil
}

// markSoftHA moves the pod's soft-HA preferences — preferred anti-affinity on hostname or zone against pods its own
// labels match, i.e. its replicas — to the front, so they are relaxed last, and counts them in p.ha.
func markSoftHA(p *podInfo) {
	isHA := func(pr preference) bool {
		t := pr.term
		return t != nil && t.kind == kindAntiAffinity && (isHostname(t.group.key) || t.group.key == apiv1.ZoneLabelKey) &&
			t.group.matchesPod(p.pod.Namespace, p.labels)
	}
	var ha, rest []preference
	for _, pr := range p.prefs {
		if isHA(pr) {
			ha = append(ha, pr)
		} else {
			rest = append(rest, pr)
		}
	}
	if len(ha) == 0 {
		return
	}
	p.prefs, p.ha = append(ha, rest...), len(ha)
}

// countGroups matches every pending pod against every group, counts the existing pods per domain and records the
// domains where existing pods' anti-affinity owns the group; then fixes each spread group's universe of domains.
func (s *solver) countGroups(existingOwned map[int][]*term, infos []*podInfo) {
	pendingLabels := make([]labels.Set, len(infos))
	for i, p := range infos {
		pendingLabels[i] = p.labels
	}
	pendingIndex := newPodIndex(pendingLabels)
	for _, g := range s.terms.list {
		for _, i := range s.memo.index.candidates(g.selector) {
			ep := s.memo.pods[i]
			n := s.existingAt[ep.at]
			if n == nil || !g.matchesPod(ep.p.Namespace, s.memo.labels[i]) {
				continue
			}
			if d, ok := n.domain(g.key); ok && g.eligible(n.reqs, n.taints) {
				g.counts[d]++
				g.total++
			}
		}
		for _, i := range pendingIndex.candidates(g.selector) {
			if p := infos[i]; g.matchesPod(p.pod.Namespace, p.labels) {
				p.matches = append(p.matches, g)
			}
		}
	}
	for _, i := range slices.Sorted(maps.Keys(existingOwned)) {
		n := s.existingAt[s.memo.pods[i].at]
		for _, t := range existingOwned[i] {
			if d, ok := n.domain(t.group.key); ok && t.kind == kindAntiAffinity {
				t.group.antiOwners[d]++
			}
		}
	}
	for _, g := range s.terms.list {
		if !isHostname(g.key) {
			g.universe = s.universe(g)
		}
	}
}

func addNodePreferences(p *podInfo) error {
	if a := p.pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		for i, w := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			r, err := FromNodeSelectorTerm(w.Preference)
			if err != nil {
				return fmt.Errorf("preferred node affinity [%d]: %w", i, err)
			}
			p.prefs = append(p.prefs, preference{weight: w.Weight, nodeReqs: &r})
		}
	}
	p.prefs = append(p.prefs, preference{weight: -1, avoidPreferTaint: true})
	slices.SortStableFunc(p.prefs, func(a, b preference) int { return cmp.Compare(b.weight, a.weight) })
	return nil
}

func (s *solver) finishPod(p *podInfo) {
	keys := map[string]bool{}
	for _, t := range p.owned {
		keys[t.group.key] = true
	}
	for _, pr := range p.prefs {
		if pr.term != nil {
			keys[pr.term.group.key] = true
		}
	}
	for _, g := range p.matches {
		keys[g.key] = true
	}
	for k := range keys {
		if !isHostname(k) {
			p.pinKeys = append(p.pinKeys, k)
		}
	}
	slices.Sort(p.pinKeys)
	p.free = len(keys) == 0 && len(p.ports) == 0
	p.reqSig = requirementsSig(p.alts)
	p.demandKey = p.reqSig
	p.class = p.reqSig + "#" + tolerationsSig(p.tolerations)
	var b strings.Builder
	fmt.Fprintf(&b, "%s#%s#%v#", p.class, p.requests, p.ports)
	for _, t := range p.owned {
		fmt.Fprintf(&b, "o:%s/%d/%d/%d;", t.group.id, t.kind, t.maxSkew, t.minDomains)
	}
	for _, g := range p.matches {
		b.WriteString("m:" + g.id + ";")
	}
	for _, pr := range p.prefs {
		b.WriteString("p:" + pr.String() + ";")
	}
	p.sig = b.String()
}

// universe lists the domains a spread group balances over: values of its key on eligible existing nodes and on
// the nodes the NodePools could launch for the owner.
func (s *solver) universe(g *topoGroup) []string {
	vals := map[string]bool{}
	for _, n := range s.existing {
		if d, ok := n.domain(g.key); ok && g.eligible(n.reqs, n.taints) {
			vals[d] = true
		}
	}
	for _, ps := range s.pools {
		if g.honorTaints && untoleratedTaint(g.ownerTols, ps.np.Taints) != nil {
			continue
		}
		alts := g.ownerAlts
		if !g.honorAffinity || len(alts) == 0 {
			alts = []Requirements{{}}
		}
		for _, a := range alts {
			if a.CompatibleWithNode(ps.reqs) != nil {
				continue
			}
			reqs := ps.reqs.Intersect(a)
			for _, v := range s.possibleValues(reqs, s.filterTypes(ps.types, reqs), g.key) {
				vals[v] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(vals))
}

// possibleValues lists the values a NodeClaim with these requirements and candidate types could have for key.
func (s *solver) possibleValues(reqs Requirements, types []*typeInfo, key string) []string {
	vals := map[string]bool{}
	switch {
	case offeringKey(key):
		f := s.offeringFilter(reqs)
		for _, t := range types {
			for i := range t.offerings {
				o := &t.offerings[i]
				v := o.Zone
				if key == apiv1.CapacityTypeLabelKey {
					v = o.CapacityType
				}
				if !vals[v] && f.offeringOK(t, i) {
					vals[v] = true
				}
			}
		}
	case s.typeKeys[key]:
		for _, t := range types {
			if v, ok := t.it.Labels[key]; ok && reqs.Has(key, v) {
				vals[v] = true
			}
		}
	default:
		if vs, ok := reqs.Values(key); ok {
			return vs
		}
	}
	return slices.Sorted(maps.Keys(vals))
}
