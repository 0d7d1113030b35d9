package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// maxPendingMultiNode is how long a pod moved by a multi-node replace may wait to run (the figure).
const maxPendingMultiNode = 5 * time.Second

// TestConsolidationMultiNodeReplace grows a deployment of 2-CPU pods one replica at a time, so each lands on an
// m5.xlarge of its own (4 vCPUs, a little under 4 allocatable: no node can take another's pod). One m5.2xlarge holds
// all three for two thirds of the price: the move saves 33%.
//   - Under consolidationThreshold.savings 50% the move is below the threshold: nothing is disrupted while the
//     controller passes over the nodes for well past consolidateAfter and the validation window.
//   - Back at the default threshold (10%), the three nodes are replaced by one m5.2xlarge launched and initialized
//     before they go; no moved pod waits more than maxPendingMultiNode to run.
func TestConsolidationMultiNodeReplace(t *testing.T) {
	kube, cs, stack := disruptionStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	np := createNodePool(t, kube, `
metadata: {name: multi}
spec:
  template:
    metadata: {labels: {example.com/pool: multi}}
    spec:
      expireAfter: Never
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.xlarge, m5.2xlarge]}
        - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidationThreshold: {savings: "50%"}
    consolidateAfter: 10s
    budgets: [{nodes: "100%"}]
`)
	ns := createNamespace(t, cs, "multi")
	createDeployment(t, cs, workload(ns, "wide", "multi", 1, "2"))
	for replicas := 1; replicas <= 3; replicas++ {
		if replicas > 1 {
			scaleDeployment(t, cs, ns, "wide", int32(replicas))
		}
		waitForPods(t, cs, ns, fmt.Sprintf("%d pods Running on %d nodes", replicas, replicas), func(pods []corev1.Pod) bool {
			live := livePods(pods, "")
			nodes := map[string]bool{}
			for _, p := range live {
				nodes[p.Spec.NodeName] = true
			}
			return len(live) == replicas && len(nodes) == replicas && all(live, running)
		})
	}
	original := poolClaims(t, kube, "multi")
	for _, nc := range original {
		if it := nc.Labels[apiv1.InstanceTypeLabelKey]; it != "m5.xlarge" {
			t.Fatalf("nodeclaim %s is a %s, want m5.xlarge (one 2-CPU pod each)", nc.Name, it)
		}
	}
	if len(original) != 3 {
		t.Fatalf("%d nodeclaims, want 3: %v", len(original), claimNames(original))
	}

	// Below the threshold: 33% < 50%.
	hold := time.Now()
	testenv.WaitFor(t, time.Minute, "consolidateAfter, the validation window and several decision passes", func(context.Context) bool {
		return time.Since(hold) > 35*time.Second
	})
	if got := poolClaims(t, kube, "multi"); len(got) != 3 || slices.ContainsFunc(got, func(nc apiv1.NodeClaim) bool { return disrupting(&nc) }) {
		t.Fatalf("nodeclaims under a 50%% threshold: %v (want the 3 originals, none disrupting)", claimNames(got))
	}

	// At the default threshold the move is taken.
	cw := watchClaims(t, "multi")
	pw := watchPending(t, cs, ns, "wide")
	testenv.WaitFor(t, 30*time.Second, "the pod watch listing the 3 replicas", func(context.Context) bool { return pw.seen() == 3 })
	if err := kube.Get(t.Context(), client.ObjectKeyFromObject(np), np); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(np.DeepCopy())
	np.Spec.Disruption.ConsolidationThreshold = nil // the API server fills in the default
	if err := kube.Patch(t.Context(), np, patch); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var lastPods []corev1.Pod
	testenv.WaitFor(t, 3*time.Minute, "the 3 original nodeclaims gone and 3 pods Running on one node", func(ctx context.Context) bool {
		for _, nc := range original {
			if err := kube.Get(ctx, client.ObjectKeyFromObject(&nc), &apiv1.NodeClaim{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		lastPods = livePods(list.Items, "")
		return len(lastPods) == 3 && all(lastPods, running) && lastPods[0].Spec.NodeName == lastPods[1].Spec.NodeName &&
			lastPods[1].Spec.NodeName == lastPods[2].Spec.NodeName
	})
	t.Logf("threshold back to the default → 3 m5.xlarge replaced by one node, pods Running on it after %s", time.Since(start).Round(time.Millisecond))
	claims := poolClaims(t, kube, "multi")
	if len(claims) != 1 || claims[0].Labels[apiv1.InstanceTypeLabelKey] != "m5.2xlarge" {
		var types []string
		for _, nc := range claims {
			types = append(types, nc.Name+"="+nc.Labels[apiv1.InstanceTypeLabelKey])
		}
		t.Errorf("nodeclaims after consolidation: %v, want one m5.2xlarge", types)
	}
	checkReplacedBeforeDeleted(t, cw, original, claims)
	_, _, deleted := cw.result()
	for _, nc := range original {
		if !deleted[nc.Name] {
			t.Errorf("the watch never saw original nodeclaim %s deleted", nc.Name)
		}
	}
	longest, who, moved := pw.longest(start)
	t.Logf("%d pod(s) moved; the longest wait to run was %s (%s)", moved, longest.Round(time.Millisecond), who)
	if moved < 3 || longest > maxPendingMultiNode {
		t.Errorf("%d pod(s) moved (want 3), the longest waited %s to run (%s), want at most %s", moved, longest, who, maxPendingMultiNode)
	}
	checkLog(t, stack, "launching replacement(s) before disrupting node(s), reason: underutilized",
		"disrupting node(s) via replace, reason: underutilized")
}
