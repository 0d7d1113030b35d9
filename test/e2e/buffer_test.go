package e2e

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestCapacityBufferHeadroom: a CapacityBuffer of 8 CPU keeps a node Ready with nothing running on it (and
// consolidation, WhenEmpty after 0s, leaves it); scaling a deployment to 4 × 1 CPU runs every pod on that node within
// 3 s with no launch; the pods took the buffer's room (12 vCPU node: 8 + 4 no longer fit), so a new NodeClaim restores
// it, and that node is kept too.
func TestCapacityBufferHeadroom(t *testing.T) {
	kube, cs, _ := disruptionStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	createNodePool(t, kube, `
metadata: {name: headroom}
spec:
  template:
    metadata: {labels: {example.com/pool: headroom}}
    spec:
      requirements:
        - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5zn.3xlarge]}
  disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 0s}
`)
	ns := createNamespace(t, cs, "headroom")
	cb := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "burst"},
		Spec: apiv1.CapacityBufferSpec{
			Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")},
			Replicas:  ptr.To[int32](1),
		},
	}
	if err := kube.Create(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
	// Runs before waitNoNodeClaims: with the buffer gone nothing buys its room again.
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), cb) })

	readyNodes := func(ctx context.Context) []corev1.Node {
		list := &corev1.NodeList{}
		if err := kube.List(ctx, list, client.MatchingLabels{apiv1.NodePoolLabelKey: "headroom"}); err != nil {
			return nil
		}
		var out []corev1.Node
		for _, n := range list.Items {
			if nodeReady(&n) == corev1.ConditionTrue && n.DeletionTimestamp.IsZero() && !n.Spec.Unschedulable && len(n.Spec.Taints) == 0 {
				out = append(out, n)
			}
		}
		return out
	}
	start := time.Now()
	testenv.WaitFor(t, 2*time.Minute, "a Ready node holding the buffer", func(ctx context.Context) bool {
		return len(readyNodes(ctx)) == 1
	})
	t.Logf("buffer node Ready %.1fs after the CapacityBuffer was created", time.Since(start).Seconds())
	waitForEvent(t, cs, ns, "a BufferProvisioned event on the buffer", func(ev eventsv1.Event) bool {
		return ev.Reason == "BufferProvisioned" && ev.Regarding.Name == "burst"
	})
	// Empty but for the buffer: consolidation keeps it, and nothing more is bought.
	expectNodeClaims(t, kube, 1, 8*time.Second)
	bufferNode := readyNodes(t.Context())[0].Name
	got := &apiv1.CapacityBuffer{}
	if err := kube.Get(t.Context(), client.ObjectKeyFromObject(cb), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Replicas == nil || *got.Status.Replicas != 1 || !got.StatusConditions().IsTrue(apiv1.ConditionTypeReady) {
		t.Errorf("buffer status = %+v, want 1 replica and Ready", got.Status)
	}

	d := workload(ns, "burst", "headroom", 0, "1")
	createDeployment(t, cs, d)
	scaled := time.Now()
	scaleDeployment(t, cs, ns, "burst", 4)
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 3*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		live := livePods(list.Items, "burst")
		if len(live) != 4 {
			return false, nil
		}
		for _, p := range live {
			if !running(p) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("4 pods not Running within 3s of the scale-up: %v", err)
	}
	took := time.Since(scaled)
	claims := poolClaims(t, kube, "headroom")
	t.Logf("4 pods Running %.2fs after the scale-up; %d nodeclaim(s) then", took.Seconds(), len(claims))
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range livePods(pods.Items, "burst") {
		if p.Spec.NodeName != bufferNode {
			t.Errorf("pod %s ran on %s, want the buffer's node %s", p.Name, p.Spec.NodeName, bufferNode)
		}
	}
	for _, nc := range claims {
		if nc.CreationTimestamp.After(scaled.Add(-time.Second)) && nc.CreationTimestamp.Time.Before(scaled.Add(took)) {
			t.Errorf("nodeclaim %s was launched for the scale-up; the buffer's node should have taken the pods", nc.Name)
		}
	}

	// The pods took the buffer's room: a new node restores it, and it is kept although empty.
	testenv.WaitFor(t, 2*time.Minute, "a second Ready node restoring the buffer", func(ctx context.Context) bool {
		return len(readyNodes(ctx)) == 2
	})
	t.Logf("buffer restored (second node Ready) %.1fs after the scale-up", time.Since(scaled).Seconds())
	expectNodeClaims(t, kube, 2, 8*time.Second)
	// Both launches were for the buffer, and say so on the NodeClaim (the events of one buffer form one series).
	for _, nc := range poolClaims(t, kube, "headroom") {
		if got := nc.Annotations[apiv1.CapacityBuffersAnnotationKey]; got != ns+"/burst" {
			t.Errorf("nodeclaim %s: %s = %q, want %s/burst", nc.Name, apiv1.CapacityBuffersAnnotationKey, got, ns)
		}
	}
}
