package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailor-sh/tailor/internal/cli"
)

// TestGeneratedMixSimulates writes each mix as gen-mix does and plans it with tailor simulate: every pod is read
// and placed, and the required mix needs a node per anti-affinity pod (a fifth of them) while the preferred one
// does not.
func TestGeneratedMixSimulates(t *testing.T) {
	const pods = 1000
	nodes := map[string]int{}
	for _, mix := range []string{"diverse", "diverse-preferred"} {
		path := filepath.Join(t.TempDir(), mix+".yaml")
		if err := run(mix, pods, path); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := cli.Simulate(cli.SimulateOptions{Paths: []string{path}, Output: cli.OutputJSON}, &out); err != nil {
			t.Fatal(err)
		}
		var res cli.SimulateResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if res.Pods != pods || len(res.Unschedulable) != 0 {
			t.Errorf("%s: read %d pods, %d unschedulable; want %d pods, none unschedulable", mix, res.Pods, len(res.Unschedulable), pods)
		}
		nodes[mix] = len(res.NodeClaims)
	}
	if nodes["diverse"] < pods/5 || nodes["diverse-preferred"] >= pods/5 {
		t.Errorf("nodes %v: want at least %d for diverse (one per anti-affinity pod) and fewer for diverse-preferred", nodes, pods/5)
	}
}

func TestGenMixRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		mix  string
		pods int
		want string
	}{{"diverse", 0, "positive number of pods"}, {"plain", 10, `unknown mix "plain"`}} {
		if err := run(tc.mix, tc.pods, filepath.Join(t.TempDir(), "out.yaml")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q, %d) = %v, want an error containing %q", tc.mix, tc.pods, err, tc.want)
		}
	}
}
