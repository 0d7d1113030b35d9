package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateReplicasCap: a workload's replicas are expanded into pods one by one; a typo of a few zeros must not
// make tailor simulate allocate millions of pods (and exhaust memory) but fail at once naming the object and the field.
func TestSimulateReplicasCap(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: shop}
spec:
  replicas: 2000001
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers:
        - {name: c, image: pause, resources: {requests: {cpu: 10m}}}
`
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Simulate(SimulateOptions{Paths: []string{dir}}, &out)
	if err == nil {
		t.Fatal("2,000,001 replicas were expanded")
	}
	for _, want := range []string{`Deployment "shop/typo"`, "spec.replicas", "2000001"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
