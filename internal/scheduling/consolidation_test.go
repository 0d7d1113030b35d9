package scheduling

import (
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// consolidationCluster is n nodes of type it in test-1a, each with the pods podsPerNode builds, all eligible.
func consolidationCluster(it *cloudprovider.InstanceType, n int, podsPerNode func(node int) []*corev1.Pod, types ...*cloudprovider.InstanceType) ConsolidationInput {
	onDemand := Requirement{Key: apiv1.CapacityTypeLabelKey, Operator: OpIn, Values: []string{apiv1.CapacityTypeOnDemand}}
	in := ConsolidationInput{Snapshot: &Snapshot{NodePools: []*NodePool{nodePool("default", types...).require(onDemand).obj()}}}
	for i := range n {
		name := fmt.Sprintf("node-%d", i)
		pods := podsPerNode(i)
		alloc := it.Allocatable()
		en := existingNode(name, "test-1a", alloc.Cpu().String(), alloc.Memory().String(), pods...)
		en.Labels[apiv1.InstanceTypeLabelKey] = it.Name
		en.Labels[apiv1.CapacityTypeLabelKey] = apiv1.CapacityTypeOnDemand
		in.Snapshot.Nodes = append(in.Snapshot.Nodes, en)
		in.Nodes = append(in.Nodes, &Candidate{Node: name, NodeClaim: name, NodePool: "default", CapacityType: apiv1.CapacityTypeOnDemand,
			Price: it.Offerings[0].PricePerHour, Pods: pods, Eligible: true})
	}
	return in
}

func terms(policy apiv1.ConsolidationPolicy, frac, hourly, k float64) map[string]apiv1.ConsolidationTerms {
	return map[string]apiv1.ConsolidationTerms{"default": {Policy: policy, SavingsFraction: frac, MinimumHourly: hourly, BalanceFactor: k}}
}

func moveNodes(m *Move) []string {
	var out []string
	for _, c := range m.Candidates {
		out = append(out, c.Node)
	}
	return out
}

// TestConsolidateThreeIntoOne: three nodes, each a bit over half full with one pod, cannot give up any node to the
// others; one node of twice the size holds all three pods for two thirds of the price.
func TestConsolidateThreeIntoOne(t *testing.T) {
	xlarge := instanceType("m6.xlarge", 4, 16, 0.192).obj()
	xxlarge := instanceType("m6.2xlarge", 8, 32, 0.384).obj()
	in := consolidationCluster(xlarge, 3, func(i int) []*corev1.Pod {
		return []*corev1.Pod{pod(fmt.Sprintf("p%d", i)).req("2500m", "4Gi").obj()}
	}, xlarge, xxlarge)
	in.Terms = terms(apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, 0.1, 0.01, 2)
	m, err := NewConsolidator(in).Consolidate()
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || m.Delete() {
		t.Fatalf("move = %+v, want a replacement of the three nodes", m)
	}
	if diff := cmp.Diff([]string{"node-0", "node-1", "node-2"}, moveNodes(m)); diff != "" {
		t.Errorf("candidates (-want +got):\n%s", diff)
	}
	if got := m.Replacement.Cheapest().InstanceType.Name; got != "m6.2xlarge" {
		t.Errorf("replacement %s, want m6.2xlarge", got)
	}
	if math.Abs(m.Savings-0.192) > 1e-9 {
		t.Errorf("savings $%.4f/h, want $0.192/h", m.Savings)
	}
}

// TestMultiNodeCap: with the cap at 2, the binary search takes at most two nodes.
func TestMultiNodeCap(t *testing.T) {
	xlarge := instanceType("m6.xlarge", 4, 16, 0.192).obj()
	xxlarge := instanceType("m6.2xlarge", 8, 32, 0.384).obj()
	in := consolidationCluster(xlarge, 3, func(i int) []*corev1.Pod {
		return []*corev1.Pod{pod(fmt.Sprintf("p%d", i)).req("2500m", "4Gi").obj()}
	}, xlarge, xxlarge)
	in.Terms = terms(apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, 0, 0, 2)
	in.MaxCandidates = 2
	m, err := NewConsolidator(in).Consolidate()
	if err != nil {
		t.Fatal(err)
	}
	// Two 2.5-CPU pods need 5 CPUs: the 2xlarge, at the price of the two nodes, saves nothing.
	if m != nil {
		t.Fatalf("move of %v, want none: with two candidates no cheaper node holds their pods", moveNodes(m))
	}
}

// TestThresholdRefusesSmallSaving: replacing a node by a 4% cheaper one is taken with no threshold and refused by a
// 10% one, and by a minimum above the saving.
func TestThresholdRefusesSmallSaving(t *testing.T) {
	m7i := instanceType("m7i.xlarge", 4, 16, 0.2016).obj()
	m6a := instanceType("m6a.xlarge", 4, 16, 0.1936).obj()
	for _, tt := range []struct {
		name         string
		frac, hourly float64
		want         bool
	}{
		{"no threshold", 0, 0, true},
		{"10%", 0.10, 0, false},
		{"3%", 0.03, 0, true},
		{"$0.01/h", 0, 0.01, false},
		{"$0.005/h", 0, 0.005, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := consolidationCluster(m7i, 1, func(int) []*corev1.Pod {
				return []*corev1.Pod{pod("p").req("3", "8Gi").obj()}
			}, m7i, m6a)
			in.Terms = terms(apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, tt.frac, tt.hourly, 2)
			m, err := NewConsolidator(in).Consolidate()
			if err != nil {
				t.Fatal(err)
			}
			if got := m != nil; got != tt.want {
				t.Fatalf("move taken = %v, want %v (%+v)", got, tt.want, m)
			}
		})
	}
}

