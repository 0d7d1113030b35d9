package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestChartRBACIsEnough runs the controller as the chart's ServiceAccount, with exactly the chart's ClusterRole and
// Role (the controller's requests are impersonated), through the reference scale-up and scale-down and a drain that
// evicts pods (evictionPath), and checks that nothing it did was forbidden. It also checks that the chart grants no
// more than that: the controller talks to the API server through a recording proxy (startRequestRecorder), and every
// verb on every resource of every rule must have been needed by a recorded request that no other rule allows.
func TestChartRBACIsEnough(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "tailor-system"
	cs := kubernetes.NewForConfigOrDie(env.Config)
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
		if _, err := cs.CoreV1().Namespaces().Create(t.Context(), namespace(ns), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rendered, err := exec.CommandContext(t.Context(), filepath.Join(root, "bin", "helm"), "template", "tailor",
		filepath.Join(root, "charts", "tailor"), "--namespace", ns, "--set", "clusterName=demo-cluster").Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr(err))
	}
	// Only the identity and its permissions: the chart's Deployment would be a pod no node can run here.
	var rbac []string
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
			if strings.Contains(doc, "\nkind: "+kind+"\n") {
				rbac = append(rbac, doc)
			}
		}
	}
	if len(rbac) != 5 {
		t.Fatalf("found %d RBAC objects in the chart, want 5 (ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding)", len(rbac))
	}
	apply := exec.CommandContext(t.Context(), filepath.Join(root, "bin", "kubectl"), "--kubeconfig", env.KubeconfigPath, "apply", "-f", "-")
	apply.Stdin = bytes.NewReader([]byte(strings.Join(rbac, "\n---\n")))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("applying the chart's RBAC: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		del := exec.Command(filepath.Join(root, "bin", "kubectl"), "--kubeconfig", env.KubeconfigPath, "delete", "--ignore-not-found", "-f", "-")
		del.Stdin = bytes.NewReader([]byte(strings.Join(rbac, "\n---\n")))
		_ = del.Run()
	})

	// The controller reaches the API server through a recording proxy that impersonates the chart's ServiceAccount.
	rec, asController := startRequestRecorder(t, env.Config, "system:serviceaccount:"+ns+":tailor")
	// Leader election must create its Lease, as on a fresh install: drop one an earlier test left.
	_ = cs.CoordinationV1().Leases(ns).Delete(t.Context(), "tailor-leader-election", metav1.DeleteOptions{})

	stack := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster", ControllerArgs: []string{
		"--kubeconfig=" + asController, "--leader-elect=true", "--leader-election-namespace=" + ns,
	}})
	referenceScenario(t, stack)
	evictionPath(t)
	bufferStatusPath(t)

	log, err := os.ReadFile(stack.Controller.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	// RBAC refusals read `… is forbidden: User "system:serviceaccount:…" cannot <verb> resource …`.
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, `forbidden: User \"system:serviceaccount:`) || strings.Contains(line, `forbidden: User "system:serviceaccount:`) {
			t.Errorf("the controller was refused something with the chart's RBAC: %s", line)
		}
	}
	if !strings.Contains(string(log), `"message":"evicted pod"`) {
		t.Errorf("the controller evicted no pod: the eviction path did not run")
	}
	if !strings.Contains(string(log), "Successfully acquired lease") {
		t.Errorf("the controller did not acquire its leader election lease with the chart's Role")
	}

	// No more than enough: every verb of every rule must have been needed by a request the controller made.
	requests := rec.recorded()
	for _, q := range requests {
		t.Logf("recorded: %s", q)
	}
	for _, msg := range unneededGrants(chartGrants(t, rbac), requests, rbacNotExercised) {
		t.Error(msg)
	}
}

