package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// env is the control plane every test in this package shares; each test works in its own namespace.
var env *testenv.Environment

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background() //nolint:forbidigo // TestMain has no t.Context(); the control plane lives as long as the package's tests
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(ctx, testenv.Options{
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd")},
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the control plane:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "testenv: control plane start-up took %s\n", env.StartupTime)
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	return m.Run()
}
