package scheduling

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// heldBack is make scale's pending phase: n full m5.xlarge nodes, and pending pods of the same Deployment that a
// NodePool limit of 0 CPU keeps from any new node.
func heldBack(tb testing.TB, nodes, pending int) (*Snapshot, []*corev1.Pod) {
	tb.Helper()
	in := scaleCluster(tb, nodes, inflate(10), onlyM5xlarge)
	types := onlyM5xlarge(catalogTypes(tb))
	in.Snapshot.NodePools = []*NodePool{nodePool("default", types...).limit(corev1.ResourceCPU, "0").obj()}
	pods := replicas(pending, "pending", func(name string) *podBuilder { return pod(name).req("380m", "256Mi").label("app", "inflate") })
	return in.Snapshot, pods
}

// TestHeldBackPodsExplainedAlike: pods alike (the same requests, constraints and labels) that fit nowhere get the
// same reasons, each as it would alone, and pods of another shape get their own.
func TestHeldBackPodsExplainedAlike(t *testing.T) {
	snap, pods := heldBack(t, 20, 5)
	big := pod("big").req("100m", "64Gi").label("app", "big").obj()
	pods = append(pods, big)
	res, err := Solve(snap, pods, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unschedulable) != len(pods) {
		t.Fatalf("%d pods unschedulable, want all %d", len(res.Unschedulable), len(pods))
	}
	for _, u := range res.Unschedulable {
		alone, err := Solve(snap, []*corev1.Pod{u.Pod}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if want := alone.Unschedulable[0].Reasons; !reflect.DeepEqual(u.Reasons, want) {
			t.Errorf("pod %s: reasons %v, alone %v", u.Pod.Name, ReasonStrings(u.Reasons), ReasonStrings(want))
		}
	}
	if a, b := res.Unschedulable[0].Reasons, res.Unschedulable[len(pods)-1].Reasons; reflect.DeepEqual(a, b) {
		t.Errorf("a pod of another shape got the same reasons: %v", ReasonStrings(a))
	}
}

// BenchmarkSolveHeldBack is one provisioning decision of make scale's pending phase: every pending pod is tried on
// every full node and explained. Explaining each pod checked it against every node again: 10,000 pods at 1,000 nodes
// took seconds.
func BenchmarkSolveHeldBack(b *testing.B) {
	for _, sz := range []struct{ nodes, pending int }{{1000, 10000}, {2000, 10000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", sz.nodes, sz.pending), func(b *testing.B) {
			snap, pods := heldBack(b, sz.nodes, sz.pending)
			b.ReportAllocs()
			for b.Loop() {
				res, err := Solve(snap, pods, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Unschedulable) != sz.pending {
					b.Fatalf("%d unschedulable, want %d", len(res.Unschedulable), sz.pending)
				}
			}
		})
	}
}
