package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.tailor.sh
spec:
  group: example.tailor.sh
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestStartInstallsCRDsAndStopLeavesNothing starts the API-server-only plane with a CRD folder, checks the CRD is
// usable, then checks Stop ends every process and removes the files.
func TestStartInstallsCRDsAndStopLeavesNothing(t *testing.T) {
	crdDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(crdDir, "widgets.yaml"), []byte(widgetCRD), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := Start(t.Context(), Options{APIServerOnly: true, CRDDirectoryPaths: []string{crdDir}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = env.Stop()
		}
	})

	client := apiextensionsclient.NewForConfigOrDie(env.Config)
	crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(t.Context(), "widgets.example.tailor.sh", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("CRD not installed: %v", err)
	}
	if crd.Spec.Names.Kind != "Widget" {
		t.Errorf("CRD kind = %q, want Widget", crd.Spec.Names.Kind)
	}
	if _, err := os.Stat(env.KubeconfigPath); err != nil {
		t.Errorf("kubeconfig not written: %v", err)
	}

	var pids []int
	for _, p := range env.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	if len(pids) != 2 {
		t.Fatalf("started %d processes, want 2 (etcd, kube-apiserver)", len(pids))
	}
	dir := env.Dir
	if err := env.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stopped = true
	for _, pid := range pids {
		// Signal 0 probes for existence; the process was reaped by Wait, so it must be gone.
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still running after Stop", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s still exists after Stop (err %v)", dir, err)
	}
	if err := env.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartNamesMissingBinaries(t *testing.T) {
	_, err := Start(t.Context(), Options{BinDir: t.TempDir()})
	if err == nil {
		t.Fatal("Start succeeded with an empty bin folder")
	}
	for _, want := range []string{"etcd", "kube-apiserver", "kwok", "make tools"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestStartRejectsBrokenCRDFolder: a CRD file that does not parse fails Start with its name, and the failed Start
// stops what it had started and removes its directory. It had left both: etcd's data on /dev/shm (123 MB of
// memory) and a directory in /tmp after every unit test run, and the processes until the test binary exited.
func TestStartRejectsBrokenCRDFolder(t *testing.T) {
	crdDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(crdDir, "bad.yaml"), []byte("kind: CustomResourceDefinition\nspec: [not, a, map]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the environment's directory goes here
	env, err := Start(t.Context(), Options{APIServerOnly: true, CRDDirectoryPaths: []string{crdDir}})
	if err == nil {
		_ = env.Stop()
		t.Fatal("Start accepted a malformed CRD file")
	}
	if !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the failed Start left %s in the temporary directory (and its processes running)", left[0].Name())
	}
}

// TestStopKeepsFilesButNotEtcdMemory: with TAILOR_TESTENV_KEEP a stopped environment keeps its directory (logs,
// kubeconfig) but not etcd's data on /dev/shm, which is memory; a kept make scale run left 0.6 GiB there each time.
func TestStopKeepsFilesButNotEtcdMemory(t *testing.T) {
	dir, shm := t.TempDir(), t.TempDir() // shm stands for a data directory outside dir, as on /dev/shm
	for _, d := range []string{dir, shm} {
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := &Environment{Dir: dir, etcdDir: shm, keepFiles: true}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Errorf("the kept directory lost its files: %v", err)
	}
	if _, err := os.Stat(shm); !os.IsNotExist(err) {
		t.Errorf("etcd's data directory outside it was kept (stat: %v)", err)
	}
}
