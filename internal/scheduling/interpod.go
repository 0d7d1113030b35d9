package scheduling

import (
	"fmt"
	"math"
	"slices"
)

// InterPod enforces required topology spread, pod affinity and pod anti-affinity (including the anti-affinity of
// pods already placed, which is symmetric) on every other key, and hostname pod affinity. On a NodeClaim whose
// domain for a key is still open it pins the domain.
type InterPod struct{}

func (InterPod) Name() string          { return "InterPod" }
func (InterPod) Monotone(*solver) bool { return false }
func (InterPod) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	r := s.checkTerms(p, n, &a, p.owned, true)
	return a, r
}

// Preferences enforces the preferences still active at the attempt's relaxation level.
type Preferences struct{}

func (Preferences) Name() string          { return "Preferences" }
func (Preferences) Monotone(*solver) bool { return false }
func (Preferences) Check(s *solver, p *podInfo, n *node, a attempt) (attempt, Reason) {
	prefs := activePrefs(p, a.level)
	var terms []*term
	for _, pr := range prefs {
		switch {
		case pr.avoidPreferTaint:
			if hasUntoleratedPreferNoSchedule(p.tolerations, n.taints) {
				return a, reasonf(ReasonPreference, reasonPreferenceFormat, pr)
			}
		case pr.nodeReqs != nil:
			if !n.isClaim() {
				if pr.nodeReqs.CompatibleWithNode(n.reqs) != nil {
					return a, reasonf(ReasonPreference, reasonPreferenceFormat, pr)
				}
				continue
			}
			if pr.nodeReqs.CompatibleWithNode(a.reqs) != nil {
				return a, reasonf(ReasonPreference, reasonPreferenceFormat, pr)
			}
			reqs := a.reqs.Intersect(*pr.nodeReqs)
			if !reqs.Equal(a.reqs) {
				types := s.filterTypes(a.types, reqs)
				if len(types) == 0 {
					return a, reasonf(ReasonPreference, reasonPreferenceFormat, pr)
				}
				a.reqs, a.types, a.changed = reqs, types, true
			}
		case pr.term != nil:
			terms = append(terms, pr.term)
		}
	}
	if len(terms) > 0 {
		if r := s.checkTerms(p, n, &a, terms, false); r.rejects() {
			return a, Reason{Kind: ReasonPreference, Message: fmt.Sprintf(reasonPreferenceFormat, r.Message)}
		}
	}
	return a, Reason{}
}

// checkTerms evaluates inter-pod terms on n. For each topology key involved it computes the domains the node may
// still be in, keeps those every term allows, and pins an open NodeClaim to the best one.
func (s *solver) checkTerms(p *podInfo, n *node, a *attempt, terms []*term, withSymmetry bool) Reason {
	for _, key := range termKeys(p, n, terms, withSymmetry) {
		if r := s.checkKey(p, n, a, terms, key, withSymmetry); r.rejects() {
			return r
		}
	}
	return Reason{}
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
func (s *solver) checkKey(p *podInfo, n *node, a *attempt, terms []*term, key string, withSymmetry bool) Reason {
	domains := s.candidateDomains(n, a, key)
	if len(domains) == 0 {
		if keylessNodeOK(n, terms, key) {
			return Reason{}
		}
		return reasonf(ReasonNoTopologyDomain, reasonNoDomainFormat, key)
	}
	domains, reason := s.allowedDomains(p, terms, key, domains, withSymmetry)
	if len(domains) == 0 {
		return reason
	}
	if _, known := n.domain(key); known || !n.isClaim() {
		return Reason{}
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
		return reasonf(ReasonNoInstanceType, reasonNoTypeLeftFormat, key+"="+best)
	}
	a.reqs, a.types, a.changed = pin.reqs, pin.types, true
	return Reason{}
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
func (s *solver) allowedDomains(p *podInfo, terms []*term, key string, domains []string, withSymmetry bool) ([]string, Reason) {
	var reason Reason
	for _, t := range termsOn(terms, key) {
		if domains, reason = s.filterDomains(p, t, domains); len(domains) == 0 {
			return nil, reason
		}
	}
	if !withSymmetry {
		return domains, Reason{}
	}
	for _, g := range p.matches {
		if g.key != key {
			continue
		}
		// Filter into a new slice: domains may be the claim's cached list.
		domains = slices.DeleteFunc(slices.Clone(domains), func(d string) bool { return g.antiOwners[d] > 0 })
		if len(domains) == 0 {
			return nil, reasonf(ReasonPodAntiAffinity, reasonAntiSymFormat, g.selString, key)
		}
	}
	return domains, Reason{}
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
		if d, ok := n.cachedDomains(key); ok {
			return d
		}
	}
	d := s.possibleValues(a.reqs, a.types, key)
	if !a.changed {
		n.rememberDomains(key, d)
	}
	return d
}

func (s *solver) filterDomains(p *podInfo, t *term, domains []string) ([]string, Reason) {
	g := t.group
	var keep func(d string) bool
	switch t.kind {
	case kindSpread:
		minCount := s.spreadMin(g, t)
		keep = func(d string) bool { return int32(g.counts[d]+1-minCount) <= t.maxSkew }
	case kindAffinity:
		if g.total == 0 && g.matchesPod(p.pod.Namespace, p.labels) {
			return domains, Reason{}
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
		return out, Reason{}
	}
	// Word the reason only when it is needed: this runs for every node a pod is tried on.
	switch t.kind {
	case kindSpread:
		return out, reasonf(ReasonTopologySpread, reasonSpreadFormat, g.key, t.maxSkew)
	case kindAffinity:
		return out, reasonf(ReasonPodAffinity, reasonAffinityFormat, g.selString, g.key)
	default:
		return out, reasonf(ReasonPodAntiAffinity, reasonAntiFormat, g.selString, g.key)
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
		if pi, ok := n.cachedPin(ck); ok {
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
		n.rememberPin(ck, pi)
	}
	return pi
}
