package scheduling

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// laneCatalog prices cpu and memory alike in two families: r (8 GiB per vCPU) and x (16 GiB per vCPU).
func laneCatalog() []*cloudprovider.InstanceType {
	price := func(cpu, gi int64) float64 { return 0.02*float64(cpu) + 0.005*float64(gi) }
	var out []*cloudprovider.InstanceType
	for _, cpu := range []int64{4, 8, 16} {
		out = append(out,
			instanceType("r6."+itoa(int(cpu))+"x", cpu, cpu*8, price(cpu, cpu*8)).obj(),
			instanceType("x6."+itoa(int(cpu))+"x", cpu, cpu*16, price(cpu, cpu*16)).obj())
	}
	return out
}

// TestLanesSplitAcrossFamilies: half the pods want 4 GiB per vCPU and half 15. One family for all wastes cpu (r) or
// memory (x); two lanes put the light pods on r nodes, with a few memory-heavy ones to fill their memory, and the
// rest of the memory-heavy pods on x nodes, near the LP bound.
func TestLanesSplitAcrossFamilies(t *testing.T) {
	var pods []*corev1.Pod
	pods = append(pods, replicas(60, "light", func(n string) *podBuilder { return pod(n).req("1", "4Gi") })...)
	pods = append(pods, replicas(60, "heavy", func(n string) *podBuilder { return pod(n).req("2", "30Gi") })...)
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", laneCatalog()...).obj()}}
	r := solve(t, snap, pods, Options{})
	heavyOnX := 0
	for _, c := range r.NodeClaims {
		family, _, _ := strings.Cut(c.Cheapest().InstanceType.Name, ".")
		for _, p := range c.Pods {
			switch heavy := strings.HasPrefix(p.Name, "heavy"); {
			case !heavy && family != "r6":
				t.Errorf("light pod %s is on %s, want family r6", p.Name, c.Cheapest().InstanceType.Name)
			case heavy && family == "x6":
				heavyOnX++
			}
		}
	}
	if heavyOnX < 40 {
		t.Errorf("%d of 60 memory-heavy pods are on x6 nodes, want most (%v)", heavyOnX, typeCounts(r))
	}
	bound, err := LowerBound(snap, r.PlacedOnNewCapacity())
	if err != nil {
		t.Fatal(err)
	}
	if ratio := r.TotalPricePerHour() / bound; ratio > 1.03 {
		t.Errorf("plan is %.3f× the bound, want ≤ 1.03 (%v)", ratio, typeCounts(r))
	}
}

// TestLanesLeaveUniformClassesAlone: pods of one shape are never split, whatever the catalogue.
func TestLanesLeaveUniformClassesAlone(t *testing.T) {
	pods := replicas(200, "p", func(n string) *podBuilder { return pod(n).req("2", "30Gi") })
	if _, ok := bestCut(toInfos(pods), []laneCandidate{{t: &typeInfo{alloc: Resources{CPU: 16000, Memory: 128 << 30, Pods: 110}}, price: 1}, {t: &typeInfo{alloc: Resources{CPU: 16000, Memory: 256 << 30, Pods: 110}}, price: 1.6}}); ok {
		t.Error("a class of identical pods was split")
	}
}

func toInfos(pods []*corev1.Pod) []*podInfo {
	out := make([]*podInfo, len(pods))
	for i, p := range pods {
		out[i] = &podInfo{pod: p, requests: PodRequests(p)}
	}
	return out
}
