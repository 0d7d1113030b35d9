package operator_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestCheckCRDs: against a real API server, every Tailor CRD installed passes; with two left out (an upgrade whose
// new CRDs were not applied) the error names both and the command that fixes it.
func TestCheckCRDs(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	partial := t.TempDir()
	all, err := filepath.Glob(filepath.Join(root, "config", "crd", "*.yaml"))
	if err != nil || len(all) == 0 {
		t.Fatalf("no CRDs in config/crd: %v", err)
	}
	for _, f := range all {
		if strings.Contains(f, "nodeoverlays") || strings.Contains(f, "capacitybuffers") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(partial, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		dir     string
		missing []string
	}{
		"all installed":       {dir: filepath.Join(root, "config", "crd")},
		"upgrade without new": {dir: partial, missing: []string{"nodeoverlays.tailor.sh", "capacitybuffers.tailor.sh"}},
	} {
		t.Run(name, func(t *testing.T) {
			env, err := testenv.Start(t.Context(), testenv.Options{CRDDirectoryPaths: []string{tc.dir}, APIServerOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.Stop() })
			httpClient, err := restHTTPClient(env)
			if err != nil {
				t.Fatal(err)
			}
			mapper, err := apiutil.NewDynamicRESTMapper(env.Config, httpClient)
			if err != nil {
				t.Fatal(err)
			}
			err = operator.CheckCRDs(mapper)
			if len(tc.missing) == 0 {
				if err != nil {
					t.Fatalf("CheckCRDs with every CRD installed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckCRDs passed without %v", tc.missing)
			}
			for _, want := range append(tc.missing, "kubectl apply --server-side -f charts/tailor/crds/") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "nodepools.tailor.sh") {
				t.Errorf("error %q names an installed CRD", err)
			}
		})
	}
}

func restHTTPClient(env *testenv.Environment) (*http.Client, error) {
	return rest.HTTPClientFor(env.Config)
}
