package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// CRDPath is config/crd of this repository: Tailor's generated CRDs.
func CRDPath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "config", "crd"), nil
}

// Main is a TestMain body: it starts a control plane with Tailor's CRDs (and opts), stores it in *env, runs the
// package's tests and stops it. Use: func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{}, &env)) }
func Main(m *testing.M, opts Options, env **Environment) int {
	crds, err := CRDPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts.CRDDirectoryPaths = append(opts.CRDDirectoryPaths, crds)
	// Controllers under test log through controller-runtime; tests assert on objects and events, not on logs.
	ctrllog.SetLogger(logr.Discard())
	if opts.Logf == nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...) }
	}
	// TestMain has no t.Context(); the control plane lives as long as the package's tests.
	e, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// StartAPIServer starts etcd and kube-apiserver with Tailor's CRDs for one test and stops them when it ends: a test
// creating cluster-scoped objects of fixed names gets a cluster of its own.
func StartAPIServer(t testing.TB) *Environment {
	t.Helper()
	crds, err := CRDPath()
	if err != nil {
		t.Fatal(err)
	}
	env, err := Start(t.Context(), Options{CRDDirectoryPaths: []string{crds}, APIServerOnly: true})
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	return env
}
