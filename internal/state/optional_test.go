package state_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestReadWithoutOptionalCRDs: a cluster upgraded without its new CRDs applied (Helm does not upgrade CRDs) has no
// NodeOverlay or CapacityBuffer kind. Planning must go on without them — no overlay, no buffer — instead of every
// read failing and provisioning stopping. Both the direct client and the informer cache the controller uses.
func TestReadWithoutOptionalCRDs(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crds, err := filepath.Glob(filepath.Join(root, "config", "crd", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range crds {
		if strings.Contains(f, "nodeoverlays") || strings.Contains(f, "capacitybuffers") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env, err := testenv.Start(t.Context(), testenv.Options{CRDDirectoryPaths: []string{dir}, APIServerOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cached, direct := env.Clients(t)
	for name, reader := range map[string]client.Reader{"direct": direct, "cached": cached} {
		t.Run(name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Now())
			noTypes := func(context.Context, *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) { return nil, nil }
			if _, err := state.NewCluster(clk, reader).Read(t.Context(), noTypes); err != nil {
				t.Fatalf("Read without the NodeOverlay and CapacityBuffer CRDs: %v", err)
			}
		})
	}
}
