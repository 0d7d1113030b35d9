package scheduling

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// typeInfo is an instance type as one NodePool sees it: allocatable net of the daemonsets that would run on it.
type typeInfo struct {
	it        *cloudprovider.InstanceType
	capacity  Resources
	alloc     Resources
	dsPods    []*corev1.Pod
	offerings []cloudprovider.Offering // available ones, cheapest first
	ids       []offeringID             // the offerings' zone and capacity type in the solver's offeringIndex
}

func (t *typeInfo) cheapest(reqs Requirements) (cloudprovider.Offering, bool) {
	for _, o := range t.offerings {
		if reqs.Has(apiv1.ZoneLabelKey, o.Zone) && reqs.Has(apiv1.CapacityTypeLabelKey, o.CapacityType) {
			return o, true
		}
	}
	return cloudprovider.Offering{}, false
}

// poolState is a NodePool prepared for solving.
type poolState struct {
	np *NodePool
	// reqs are closed: the NodePool's requirements and labels, the nodepool label, and for instance-type keys the
	// values its types carry.
	reqs      Requirements
	types     []*typeInfo
	limited   []corev1.ResourceName
	remaining Resources
	claims    int
	// bound and floor are the per-resource maximum and minimum allocatable of types.
	bound, floor Resources
	// nodesLimited says the NodePool limits its number of nodes; nodesLeft is how many more it may launch.
	nodesLimited bool
	nodesLeft    int64
}

// node is a place a pod can go: an existing node or a NodeClaim being planned.
type node struct {
	name     string
	existing *ExistingNode
	pool     *poolState
	reqs     Requirements
	taints   []corev1.Taint
	alloc    Resources
	used     Resources
	ports    []hostPort
	pods     []*podInfo
	// NodeClaims only. candidates are the instance types the claim may still launch as (candidates.go). target is
	// the type it launches as (the cheapest within the NodePool's limits); its capacity counts against the limits.
	candidates
	target *typeInfo
	// lane is the demandKey of the lane whose pod opened the claim, if any (lanes.go): only that lane's pods join it.
	lane    string
	sigOK   map[string]bool
	allFree bool
	index   int
	merged  bool
	options []InstanceTypeOption
	// Existing nodes only: shared marks the memo's node, which the solver copies (own) before placing a pod on
	// it; at is its position in the memo's order.
	shared bool
	at     int
}

func (n *node) isClaim() bool { return n.existing == nil }

// domain returns the node's value for a topology key, and whether it is known.
func (n *node) domain(key string) (string, bool) {
	if n.isClaim() && isHostname(key) {
		return n.name, true
	}
	return n.reqs.Single(key)
}

type solver struct {
	opts Options
	// reservedLeft is each capacity reservation's room not yet taken by the plan's NodeClaims, set by
	// holdReservations (nil before it runs).
	reservedLeft map[string]int
	pools        []*poolState
	existing     []*node
	// memo is the snapshot's existing nodes prepared (nodesmemo.go); existingAt maps its positions to existing
	// nodes, nil for a node the simulation removed.
	memo          *nodesMemo
	existingAt    []*node
	existingIndex []int // memo position → index in existing
	claims        []*node
	terms         termBuilder
	typeKeys      map[string]bool
	offers        offeringIndex
	vols          *volumeIndex
	dsPods        []*podInfo
	// cursor is, per pod signature, the first open NodeClaim that might still take such a pod; existingCursor the
	// same for existing nodes.
	cursor         map[string]int
	existingCursor map[string]int
	// demand is the summed requests of the batch per pod class (reqSig), efficient the types a claim opened for a
	// class may grow into (efficiency.go); demand is nil when the packing tolerance is off.
	demand    map[string]Resources
	efficient map[effKey]*effTypes
	allowed   map[widenKey][]*typeInfo
	// allowedSets are the allowed lists with their bounds and shared options, reqKeys the parts of their keys
	// (sharedtypes.go); both made on first use.
	allowedSets map[sharedKey]*allowedSet
	reqKeys     map[setKey]string
	// burstables are, per NodePool, the burstable types it could launch but does not name (burstable.go).
	burstables map[*NodePool][]*cloudprovider.InstanceType
}

