package scheduling

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// randomConsolidation is a cluster of 10–40 nodes of the small catalogue, each filled to a random degree with pods of
// random sizes (some with host ports), every node a candidate of one NodePool with random consolidation terms.
func randomConsolidation(r *rand.Rand) ConsolidationInput {
	types := smallCatalog()
	pool := nodePool("default", types...)
	capacityTypes := []string{apiv1.CapacityTypeOnDemand, apiv1.CapacityTypeSpot}
	if r.IntN(2) == 0 {
		capacityTypes = capacityTypes[:1]
		pool.require(Requirement{Key: apiv1.CapacityTypeLabelKey, Operator: OpIn, Values: capacityTypes})
	}
	// Narrower pools make cheaper replacements rarer; one type only, pods of one size and nodes at least 70% full is
	// `make scale`'s cluster, where room rules out most candidates; two shapes of pods fragment the room.
	minFill, cpus, mems := 0.0, cpuChoices[:4], memChoices[:5]
	switch r.IntN(4) {
	case 1:
		pool.require(Requirement{Key: apiv1.InstanceFamilyLabelKey, Operator: OpIn, Values: []string{"m6"}})
		types = slices.DeleteFunc(slices.Clone(types), func(it *cloudprovider.InstanceType) bool { return it.Labels[apiv1.InstanceFamilyLabelKey] != "m6" })
	case 2:
		pool.require(Requirement{Key: apiv1.InstanceTypeLabelKey, Operator: OpIn, Values: []string{"m6.xlarge"}})
		types = slices.DeleteFunc(slices.Clone(types), func(it *cloudprovider.InstanceType) bool { return it.Name != "m6.xlarge" })
		minFill = 0.7
		i, j := r.IntN(4), r.IntN(5)
		cpus, mems = cpuChoices[i:i+1], memChoices[j:j+1]
	case 3:
		// Fragmented: CPU-heavy and memory-heavy pods leave room that holds neither.
		pool.require(Requirement{Key: apiv1.InstanceTypeLabelKey, Operator: OpIn, Values: []string{"m6.xlarge"}})
		types = slices.DeleteFunc(slices.Clone(types), func(it *cloudprovider.InstanceType) bool { return it.Name != "m6.xlarge" })
		minFill = 0.9
		cpus, mems = []string{"1", "100m"}, []string{"256Mi", "5Gi"}
	}
	in := ConsolidationInput{Snapshot: &Snapshot{NodePools: []*NodePool{pool.obj()}}}
	if r.IntN(2) == 0 {
		in.Snapshot.DaemonSetPods = append(in.Snapshot.DaemonSetPods, pod("ds").req("100m", "128Mi").obj())
	}
	policies := []apiv1.ConsolidationPolicy{apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, apiv1.ConsolidationPolicyBalanced}
	in.Terms = terms(policies[r.IntN(2)], []float64{0, 0.1, 0.3}[r.IntN(3)], []float64{0, 0.01}[r.IntN(2)], 1)
	for i := range 10 + r.IntN(31) {
		it := types[r.IntN(min(len(types), 3+r.IntN(len(types))))]
		ct := capacityTypes[r.IntN(len(capacityTypes))]
		zone := testZones[r.IntN(len(testZones))]
		name := fmt.Sprintf("node-%02d", i)
		alloc := it.Allocatable()
		cpuLeft, memLeft := alloc.Cpu().MilliValue(), alloc.Memory().Value()
		fill := minFill + (1-minFill)*r.Float64()
		var pods []*corev1.Pod
		for j := range 40 {
			b := pod(fmt.Sprintf("%s-p%d", name, j)).req(cpus[r.IntN(len(cpus))], mems[r.IntN(len(mems))])
			if r.IntN(10) == 0 {
				b.hostPort(int32(8000 + r.IntN(2)))
			}
			p := b.obj()
			req := PodRequests(p)
			if float64(req.CPU) > float64(cpuLeft)-(1-fill)*float64(alloc.Cpu().MilliValue()) || req.Memory > memLeft {
				break
			}
			cpuLeft, memLeft = cpuLeft-req.CPU, memLeft-req.Memory
			pods = append(pods, p)
		}
		en := existingNode(name, zone, alloc.Cpu().String(), alloc.Memory().String(), pods...)
		en.Labels[apiv1.InstanceTypeLabelKey] = it.Name
		en.Labels[apiv1.InstanceFamilyLabelKey] = it.Labels[apiv1.InstanceFamilyLabelKey]
		en.Labels[apiv1.CapacityTypeLabelKey] = ct
		en.Labels[apiv1.NodePoolLabelKey] = "default"
		price := 0.0
		for _, o := range it.Offerings {
			if o.Zone == zone && o.CapacityType == ct {
				price = o.PricePerHour
			}
		}
		in.Snapshot.Nodes = append(in.Snapshot.Nodes, en)
		in.Nodes = append(in.Nodes, &Candidate{Node: name, NodeClaim: name, NodePool: "default", CapacityType: ct, Price: price,
			Pods: pods, Eligible: r.IntN(5) > 0})
	}
	return in
}

