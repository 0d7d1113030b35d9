package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestNodeRepair: a node whose kubelet stops (ec2sim's stop-kubelet fault: Ready becomes Unknown and KWOK no longer
// heartbeats it) is replaced, then deleted, once the (here 10 s) toleration has passed: its pods run on the
// replacement and its instance is terminated. The other node of the pool, healthy, is kept.
func TestNodeRepair(t *testing.T) {
	kube, cs, stack := disruptionStack(t, testenv.StackOptions{ClusterName: "demo-cluster", ControllerArgs: []string{"--node-repair-toleration=10s"}})
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	createNodePool(t, kube, `
metadata: {name: repair}
spec:
  template:
    metadata: {labels: {example.com/pool: repair}}
    spec:
      expireAfter: Never
      requirements: [{key: tailor.sh/capacity-type, operator: In, values: [on-demand]}]
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: Never
`)
	ns := createNamespace(t, cs, "repair")
	d := workload(ns, "spread", "repair", 2, "1")
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{LabelSelector: d.Spec.Selector, TopologyKey: corev1.LabelHostname}},
	}}
	createDeployment(t, cs, d)
	waitForPods(t, cs, ns, "2 replicas Running on 2 nodes", func(pods []corev1.Pod) bool {
		live := livePods(pods, "")
		return len(live) == 2 && all(live, running) && live[0].Spec.NodeName != live[1].Spec.NodeName
	})
	claims := poolClaims(t, kube, "repair")
	if len(claims) != 2 {
		t.Fatalf("%d nodeclaims in the repair pool, want 2: %v", len(claims), claimNames(claims))
	}
	sick, healthy := claims[0], claims[1]
	instance := sick.Status.ProviderID[strings.LastIndex(sick.Status.ProviderID, "/")+1:]
	stopped := time.Now()
	simAdmin(t, stack, http.MethodPost, "/admin/instances/"+instance+"/stop-kubelet", `{}`, nil)
	node := &corev1.Node{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: sick.Status.NodeName}, node); err != nil {
		t.Fatal(err)
	}
	if ready := nodeReady(node); ready != corev1.ConditionUnknown {
		t.Fatalf("node %s Ready = %s after stop-kubelet, want Unknown", node.Name, ready)
	}

	testenv.WaitFor(t, 3*time.Minute, "the unhealthy nodeclaim gone and 2 replicas Running on 2 healthy nodes", func(ctx context.Context) bool {
		if err := kube.Get(ctx, client.ObjectKeyFromObject(&sick), &apiv1.NodeClaim{}); !apierrors.IsNotFound(err) {
			return false
		}
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		live := livePods(list.Items, "")
		return len(live) == 2 && all(live, running) && all(live, func(p corev1.Pod) bool { return p.Spec.NodeName != sick.Status.NodeName })
	})
	took := time.Since(stopped)
	if took < 10*time.Second {
		t.Errorf("repaired %s after the kubelet stopped, before the 10s toleration", took)
	}
	if err := kube.Get(t.Context(), client.ObjectKeyFromObject(&healthy), &apiv1.NodeClaim{}); err != nil {
		t.Errorf("the healthy nodeclaim %s: %v", healthy.Name, err)
	}
	checkLog(t, stack, "disrupting node(s) via replace, reason: unhealthy")
	t.Logf("node repaired %s after its kubelet stopped", took.Round(100*time.Millisecond))
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}