// Solve plans pods onto the snapshot. Virtual pods of capacity buffers (IsBufferPod) among pods are placed after all
// the others. It returns an error only for malformed input (a bad selector, an invalid
// requirement); pods that cannot be placed are reported in Results.Unschedulable.
func Solve(snap *Snapshot, pods []*corev1.Pod, opts Options) (*Results, error) {
	if opts.Preferences == "" {
		opts.Preferences = PreferenceCost
	}
	if err := opts.Preferences.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxMergeCandidates == 0 {
		opts.MaxMergeCandidates = 64
	}
	if opts.PackingTolerance == 0 {
		opts.PackingTolerance = DefaultPackingTolerance
	}
	s, err := newSolver(snap, opts)
	if err != nil {
		return nil, err
	}
	infos, err := s.buildPods(pods)
	if err != nil {
		return nil, err
	}
	real, buffer := splitBufferPods(infos)
	order := balancedOrder(real)
	if opts.PackingTolerance > 0 {
		s.demand = classDemand(infos)
		if s.assignLanes(order) {
			order = laneOrder(order)
		}
	}
	// Buffer pods come after every real pod: real pods take the room first, the buffer gets what is left and
	// new capacity for the rest.
	order = append(order, balancedOrder(buffer)...)
	var failed []*podInfo
	for _, p := range order {
		if !s.place(p) {
			failed = append(failed, p)
		}
	}
	// A second pass: a pod whose affinity target came later in the order may fit now.
	var unschedulable []*podInfo
	for _, p := range failed {
		if !s.place(p) {
			unschedulable = append(unschedulable, p)
		}
	}
	s.finalizeAll()
	s.split()
	s.improve()
	unschedulable = append(unschedulable, s.holdReservations()...)
	return s.results(infos, unschedulable), nil
}

// newSolver prepares a plan on the snapshot: its NodePools' instance types and its existing nodes.
func newSolver(snap *Snapshot, opts Options) (*solver, error) {
	s := &solver{opts: opts, vols: newVolumeIndex(snap), cursor: map[string]int{}, existingCursor: map[string]int{}, typeKeys: map[string]bool{}, efficient: map[effKey]*effTypes{}, allowed: map[widenKey][]*typeInfo{}, burstables: map[*NodePool][]*cloudprovider.InstanceType{}}
	if err := s.buildPools(snap); err != nil {
		return nil, err
	}
	return s, nil
}

// activePrefs returns the preferences still in force at relaxation level l (the lowest weights go first).
func activePrefs(p *podInfo, l int) []preference {
	return p.prefs[:len(p.prefs)-l]
}

// place finds a home for p; it reports false when there is none.
func (s *solver) place(p *podInfo) bool {
	if p.refusal != nil {
		return false
	}
	levels := len(p.prefs)
	if s.opts.Preferences == PreferenceRespect {
		for l := 0; l <= levels; l++ {
			if s.placeExisting(p, l) || s.placeClaims(p, l) || s.placeNew(p, l) {
				return true
			}
		}
		return false
	}
	if s.wantsSpread(p) {
		// Soft HA under the Cost policy: keep the replicas apart, opening a node if need be, while few domains hold them.
		for l := 0; l <= levels-p.ha; l++ {
			if s.placeExisting(p, l) || s.placeClaims(p, l) || s.placeNew(p, l) {
				return true
			}
		}
	}
	for l := 0; l <= levels; l++ {
		if s.placeExisting(p, l) || s.placeClaims(p, l) {
			return true
		}
	}
	for l := 0; l <= levels; l++ {
		if s.placeNew(p, l) {
			return true
		}
	}
	return false
}

// wantsSpread reports whether a soft-HA preference of p names a group still held by fewer than haDomains domains.
func (s *solver) wantsSpread(p *podInfo) bool {
	for _, pr := range p.prefs[:p.ha] {
		held := 0
		for _, n := range pr.term.group.counts {
			if n > 0 {
				held++
			}
		}
		if held < haDomains {
			return true
		}
	}
	return false
}

func (s *solver) placeExisting(p *podInfo, level int) bool {
	return s.firstFit(p, level, s.existing, s.existingCursor)
}

func (s *solver) placeClaims(p *podInfo, level int) bool {
	return s.firstFit(p, level, s.claims, s.cursor)
}

// firstFit places p on the first of nodes that takes it. cursor remembers, per pod signature and relaxation level,
// how many leading nodes are known to reject such a pod for good, so a batch of identical pods does not re-test
// full nodes.
func (s *solver) firstFit(p *podInfo, level int, nodes []*node, cursor map[string]int) bool {
	sig := p.sig
	if level > 0 {
		sig += "#" + itoa(level)
	}
	// The cursor is kept in a local and stored once: at thousands of existing nodes, hashing the signature for
	// every node tried was a quarter of a consolidation pass.
	first := cursor[sig]
	for i := first; i < len(nodes); i++ {
		n := nodes[i]
		var a attempt
		reason, monotone := Reason{}, true
		if n.existing == nil || !n.existing.Unschedulable {
			if a, reason, monotone = s.check(p, n, level); !reason.rejects() {
				cursor[sig] = first
				s.commit(p, n, a)
				return true
			}
		}
		if monotone && i == first {
			first = i + 1
		}
	}
	cursor[sig] = first
	return false
}

