package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestSimulateExample(t *testing.T) {
	var out bytes.Buffer
	svg := filepath.Join(t.TempDir(), "fleet.svg")
	opts := SimulateOptions{Paths: []string{"../../examples/simulate"}, Output: OutputJSON, SVG: svg, Clock: clocktesting.NewFakePassiveClock(fakeNow)}
	if err := Simulate(opts, &out); err != nil {
		t.Fatal(err)
	}
	var got SimulateResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not the documented JSON: %v\n%s", err, out.String())
	}
	if got.Pods != 21 {
		t.Errorf("pods = %d, want 21 (12 web + 3 cache + 4 reindex + 1 postgres + 1 notebook)", got.Pods)
	}
	wantUnschedulable := []SimulatedUnschedulable{{Pod: "shop/gpu-notebook", Reasons: []string{
		`existing nodes: none of 1 fits (first: node "ip-10-0-1-17.ec2.internal": insufficient cpu)`,
		`nodepool "default" cpu limit 200 would be exceeded`,
		`nodepool "database": the pod does not tolerate taint dedicated=database:NoSchedule`,
	}}}
	if diff := cmp.Diff(wantUnschedulable, got.Unschedulable); diff != "" {
		t.Errorf("unschedulable (-want +got):\n%s", diff)
	}
	placed := 0
	for _, e := range got.ExistingNodes {
		placed += len(e.Pods)
	}
	var postgres *SimulatedNodeClaim
	total := 0.0
	for i, c := range got.NodeClaims {
		placed += len(c.Pods)
		total += c.PricePerHour
		if len(c.Pods) == 0 || c.PricePerHour <= 0 {
			t.Errorf("nodeclaim %d has no pods or no price: %+v", i, c)
		}
		for _, p := range c.Pods {
			if p == "shop/postgres-0" {
				postgres = &got.NodeClaims[i]
			}
			if strings.HasPrefix(p, "shop/reindex-") && c.CapacityType != "spot" {
				t.Errorf("job pod %s selects spot but landed on %s", p, c.CapacityType)
			}
		}
	}
	if placed != 20 {
		t.Errorf("placed %d pods, want 20", placed)
	}
	if postgres == nil || postgres.NodePool != "database" || postgres.Zone != "us-east-1b" || postgres.CapacityType != "on-demand" {
		t.Errorf("postgres must go to the database pool, on-demand, in its volume's zone us-east-1b: %+v", postgres)
	}
	if got.TotalPricePerHour < total-1e-9 || got.TotalPricePerHour > total+1e-9 || got.LowerBoundPricePerHour <= 0 || got.LowerBoundPricePerHour > total {
		t.Errorf("total %v (sum %v) and bound %v inconsistent", got.TotalPricePerHour, total, got.LowerBoundPricePerHour)
	}
	data, err := os.ReadFile(svg)
	if err != nil || !bytes.Contains(data, []byte("<svg")) {
		t.Errorf("--svg did not write an SVG: %v", err)
	}
}

