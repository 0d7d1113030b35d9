package disruption

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestEmptyNodeHoldingBufferRoomStays: an empty node whose free room is a CapacityBuffer's is not consolidated (the
// busy node's 3 free CPU cannot hold the 4 CPU chunk, the empty node can); once the buffer is gone it is.
func TestEmptyNodeHoldingBufferRoomStays(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("busy", np, nil)
	f.pod("busy", nil)
	f.claim("room", np, nil)
	cb := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "headroom"},
		Spec: apiv1.CapacityBufferSpec{
			Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			Replicas:  ptr.To[int32](1),
		},
	}
	if err := f.kube.Create(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.kube.Delete(context.WithoutCancel(t.Context()), cb) })

	f.clk.Step(time.Minute) // past consolidateAfter
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v, want nothing: the empty node holds the buffer's room", got)
	}
	if f.exists("room") == nil {
		t.Fatal("the node holding the buffer's room was deleted")
	}

	if err := f.kube.Delete(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
	if got := f.disrupt(); len(got) != 1 || got[0] != "room" {
		t.Fatalf("disrupted %v without the buffer, want [room]", got)
	}
}