// placeNew opens a NodeClaim for p from the first NodePool that can host it.
func (s *solver) placeNew(p *podInfo, level int) bool {
	for _, ps := range s.pools {
		if ps.nodesLimited && ps.nodesLeft <= 0 {
			continue
		}
		n := newClaim(ps, ps.reqs)
		var a attempt
		var reason Reason
		if eff := s.efficientTypes(ps, p); eff != nil {
			n.start(eff.types, eff.bound, eff.floor, true)
			if a, reason, _ = s.check(p, n, level); reason.rejects() {
				// Too big for the efficient types, or a constraint they cannot meet: grow like any claim.
				n.start(ps.types, ps.bound, ps.floor, false)
				a, reason, _ = s.check(p, n, level)
			}
		} else {
			n.start(ps.types, ps.bound, ps.floor, false)
			a, reason, _ = s.check(p, n, level)
		}
		if !reason.rejects() {
			if p.lane > 0 {
				n.lane = p.demandKey
			}
			s.addClaim(n)
			s.commit(p, n, a)
			return true
		}
	}
	return false
}

// explainNew gives, for each NodePool, why a new node of it does not take p. It opens nothing.
func (s *solver) explainNew(p *podInfo, level int) []Reason {
	var out []Reason
	for _, ps := range s.pools {
		if ps.nodesLimited && ps.nodesLeft <= 0 {
			out = append(out, reasonLimit(ps.np.Name, ResourceNodes, ps.np.Limits))
			continue
		}
		n := newClaim(ps, ps.reqs)
		n.start(ps.types, ps.bound, ps.floor, false)
		_, r, _ := s.check(p, n, level)
		if !r.rejects() {
			out = append(out, Reason{Kind: ReasonLeftOut, NodePool: ps.np.Name, Message: reasonLeftOut})
			continue
		}
		r.NodePool = ps.np.Name
		r.Message += s.burstableHint(ps, p)
		out = append(out, r)
	}
	return out
}

// newClaim is a NodeClaim of ps that is not in the plan yet, named as the pool's next one, with reqs (and its own
// hostname).
func newClaim(ps *poolState, reqs Requirements) *node {
	n := &node{name: ps.np.Name + "-" + itoa(ps.claims+1), pool: ps, taints: ps.np.Taints, sigOK: map[string]bool{}, allFree: true}
	n.reqs = reqs.Clone()
	delete(n.reqs.sets, apiv1.HostnameLabelKey)
	n.reqs.addSet(apiv1.HostnameLabelKey, &valueSet{values: []string{n.name}})
	return n
}

// addClaim puts a new claim into the plan and counts it against its NodePool.
func (s *solver) addClaim(n *node) {
	n.pool.claims++
	n.pool.nodesLeft--
	n.index = len(s.claims)
	s.claims = append(s.claims, n)
}

// attempt carries what the constraints decided about placing one pod on one node before it is committed.
type attempt struct {
	reqs    Requirements
	changed bool
	types   []*typeInfo
	target  *typeInfo
	level   int
}

// check runs every constraint. When p may go on n it returns the attempt that says how (for commit) and the zero
// Reason; otherwise the first reason it may not, and whether that rejection is monotone (holds for identical pods
// from now on).
func (s *solver) check(p *podInfo, n *node, level int) (attempt, Reason, bool) {
	a := attempt{reqs: n.reqs, types: n.types, target: n.target, level: level}
	// Fast reject: a full node stays full, and a NodeClaim's candidate types only shrink. (A fresh claim goes on to
	// NodeResources, which words the reason for the pod alone.)
	if alloc := n.alloc; !n.isClaim() || len(n.pods) > 0 {
		if n.isClaim() {
			alloc = n.bound
		}
		if need := p.requests.Add(n.used); !need.Fits(alloc) {
			return a, reasonInsufficient(need.FirstShortfall(alloc)), true
		}
	}
	if n.lane != "" && p.lane > 0 && n.lane != p.demandKey {
		return a, reasonOtherLane, true
	}
	for _, c := range constraints {
		var r Reason
		if a, r = c.Check(s, p, n, a); r.rejects() {
			return a, r, c.Monotone(s)
		}
	}
	return a, Reason{}, false
}

