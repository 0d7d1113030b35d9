package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const bufferPool = `apiVersion: tailor.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5zn.3xlarge]}
        - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: c, image: pause, resources: {requests: {cpu: "1"}}}
`

// TestSimulateCapacityBuffer: tailor simulate reads CapacityBuffers and plans their virtual pods after the real ones:
// the four web pods and the 8 CPU buffer do not share a 12 vCPU node, so the buffer gets a node of its own; the buffer
// of a workload copies its pods' shape and a share of its replicas; a reference the manifests lack is an error.
func TestSimulateCapacityBuffer(t *testing.T) {
	run := func(t *testing.T, manifest string) (*SimulateResult, error) {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(bufferPool+"---\n"+manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Simulate(SimulateOptions{Paths: []string{dir}, Output: OutputJSON}, &out); err != nil {
			return nil, err
		}
		res := &SimulateResult{}
		if err := json.Unmarshal(out.Bytes(), res); err != nil {
			t.Fatal(err)
		}
		return res, nil
	}
	t.Run("resource amount", func(t *testing.T) {
		res, err := run(t, `apiVersion: tailor.sh/v1
kind: CapacityBuffer
metadata: {name: room}
spec: {resources: {cpu: "8"}, replicas: 1}
`)
		if err != nil {
			t.Fatal(err)
		}
		var groups [][]string
		for _, c := range res.NodeClaims {
			groups = append(groups, c.Pods)
		}
		if len(groups) != 2 || !slices.ContainsFunc(groups, func(p []string) bool { return slices.Equal(p, []string{"default/capacitybuffer-room-0"}) }) {
			t.Errorf("nodeclaims hold %v, want the web pods on one and the buffer alone on another", groups)
		}
	})
	t.Run("share of a workload", func(t *testing.T) {
		res, err := run(t, `apiVersion: tailor.sh/v1
kind: CapacityBuffer
metadata: {name: web}
spec:
  scalableRef: {apiGroup: apps, kind: Deployment, name: web}
  percentage: 50
`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range res.NodeClaims {
			for _, p := range c.Pods {
				if strings.HasPrefix(p, "default/capacitybuffer-web-") {
					n++
				}
			}
		}
		if n != 2 || res.Pods != 6 {
			t.Errorf("%d buffer pods of %d planned, want 2 (50%% of 4) of 6", n, res.Pods)
		}
	})
	t.Run("missing pod template", func(t *testing.T) {
		_, err := run(t, `apiVersion: tailor.sh/v1
kind: CapacityBuffer
metadata: {name: batch, namespace: jobs}
spec: {podTemplateRef: {name: worker}, replicas: 2}
`)
		if err == nil || !strings.Contains(err.Error(), `CapacityBuffer "jobs/batch": spec.podTemplateRef: PodTemplate jobs/worker is not among the manifests`) {
			t.Errorf("error %v, want one naming the buffer and spec.podTemplateRef", err)
		}
	})
}
