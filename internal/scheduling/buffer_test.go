package scheduling

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// bufferPods are n virtual pods of buffer name, each asking for cpu and mem.
func bufferPods(name string, n int, cpu, mem string) []*corev1.Pod {
	return replicas(n, "capacitybuffer-"+name, func(p string) *podBuilder {
		return pod(p).req(cpu, mem).label(apiv1.CapacityBufferLabelKey, name)
	})
}

// TestBufferPodsFillFreeRoom: a buffer that fits on an existing node's free room is placed there and buys nothing.
func TestBufferPodsFillFreeRoom(t *testing.T) {
	snap := &Snapshot{
		Nodes:     []*ExistingNode{existingNode("node-a", "test-1a", "8", "32Gi")},
		NodePools: []*NodePool{nodePool("default", smallCatalog()...).obj()},
	}
	r := solve(t, snap, bufferPods("room", 8, "1", "1Gi"), Options{})
	want := []string{"existing node-a: capacitybuffer-room-0,capacitybuffer-room-1,capacitybuffer-room-2,capacitybuffer-room-3,capacitybuffer-room-4,capacitybuffer-room-5,capacitybuffer-room-6,capacitybuffer-room-7"}
	if diff := cmp.Diff(want, summary(r)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// TestRealPodsTakeBufferRoomFirst: the buffer's 8 CPU chunk is larger than the real pods, yet the real pods get the
// existing node's room and the buffer gets a new node.
func TestRealPodsTakeBufferRoomFirst(t *testing.T) {
	snap := &Snapshot{
		Nodes:     []*ExistingNode{existingNode("node-a", "test-1a", "8", "32Gi")},
		NodePools: []*NodePool{nodePool("default", smallCatalog()...).obj()},
	}
	pods := append(bufferPods("room", 1, "8", "8Gi"), replicas(4, "web", func(p string) *podBuilder { return pod(p).req("1", "1Gi") })...)
	r := solve(t, snap, pods, Options{})
	if len(r.ExistingNodes) != 1 {
		t.Fatalf("plan %v: want the real pods on node-a", summary(r))
	}
	if got := fmt.Sprint(WithoutBufferPods(r.ExistingNodes[0].Pods)); len(r.ExistingNodes[0].Pods) != 4 || len(WithoutBufferPods(r.ExistingNodes[0].Pods)) != 4 {
		t.Errorf("node-a holds %v, want the four web pods", got)
	}
	if len(r.NodeClaims) != 1 || len(r.NodeClaims[0].Pods) != 1 || !IsBufferPod(r.NodeClaims[0].Pods[0]) {
		t.Errorf("plan %v: want one new NodeClaim for the buffer pod", summary(r))
	}
}

// TestBufferRoom names the nodes whose free room holds a buffer, never opening capacity: an empty node whose room is
// the buffer's is held, a second empty node is not, and what fits nowhere is returned.
func TestBufferRoom(t *testing.T) {
	snap := &Snapshot{
		Nodes: []*ExistingNode{
			existingNode("node-a", "test-1a", "4", "16Gi", pod("busy").req("3", "1Gi").obj()),
			existingNode("node-b", "test-1a", "8", "32Gi"),
			existingNode("node-c", "test-1a", "8", "32Gi"),
		},
		NodePools: []*NodePool{nodePool("default", smallCatalog()...).obj()},
	}
	held, homeless, err := BufferRoom(snap, append(bufferPods("big", 1, "8", "1Gi"), bufferPods("huge", 1, "64", "1Gi")...))
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || len(held["node-b"]) != 1 {
		t.Errorf("held = %v, want the 8 CPU chunk on node-b only", held)
	}
	if len(homeless) != 1 || homeless[0].Name != "capacitybuffer-huge-0" {
		t.Errorf("homeless = %v, want the 64 CPU chunk", homeless)
	}
}
