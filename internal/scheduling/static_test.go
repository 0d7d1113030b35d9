package scheduling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestPlanStatic(t *testing.T) {
	types := smallCatalog()
	cheapest := func(r *Results) map[string]int {
		got := map[string]int{}
		for _, nc := range r.NodeClaims {
			got[nc.Cheapest().InstanceType.Name]++
		}
		return got
	}
	t.Run("one node per replica, the cheapest type", func(t *testing.T) {
		pool := nodePool("static", types...).obj()
		r, err := PlanStatic(pool, nil, 3, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.NodeClaims) != 3 || len(r.Unschedulable) != 0 {
			t.Fatalf("planned %d nodes (%d unschedulable), want 3", len(r.NodeClaims), len(r.Unschedulable))
		}
		want := "c6.large" // $0.085/h on demand, $0.034/h spot: the cheapest of the catalogue
		if got := cheapest(r); got[want] != 3 {
			t.Errorf("cheapest types %v, want 3 × %s", got, want)
		}
	})
	t.Run("a limit stops the count", func(t *testing.T) {
		pool := nodePool("static", types...).limit(corev1.ResourceCPU, "4").obj()
		r, err := PlanStatic(pool, nil, 10, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var cpu int64
		for _, nc := range r.NodeClaims {
			cpu += nc.Cheapest().InstanceType.Capacity.Cpu().MilliValue()
		}
		if cpu > 4000 || len(r.NodeClaims) == 0 {
			t.Errorf("planned %d nodes with %dm cpu under a 4-cpu limit", len(r.NodeClaims), cpu)
		}
		if len(r.NodeClaims)+len(r.Unschedulable) != 10 {
			t.Errorf("%d planned + %d unschedulable, want 10 in all", len(r.NodeClaims), len(r.Unschedulable))
		}
	})
	t.Run("room for the DaemonSets", func(t *testing.T) {
		pool := nodePool("static", types...).obj()
		ds := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("6Gi")}}}}}}
		r, err := PlanStatic(pool, []*corev1.Pod{ds}, 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.NodeClaims) != 1 {
			t.Fatalf("planned %d nodes, want 1", len(r.NodeClaims))
		}
		if mem := r.NodeClaims[0].Cheapest().InstanceType.Capacity.Memory(); mem.Cmp(resource.MustParse("6Gi")) < 0 {
			t.Errorf("chose %s with %s allocatable memory for a 6Gi DaemonSet", r.NodeClaims[0].Cheapest().InstanceType.Name, mem)
		}
	})
	t.Run("zero replicas plan nothing", func(t *testing.T) {
		r, err := PlanStatic(nodePool("static", types...).obj(), nil, 0, Options{})
		if err != nil || len(r.NodeClaims) != 0 {
			t.Errorf("got %v, %v; want no nodes", r, err)
		}
	})
}
