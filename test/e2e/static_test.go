package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestStaticNodePool: `kubectl scale nodepool static --replicas 3` gives 3 Ready nodes with no pod asking for them;
// a pod selecting the pool runs on one of them without a launch; scaling to 1 leaves 1 node, the busy one kept.
func TestStaticNodePool(t *testing.T) {
	kube, cs, _ := disruptionStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	createNodePool(t, kube, `
metadata: {name: static}
spec:
  replicas: 0
  template:
    metadata: {labels: {example.com/pool: static}}
    spec:
      requirements:
        - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: tailor.sh/instance-family, operator: In, values: [m5]}
`)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", env.KubeconfigPath}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	readyNodes := func(ctx context.Context) []corev1.Node {
		list := &corev1.NodeList{}
		if err := kube.List(ctx, list, client.MatchingLabels{apiv1.NodePoolLabelKey: "static"}); err != nil {
			return nil
		}
		var out []corev1.Node
		for _, n := range list.Items {
			if nodeReady(&n) == corev1.ConditionTrue && n.DeletionTimestamp.IsZero() && !n.Spec.Unschedulable {
				out = append(out, n)
			}
		}
		return out
	}

	start := time.Now()
	kubectl("scale", "nodepool", "static", "--replicas", "3")
	testenv.WaitFor(t, 2*time.Minute, "3 Ready nodes in the static pool", func(ctx context.Context) bool {
		return len(readyNodes(ctx)) == 3
	})
	t.Logf("3 static nodes Ready %.1fs after kubectl scale", time.Since(start).Seconds())
	for _, n := range readyNodes(t.Context()) {
		if it := n.Labels[corev1.LabelInstanceTypeStable]; it != "m5.large" {
			t.Errorf("static node %s is %s, want the cheapest m5 (m5.large)", n.Name, it)
		}
	}
	// Nothing consolidates them while they stay empty (the default Balanced policy, consolidateAfter 0s).
	time.Sleep(10 * time.Second) // the assertion is that nothing happens for a while
	if claims := poolClaims(t, kube, "static"); len(claims) != 3 {
		t.Fatalf("%d nodeclaims 10s later, want the 3 static ones kept: %v", len(claims), claimNames(claims))
	}

	// A pod for the pool runs on a static node; no launch.
	ns := createNamespace(t, cs, "static")
	d := workload(ns, "app", "static", 1, "500m")
	createDeployment(t, cs, d)
	waitForPods(t, cs, ns, "the pod Running on a static node", func(pods []corev1.Pod) bool {
		live := livePods(pods, "")
		return len(live) == 1 && running(live[0])
	})
	if claims := poolClaims(t, kube, "static"); len(claims) != 3 {
		t.Errorf("%d nodeclaims after the pod ran, want 3 (no launch for pods in a static pool)", len(claims))
	}
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	busy := livePods(pods.Items, "")[0].Spec.NodeName

	kubectl("scale", "nodepool", "static", "--replicas", "1")
	testenv.WaitFor(t, 2*time.Minute, "1 node left in the static pool", func(ctx context.Context) bool {
		return len(poolClaims(t, kube, "static")) == 1 && len(readyNodes(ctx)) == 1
	})
	if left := readyNodes(t.Context()); left[0].Name != busy {
		t.Errorf("scaling down kept %s, want the node with the pod (%s)", left[0].Name, busy)
	}
	kubectl("scale", "nodepool", "static", "--replicas", "0")
}