// TestBalanced: in a pool of four equal nodes, replacing a node by one of a quarter of its price passes at k=2;
// replacing it by one at 80% of its price does not (score 0.2·4/… < 1/2); k=5 takes that too.
func TestBalanced(t *testing.T) {
	big := instanceType("m6.2xlarge", 8, 32, 0.40).obj()
	small := instanceType("m6.large", 2, 8, 0.10).obj()
	nearly := instanceType("m7.2xlarge", 8, 32, 0.32).obj()
	four := func(node int) []*corev1.Pod {
		var pods []*corev1.Pod
		n := 4
		cpu := "1900m"
		if node == 0 {
			n, cpu = 1, "1" // fits on the small type
		}
		for j := range n {
			pods = append(pods, pod(fmt.Sprintf("p%d-%d", node, j)).req(cpu, "1Gi").obj())
		}
		return pods
	}
	for _, tt := range []struct {
		name      string
		types     []*cloudprovider.InstanceType
		k         float64
		wantType  string // "" for no move
		wantScore float64
	}{
		// Savings 0.30 of 1.60; disruption 2 of 2+5+5+5 = 17 (node 0's pod fits on no other node): score (0.30/1.60)/(2/17) = 1.59.
		{"good move", []*cloudprovider.InstanceType{big, small}, 2, "m6.large", 1.59},
		// Savings 0.08 of 1.60; score (0.08/1.60)/(2/17) = 0.425 < 0.5.
		{"poor move", []*cloudprovider.InstanceType{big, nearly}, 2, "", 0},
		{"poor move, k=3", []*cloudprovider.InstanceType{big, nearly}, 3, "m7.2xlarge", 0.425},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := consolidationCluster(big, 4, four, tt.types...)
			for _, n := range in.Nodes[1:] {
				n.Eligible = false // full enough that only node-0 is a candidate
			}
			in.Terms = terms(apiv1.ConsolidationPolicyBalanced, 0, 0, tt.k)
			m, err := NewConsolidator(in).Consolidate()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantType == "" {
				if m != nil {
					t.Fatalf("took a move of score %.3f, want none", m.Score)
				}
				return
			}
			if m == nil || m.Delete() {
				t.Fatalf("move = %+v, want a replacement", m)
			}
			if got := m.Replacement.Cheapest().InstanceType.Name; got != tt.wantType {
				t.Errorf("replacement %s, want %s", got, tt.wantType)
			}
			if math.Abs(m.Score-tt.wantScore) > 0.01 {
				t.Errorf("score %.3f, want %.3f", m.Score, tt.wantScore)
			}
		})
	}
}