// rbacNotExercised lists the grants TestChartRBACIsEnough cannot see used, keyed "<group>/<resource> <verb>", each
// with why it stays in the chart. Keep it short: a path that can be run cheaply belongs in the scenario instead.
var rbacNotExercised = map[string]string{
	// Not a request: the OwnerReferencesPermissionEnforcement admission plugin (on in many clusters, off in the test
	// API server) checks it when a NodeClaim is created with blockOwnerDeletion on its NodePool owner reference.
	"tailor.sh/nodepools/finalizers update": "checked by admission, not requested",
	// Only past a NodeClaim's terminationGracePeriod (or in a namespace being deleted, which refuses evictions) are
	// pods deleted instead of evicted; the disruption tests reach it, a 60 s scenario cannot wait for it.
	"/pods delete": "force delete past terminationGracePeriod",
	// An event repeated within minutes is folded into the first one by a PATCH (a series in events.k8s.io, a count in
	// core events, which leader election records); the scenario emits no event twice on the same object.
	"events.k8s.io/events patch": "a repeated event",
	// A replace (drift or consolidation with pods to move) reads each candidate's node from the API server before it
	// puts the disrupted taint on (disruption.Controller.taint); the scenario deletes nodes but replaces none.
	"/nodes get":    "a replace taints its candidates",
	"/events patch": "a repeated leader election event",
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// evictionPath runs a drain with evictions on the reference NodePool: two inflate pods on one node, whose NodeClaim
// is then deleted; the controller must taint the node, evict the pods through the Eviction API (they come back on a
// new node), terminate the instance and let the NodeClaim go.
func evictionPath(t *testing.T) {
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns := createNamespace(t, cs, "rbac-evict")
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), testenv.Inflate(ns, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var node string
	evicted := map[string]bool{}
	waitForPods(t, cs, ns, "2 inflate pods Running", func(pods []corev1.Pod) bool {
		if len(pods) != 2 {
			return false
		}
		node = pods[0].Spec.NodeName
		evicted = map[string]bool{pods[0].Name: true, pods[1].Name: true}
		return all(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" })
	})
	// The nodeclaim controller records the node's name on its claim when it syncs the registration, which may come
	// after the pods run there (a Node patch conflict retries it 100 ms later): wait for it.
	var drained *apiv1.NodeClaim
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		claims := &apiv1.NodeClaimList{}
		if err := kube.List(ctx, claims); err != nil {
			return false, err
		}
		for i := range claims.Items {
			if claims.Items[i].Status.NodeName == node {
				drained = &claims.Items[i]
			}
		}
		return drained != nil, nil
	})
	if err != nil {
		t.Fatalf("no nodeclaim for node %s: %v", node, err)
	}
	if err := kube.Delete(t.Context(), drained); err != nil {
		t.Fatal(err)
	}
	// Replacements, not the evicted pods: ec2sim may give the new node the drained one's name (its private IP is free
	// again), so the node name cannot tell them apart.
	waitForPods(t, cs, ns, "2 new inflate pods Running", func(pods []corev1.Pod) bool {
		return len(pods) == 2 && all(pods, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" && !evicted[p.Name] && p.DeletionTimestamp.IsZero()
		})
	})
	testenv.WaitFor(t, 2*time.Minute, "the drained nodeclaim gone", func(ctx context.Context) bool {
		return apierrors.IsNotFound(kube.Get(ctx, client.ObjectKeyFromObject(drained), &apiv1.NodeClaim{}))
	})
	scaleInflate(t, cs, ns, 0)
	waitForPods(t, cs, ns, "no inflate pods", func(pods []corev1.Pod) bool { return len(pods) == 0 })
}

// bufferStatusPath creates a CapacityBuffer of no replicas shaped like a ReplicaSet's pods (no node is bought; a
// ReplicaSet is the one kind of workload the reference scenario does not make the controller read) and waits for the
// controller to write its status.
func bufferStatusPath(t *testing.T) {
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns := createNamespace(t, cs, "rbac-buffer")
	labels := map[string]string{"app": "buffered"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buffered"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
			},
		},
	}
	if _, err := cs.AppsV1().ReplicaSets(ns).Create(t.Context(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cb := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "none"},
		Spec: apiv1.CapacityBufferSpec{
			ScalableRef: &apiv1.ScalableReference{APIGroup: "apps", Kind: "ReplicaSet", Name: rs.Name},
			Replicas:    ptr.To[int32](0),
		},
	}
	if err := kube.Create(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, time.Minute, "the capacity buffer's status written", func(ctx context.Context) bool {
		got := &apiv1.CapacityBuffer{}
		return kube.Get(ctx, client.ObjectKeyFromObject(cb), got) == nil && got.Status.Replicas != nil
	})
	if err := kube.Delete(t.Context(), cb); err != nil {
		t.Fatal(err)
	}
}
