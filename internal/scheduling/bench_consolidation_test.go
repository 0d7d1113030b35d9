package scheduling

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// consolidationSizes are the cluster sizes of issue #18's consolidation target (a pass over 5,000 nodes under 10 s).
var consolidationSizes = []int{1000, 5000}

// scaleCluster is n m5.xlarge on-demand nodes of the embedded catalogue, as `make scale` builds them, each holding
// the pods podsOf makes for it, every node a candidate; the NodePool may launch the types pool lists.
func scaleCluster(tb testing.TB, n int, podsOf func(node string, alloc corev1.ResourceList) []*corev1.Pod, pool func(types []*cloudprovider.InstanceType) []*cloudprovider.InstanceType) ConsolidationInput {
	tb.Helper()
	types := catalogTypes(tb)
	i := slices.IndexFunc(types, func(it *cloudprovider.InstanceType) bool { return it.Name == "m5.xlarge" })
	if i < 0 {
		tb.Fatal("m5.xlarge is not in the embedded catalogue")
	}
	m5 := types[i]
	price := 0.0
	for _, o := range m5.Offerings {
		if o.CapacityType == apiv1.CapacityTypeOnDemand && o.Zone == "us-east-1a" {
			price = o.PricePerHour
		}
	}
	onDemand := Requirement{Key: apiv1.CapacityTypeLabelKey, Operator: OpIn, Values: []string{apiv1.CapacityTypeOnDemand}}
	in := ConsolidationInput{Snapshot: &Snapshot{NodePools: []*NodePool{nodePool("default", pool(types)...).require(onDemand).obj()}}}
	alloc := m5.Allocatable()
	for i := range n {
		name := fmt.Sprintf("node-%05d", i)
		pods := podsOf(name, alloc)
		en := existingNode(name, "us-east-1a", alloc.Cpu().String(), alloc.Memory().String(), pods...)
		en.Labels[apiv1.InstanceTypeLabelKey] = m5.Name
		en.Labels[apiv1.CapacityTypeLabelKey] = apiv1.CapacityTypeOnDemand
		en.Labels[apiv1.NodePoolLabelKey] = "default"
		in.Snapshot.Nodes = append(in.Snapshot.Nodes, en)
		in.Nodes = append(in.Nodes, &Candidate{Node: name, NodeClaim: name, NodePool: "default", CapacityType: apiv1.CapacityTypeOnDemand,
			Price: price, Pods: pods, Eligible: true})
	}
	return in
}

// inflate is k pods of `make scale`'s Deployment: 380m CPU and 256Mi (10 fill an m5.xlarge).
func inflate(k int) func(string, corev1.ResourceList) []*corev1.Pod {
	return func(node string, _ corev1.ResourceList) []*corev1.Pod {
		return replicas(k, node+"-pod", func(name string) *podBuilder { return pod(name).req("380m", "256Mi").label("app", "inflate") })
	}
}

// fragmented leaves every node room in each resource for several of the smallest requests but for none of the
// pods: three of 1 CPU and 256Mi, and two of 100m and two fifths of the memory the others leave, so 720m CPU and
// half a memory-heavy pod stay free. The room sums rule nothing out and every candidate is simulated.
func fragmented(node string, alloc corev1.ResourceList) []*corev1.Pod {
	heavy := (alloc.Memory().Value() - 3*256<<20) * 2 / 5
	pods := replicas(3, node+"-cpu", func(name string) *podBuilder { return pod(name).req("1", "256Mi").label("app", "cpu") })
	return append(pods, replicas(2, node+"-mem", func(name string) *podBuilder {
		return pod(name).req("100m", fmt.Sprint(heavy)).label("app", "mem")
	})...)
}

func onlyM5xlarge(types []*cloudprovider.InstanceType) []*cloudprovider.InstanceType {
	return slices.DeleteFunc(slices.Clone(types), func(it *cloudprovider.InstanceType) bool { return it.Name != "m5.xlarge" })
}

func wholeCatalogue(types []*cloudprovider.InstanceType) []*cloudprovider.InstanceType { return types }

// BenchmarkConsolidate runs one consolidation decision (Consolidator.Consolidate, what the disruption controller runs
// each pass) over clusters of 1,000 and 5,000 nodes:
//   - full: every node full (10 pods) and the NodePool limited to the nodes' own type, so no move exists and every
//     candidate is simulated: the worst case, and what `make scale` measures;
//   - full-catalogue: the same nodes with the whole catalogue allowed, where a cheaper type holds a node's pods;
//   - half: every node half full, so nodes can be deleted onto the others' room;
//   - fragmented: every node with room for none of the pods, though the sums and counts of room say some might
//     fit, so every candidate is simulated: the worst case for the pass.
//
// It reports nodes/s and, for the record, the move found (nodes removed, replaced or not).
func BenchmarkConsolidate(b *testing.B) {
	for _, sc := range []struct {
		name string
		pods func(string, corev1.ResourceList) []*corev1.Pod
		pool func([]*cloudprovider.InstanceType) []*cloudprovider.InstanceType
	}{
		{"full", inflate(10), onlyM5xlarge},
		{"full-catalogue", inflate(10), wholeCatalogue},
		{"half", inflate(5), onlyM5xlarge},
		{"fragmented", fragmented, onlyM5xlarge},
	} {
		for _, n := range consolidationSizes {
			b.Run(fmt.Sprintf("%s/nodes=%d", sc.name, n), func(b *testing.B) {
				in := scaleCluster(b, n, sc.pods, sc.pool)
				var move *Move
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					var err error
					if move, err = NewConsolidator(in).Consolidate(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
				removed, replaced := 0, 0
				if move != nil {
					removed = len(move.Candidates)
					if !move.Delete() {
						replaced = 1
					}
				}
				b.ReportMetric(float64(removed), "removed")
				b.ReportMetric(float64(replaced), "replaced")
			})
		}
	}
}
