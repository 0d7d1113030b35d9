package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestChartRBACIsEnough runs the controller as the chart's ServiceAccount, with exactly the chart's ClusterRole and
// Role (the controller's requests are impersonated), through the reference scale-up and scale-down, and checks that
// nothing it did was forbidden.
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
	if !strings.Contains(string(log), "Successfully acquired lease") {
		t.Errorf("the controller did not acquire its leader election lease with the chart's Role")
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
