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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestChartRBACIsEnough runs the controller as the chart's ServiceAccount, with exactly the chart's ClusterRole and
// Role (the controller's requests are impersonated), through the reference scale-up and scale-down and a drain that
// evicts pods (evictionPath), and checks that nothing it did was forbidden.
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

	// A kubeconfig that acts as the chart's ServiceAccount.
	cfg, err := clientcmd.LoadFromFile(env.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + ns + ":tailor"
	}
	asController := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, asController); err != nil {
		t.Fatal(err)
	}

	stack := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster", ControllerArgs: []string{
		"--kubeconfig=" + asController, "--leader-elect=true", "--leader-election-namespace=" + ns,
	}})
	referenceScenario(t, stack)
	evictionPath(t)

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
	waitForPods(t, cs, ns, "2 inflate pods Running", func(pods []corev1.Pod) bool {
		if len(pods) != 2 {
			return false
		}
		node = pods[0].Spec.NodeName
		return all(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" })
	})
	claims := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	var drained *apiv1.NodeClaim
	for i := range claims.Items {
		if claims.Items[i].Status.NodeName == node {
			drained = &claims.Items[i]
		}
	}
	if drained == nil {
		t.Fatalf("no nodeclaim for node %s", node)
	}
	if err := kube.Delete(t.Context(), drained); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, cs, ns, "2 inflate pods Running on another node", func(pods []corev1.Pod) bool {
		return len(pods) == 2 && all(pods, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" && p.Spec.NodeName != node && p.DeletionTimestamp.IsZero()
		})
	})
	testenv.WaitFor(t, 2*time.Minute, "the drained nodeclaim gone", func(ctx context.Context) bool {
		return apierrors.IsNotFound(kube.Get(ctx, client.ObjectKeyFromObject(drained), &apiv1.NodeClaim{}))
	})
	scaleInflate(t, cs, ns, 0)
	waitForPods(t, cs, ns, "no inflate pods", func(pods []corev1.Pod) bool { return len(pods) == 0 })
}
