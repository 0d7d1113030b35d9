package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current code")

// goldenCase is one `tailor simulate` run whose output is kept under testdata/simulate/<name>.
type goldenCase struct {
	name  string
	opts  SimulateOptions
	paths []string
}

// goldenCases are the example folder (both preference policies, JSON and table) and every example NodePool manifest
// planned against the example cluster and workloads, which between them give most of the reasons a plan words.
func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	cases := []goldenCase{
		{name: "simulate.json", opts: SimulateOptions{Output: OutputJSON}, paths: []string{"../../examples/simulate"}},
		{name: "simulate.txt", opts: SimulateOptions{Output: OutputTable}, paths: []string{"../../examples/simulate"}},
		{name: "simulate-respect.json", opts: SimulateOptions{Output: OutputJSON, Preferences: "Respect"}, paths: []string{"../../examples/simulate"}},
	}
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if base == "capacity-buffer" {
			continue // its buffers name Deployments the example workloads do not have
		}
		cases = append(cases, goldenCase{name: "pools-" + base + ".json", opts: SimulateOptions{Output: OutputJSON},
			paths: []string{f, "../../examples/simulate/cluster.yaml", "../../examples/simulate/workloads.yaml"}})
	}
	return cases
}

// TestSimulateGolden plans the examples through the CLI and compares the output with the plans committed under
// testdata/simulate: a change to the planner that changes any plan, price or reason shows here. Planning time is
// measured on a fake clock, so the output is deterministic. Run with -update to accept new plans.
func TestSimulateGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Paths = tc.paths
			opts.Clock = clocktesting.NewFakePassiveClock(fakeNow)
			var out bytes.Buffer
			if err := Simulate(opts, &out); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "simulate", tc.name)
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSimulateGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), out.String()); diff != "" {
				t.Errorf("tailor simulate -f %s: output differs from %s (-want +got):\n%s", strings.Join(tc.paths, " -f "), golden, diff)
			}
		})
	}
}