// TestRoomNeverRulesOutAMove is the property that makes room safe: whenever it rules candidates out without a
// simulation, the simulation finds no move either; and a whole decision is the same with it and without it.
func TestRoomNeverRulesOutAMove(t *testing.T) {
	ruled, simulated := 0, 0
	for seed := range uint64(150) {
		r := newRand(seed)
		in := randomConsolidation(r)
		c := NewConsolidator(in)
		var sets [][]*Candidate
		for _, n := range in.Nodes {
			sets = append(sets, []*Candidate{n})
		}
		for range 20 {
			k := 2 + r.IntN(5)
			perm := r.Perm(len(in.Nodes))[:min(k, len(in.Nodes))]
			var set []*Candidate
			for _, i := range perm {
				set = append(set, in.Nodes[i])
			}
			sets = append(sets, set)
		}
		for _, set := range sets {
			m := c.measure(set)
			m.Required = c.terms["default"].Required(m.Price, m.Disruption, true)
			out, err := c.ruledOut(set, true, m.Price, m.Required)
			if err != nil {
				t.Fatal(err)
			}
			if out {
				ruled++
				move, why, err := c.Evaluate(set)
				if err != nil {
					t.Fatal(err)
				}
				if why == "" {
					t.Errorf("seed %d: room ruled out %v, but the simulation finds a move: %+v", seed, moveNodes(move), move)
				}
			} else {
				simulated++
			}
			out, err = c.ruledOut(set, false, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if out {
				res, err := SimulateRemoval(c.in.Snapshot, set, false)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Unschedulable) == 0 && len(res.NodeClaims) == 0 {
					t.Errorf("seed %d: room says the pods of %v do not fit on the other nodes, but the simulation fits them", seed, nodeNames(set))
				}
			}
		}
		with, err := NewConsolidator(in).Consolidate()
		if err != nil {
			t.Fatal(err)
		}
		plain := NewConsolidator(in)
		plain.noRoom = true
		without, err := plain.Consolidate()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := summarize(with), summarize(without); got != want {
			t.Errorf("seed %d: the decision with room is %s, without %s", seed, got, want)
		}
	}
	t.Logf("room ruled out %d candidate sets, left %d to simulate", ruled, simulated)
	if ruled < 100 || simulated < 100 {
		t.Errorf("room ruled out %d sets and left %d: the clusters do not exercise both sides", ruled, simulated)
	}
}

func nodeNames(cands []*Candidate) []string {
	var out []string
	for _, c := range cands {
		out = append(out, c.Node)
	}
	return out
}

// summarize is a move as the controller acts on it: the nodes, the replacement's types and the saving.
func summarize(m *Move) string {
	if m == nil {
		return "no move"
	}
	s := fmt.Sprintf("remove %v saving %.6f", moveNodes(m), m.Savings)
	if m.Replacement != nil {
		var names []string
		for _, o := range m.Replacement.InstanceTypeOptions {
			names = append(names, o.InstanceType.Name+"/"+o.Offering.Zone+"/"+o.Offering.CapacityType)
		}
		s += fmt.Sprintf(" for one of %v", names)
	}
	return s
}

// TestMemoizedSimulationsMatchFresh: simulations on a memoized snapshot share its prepared nodes, and place pods
// on copies of them; a sequence of them must plan exactly as each would on a fresh snapshot, so no simulation
// leaves a trace in the memo for the next.
func TestMemoizedSimulationsMatchFresh(t *testing.T) {
	for seed := range uint64(40) {
		r := newRand(seed)
		in := randomConsolidation(r)
		memo := in.Snapshot.memoize()
		for i := range 30 {
			set := []*Candidate{in.Nodes[r.IntN(len(in.Nodes))]}
			for range r.IntN(4) {
				set = append(set, in.Nodes[r.IntN(len(in.Nodes))])
			}
			launch := i%2 == 0
			want, err := SimulateRemoval(in.Snapshot, set, launch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SimulateRemoval(memo, set, launch)
			if err != nil {
				t.Fatal(err)
			}
			if planText(got) != planText(want) {
				t.Fatalf("seed %d, simulation %d (removing %v, launch %v): memoized plan\n%s\nfresh plan\n%s", seed, i, nodeNames(set), launch, planText(got), planText(want))
			}
		}
	}
}