// TestBalancedWeighsEvictionCost: the same delete passes for cheap pods and is refused for pods with a high
// pod-deletion-cost, a high priority, and passes again when the node is near its expiry.
func TestBalancedWeighsEvictionCost(t *testing.T) {
	it := instanceType("m6.xlarge", 4, 16, 0.20).obj()
	for _, tt := range []struct {
		name    string
		mutate  func(p *corev1.Pod)
		elapsed float64
		want    bool
	}{
		{"default pods", func(*corev1.Pod) {}, 0, true},
		{"pod-deletion-cost", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": "2147483647"}
		}, 0, false},
		{"priority", func(p *corev1.Pod) { p.Spec.Priority = ptr.To[int32](2000000000) }, 0, false},
		{"costly pods near expiry", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": "2147483647"}
		}, 0.95, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Node 0 has three small pods that fit on the others; nodes 1-3 carry one pod each.
			in := consolidationCluster(it, 4, func(node int) []*corev1.Pod {
				if node > 0 {
					return []*corev1.Pod{pod(fmt.Sprintf("q%d", node)).req("1", "1Gi").obj()}
				}
				var pods []*corev1.Pod
				for j := range 3 {
					p := pod(fmt.Sprintf("p%d", j)).req("500m", "1Gi").obj()
					tt.mutate(p)
					pods = append(pods, p)
				}
				return pods
			}, it)
			for _, n := range in.Nodes[1:] {
				n.Eligible = false
			}
			in.Nodes[0].LifetimeElapsed = tt.elapsed
			in.Terms = terms(apiv1.ConsolidationPolicyBalanced, 0, 0, 2)
			m, err := NewConsolidator(in).Consolidate()
			if err != nil {
				t.Fatal(err)
			}
			if got := m != nil; got != tt.want {
				t.Fatalf("move taken = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPodDisruptionCost(t *testing.T) {
	for _, tt := range []struct {
		name     string
		priority *int32
		cost     string
		want     float64
	}{
		{"default", nil, "", 1},
		{"deletion cost 2^27", nil, "134217728", 2},
		{"priority 2^25", ptr.To[int32](1 << 25), "", 2},
		{"clamped high", ptr.To[int32](2000000000), "", 10},
		{"clamped at zero", nil, "-2147483648", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := pod("p").obj()
			p.Spec.Priority = tt.priority
			if tt.cost != "" {
				p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": tt.cost}
			}
			if got := PodDisruptionCost(p); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("PodDisruptionCost = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestConsolidationKeepsRoomForPendingPods: during a scale-up the new nodes are up before the kube-scheduler has
// bound the pods they were bought for. Their room belongs to those pending pods: consolidation must not move the
// pods of older nodes onto it (at 1,000 nodes in `make scale` it deleted 100 full nodes that way, and their 1,000
// pods then needed 100 new nodes). With the pending pods gone, the same move is taken.
func TestConsolidationKeepsRoomForPendingPods(t *testing.T) {
	xlarge := instanceType("m6.xlarge", 4, 16, 0.192).obj()
	in := consolidationCluster(xlarge, 3, func(i int) []*corev1.Pod {
		if i == 2 {
			return nil // the new node: empty until its pods are bound
		}
		return []*corev1.Pod{pod(fmt.Sprintf("old-%d", i)).req("2500m", "2Gi").obj()}
	}, xlarge)
	in.Nodes = in.Nodes[:2] // the new node is no candidate (it waits out consolidateAfter)
	in.Terms = terms(apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, 0, 0, 1)
	// Too big for the older nodes' room: they are what the new node was bought for.
	in.Pending = []*corev1.Pod{pod("new-0").req("2", "2Gi").obj(), pod("new-1").req("2", "2Gi").obj()}
	m, err := NewConsolidator(in).Consolidate()
	if err != nil {
		t.Fatal(err)
	}
	if m != nil {
		t.Errorf("consolidation took %v (delete %v) onto the room of the pending pods; want no move", moveNodes(m), m.Delete())
	}
	in.Pending = nil
	if m, err = NewConsolidator(in).Consolidate(); err != nil {
		t.Fatal(err)
	}
	if m == nil || !m.Delete() {
		t.Errorf("without pending pods the move is %+v, want a node deleted onto the new node's room", m)
	}
}