func TestSimulateTableAndErrors(t *testing.T) {
	var out bytes.Buffer
	if err := Simulate(SimulateOptions{Paths: []string{"../../examples/simulate"}, Clock: clocktesting.NewFakePassiveClock(fakeNow)}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INSTANCE TYPE", "TOTAL", "lower bound $", "unschedulable shop/gpu-notebook:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if err := Simulate(SimulateOptions{}, &out); err == nil {
		t.Errorf("no paths must be an error")
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Simulate(SimulateOptions{Paths: []string{bad}}, &out); err == nil || !strings.Contains(err.Error(), `Pod "x"`) {
		t.Errorf("a malformed pod must be named in the error, got %v", err)
	}
}

var fakeNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestSimulateNodesLimit: a NodePool's nodes limit counts the nodes labelled with it, and new nodes stop there.
func TestSimulateNodesLimit(t *testing.T) {
	manifest := `apiVersion: tailor.sh/v1
kind: NodePool
metadata: {name: small}
spec:
  limits: {nodes: "2"}
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
---
apiVersion: v1
kind: Node
metadata:
  name: full
  labels: {kubernetes.io/hostname: full, tailor.sh/nodepool: small}
status:
  capacity: {cpu: "2", memory: 4Gi, pods: "10"}
  allocatable: {cpu: "0", memory: 4Gi, pods: "10"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: solo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: solo}}}
      containers:
        - {name: c, image: pause, resources: {requests: {cpu: 500m, memory: 1Gi}}}
`
	got := simulateJSON(t, manifest)
	if len(got.NodeClaims) != 1 {
		t.Errorf("want one new node (limit 2, one existing), got %d", len(got.NodeClaims))
	}
	want := []SimulatedUnschedulable{{Pod: "default/solo-1", Reasons: []string{
		`existing nodes: none of 1 fits (first: node "full": insufficient cpu)`,
		`nodepool "small" nodes limit 2 would be exceeded`,
	}}}
	if diff := cmp.Diff(want, got.Unschedulable); diff != "" {
		t.Errorf("unschedulable (-want +got):\n%s", diff)
	}
}

// TestSimulateStaticNodePool: as in the controller, pending pods plan no node in a static NodePool (spec.replicas):
// they go to the dynamic one, and a pod only the static NodePool could host is reported.
func TestSimulateStaticNodePool(t *testing.T) {
	manifest := `apiVersion: tailor.sh/v1
kind: NodePool
metadata: {name: warm}
spec:
  replicas: 2
  weight: 100
  template:
    metadata: {labels: {example.com/pool: warm}}
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
---
apiVersion: tailor.sh/v1
kind: NodePool
metadata: {name: dynamic}
spec:
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: anywhere, namespace: default}
spec:
  containers: [{name: c, image: pause, resources: {requests: {cpu: 500m}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: warm-only, namespace: default}
spec:
  nodeSelector: {example.com/pool: warm}
  containers: [{name: c, image: pause, resources: {requests: {cpu: 500m}}}]
`
	got := simulateJSON(t, manifest)
	for _, nc := range got.NodeClaims {
		if nc.NodePool == "warm" {
			t.Errorf("planned a node in the static NodePool warm for pods %v", nc.Pods)
		}
	}
	if len(got.Unschedulable) != 1 || got.Unschedulable[0].Pod != "default/warm-only" {
		t.Errorf("unschedulable %+v, want only default/warm-only", got.Unschedulable)
	}
}

// TestSimulateNodeOverlay: a NodeOverlay in the manifests sets the prices the plan uses: a Savings Plan making
// on-demand m7i cheaper than spot flips the plan to on-demand m7i, and the claim names the overlay.
func TestSimulateNodeOverlay(t *testing.T) {
	manifest := `apiVersion: tailor.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
      requirements: [{key: tailor.sh/instance-family, operator: In, values: [m7i, c7i]}]
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: default}
spec:
  containers: [{name: c, image: pause, resources: {requests: {cpu: "1", memory: 2Gi}}}]
`
	overlay := `---
apiVersion: tailor.sh/v1
kind: NodeOverlay
metadata: {name: savings-plan}
spec:
  requirements:
    - {key: tailor.sh/instance-family, operator: In, values: [m7i]}
    - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
  priceAdjustment: "-80%"
`
	plan := func(docs string) SimulatedNodeClaim {
		t.Helper()
		got := simulateJSON(t, docs)
		if len(got.NodeClaims) != 1 {
			t.Fatalf("%d nodeclaims, want 1", len(got.NodeClaims))
		}
		return got.NodeClaims[0]
	}
	before := plan(manifest)
	if before.CapacityType != "spot" || before.NodeOverlay != "" {
		t.Fatalf("without the overlay: %s %s by %q, want spot at the catalogue's price", before.InstanceType, before.CapacityType, before.NodeOverlay)
	}
	after := plan(manifest + overlay)
	if after.CapacityType != "on-demand" || !strings.HasPrefix(after.InstanceType, "m7i.") || after.NodeOverlay != "savings-plan" {
		t.Errorf("with the overlay: %s %s by %q, want on-demand m7i priced by savings-plan", after.InstanceType, after.CapacityType, after.NodeOverlay)
	}
	if after.PricePerHour >= before.PricePerHour || after.ListPricePerHour <= after.PricePerHour {
		t.Errorf("with the overlay $%v/h (list $%v/h), without $%v/h: want cheaper than spot and below its list price", after.PricePerHour, after.ListPricePerHour, before.PricePerHour)
	}
}

// simulateJSON runs `tailor simulate -o json` on one manifest file holding docs and decodes its plan.
func simulateJSON(t *testing.T, docs string) SimulateResult {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(docs), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Simulate(SimulateOptions{Paths: []string{dir}, Output: OutputJSON, Clock: clocktesting.NewFakePassiveClock(fakeNow)}, &out); err != nil {
		t.Fatal(err)
	}
	var got SimulateResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	return got
}