// commit places p on n as the successful check's attempt a decided.
func (s *solver) commit(p *podInfo, n *node, a attempt) {
	n = s.own(n)
	n.used = n.used.Add(p.requests)
	if n.isClaim() {
		s.commitClaim(p, n, &a)
	}
	n.ports = append(n.ports, p.ports...)
	n.pods = append(n.pods, p)
	for _, g := range p.matches {
		if d, ok := n.domain(g.key); ok && g.eligible(n.reqs, n.taints) {
			g.counts[d]++
			g.total++
		}
	}
	for _, t := range p.owned {
		if t.kind == kindAntiAffinity {
			if d, ok := n.domain(t.group.key); ok {
				t.group.antiOwners[d]++
			}
		}
	}
}

func exceedsLimit(capacity, budget Resources, limited []corev1.ResourceName) corev1.ResourceName {
	for _, name := range limited {
		if capacity.Get(name) > budget.Get(name) {
			return name
		}
	}
	return ""
}

func (n *node) price() float64 {
	if len(n.options) == 0 {
		return 0
	}
	return n.options[0].Offering.PricePerHour
}

// results assembles the public Results.
func (s *solver) results(infos []*podInfo, unschedulable []*podInfo) *Results {
	r := &Results{}
	for _, n := range s.existing {
		if len(n.pods) == 0 {
			continue
		}
		ep := ExistingPlacement{Node: n.name, InFlight: n.existing.InFlight}
		for _, p := range n.pods {
			ep.Pods = append(ep.Pods, p.pod)
		}
		r.ExistingNodes = append(r.ExistingNodes, ep)
	}
	for _, n := range s.claims {
		if n.merged || len(n.pods) == 0 {
			continue
		}
		nc := &NodeClaim{Hostname: n.name, NodePool: n.pool.np.Name, Requirements: n.reqs, InstanceTypeOptions: n.options, Taints: n.pool.np.Taints}
		for _, p := range n.pods {
			nc.Pods = append(nc.Pods, p.pod)
		}
		best := n.options[0]
		for _, t := range n.types {
			if t.it == best.InstanceType {
				nc.DaemonSetPods = t.dsPods
			}
		}
		nc.Labels = claimLabels(n, best)
		r.NodeClaims = append(r.NodeClaims, nc)
	}
	// Pods alike (one signature) get the same explanation: nothing changes between them, and explaining one checks
	// it against every node (10,000 held-back pods at 1,000 nodes took seconds).
	explained := map[string][]Reason{}
	for _, p := range unschedulable {
		reasons, ok := explained[p.sig]
		if !ok || p.refusal != nil {
			reasons = s.explain(p)
			if p.refusal == nil {
				explained[p.sig] = reasons
			}
		}
		r.Unschedulable = append(r.Unschedulable, Unschedulable{Pod: p.pod, Reasons: slices.Clone(reasons)})
	}
	return r
}

// claimLabels are the labels the node of a NodeClaim will carry when launched as opt.
func claimLabels(n *node, opt InstanceTypeOption) map[string]string {
	out := map[string]string{}
	for _, k := range n.reqs.Keys() {
		if v, ok := n.reqs.Single(k); ok {
			out[k] = v
		}
	}
	maps.Copy(out, n.pool.np.Labels)
	maps.Copy(out, opt.InstanceType.Labels)
	out[apiv1.ZoneLabelKey] = opt.Offering.Zone
	out[apiv1.CapacityTypeLabelKey] = opt.Offering.CapacityType
	out[apiv1.InstanceTypeLabelKey] = opt.InstanceType.Name
	out[apiv1.NodePoolLabelKey] = n.pool.np.Name
	out[apiv1.HostnameLabelKey] = n.name
	return out
}

// explain gives one reason per NodePool (and one for existing capacity) why p was left out.
func (s *solver) explain(p *podInfo) []Reason {
	if p.refusal != nil {
		return []Reason{*p.refusal}
	}
	var reasons []Reason
	if len(s.existing) > 0 {
		var first Reason
		var firstNode string
		rejected := 0
		for _, n := range s.existing {
			if n.existing.Unschedulable {
				continue
			}
			rejected++
			if _, r, _ := s.check(p, n, len(p.prefs)); r.rejects() && !first.rejects() {
				first, firstNode = r, n.name
			}
		}
		if first.rejects() {
			// The existing nodes' reason takes the first node's kind and resource.
			reasons = append(reasons, Reason{Kind: first.Kind, Resource: first.Resource, Message: fmt.Sprintf(reasonExistingFormat, rejected, firstNode, first)})
		}
	}
	if len(s.pools) == 0 {
		return append(reasons, Reason{Kind: ReasonNoNodePool, Message: reasonNoNodePool})
	}
	return append(reasons, s.explainNew(p, len(p.prefs))...)
}
