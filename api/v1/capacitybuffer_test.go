package v1_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

const baseCapacityBuffer = `
apiVersion: tailor.sh/v1
kind: CapacityBuffer
metadata:
  name: case
  namespace: default
spec:
  resources: {cpu: "8"}
  replicas: 1
`

// TestCapacityBufferValidation sends buffers that break one rule each to the real API server and checks the message
// names the fields and says what to do.
func TestCapacityBufferValidation(t *testing.T) {
	cases := []struct {
		name  string
		patch string
		msg   string // part of the API server's message; empty means accepted
	}{
		{"resource amount", `{}`, ""},
		{"pod template with replicas", `{spec: {resources: null, podTemplateRef: {name: web}}}`, ""},
		{"workload with percentage", `{spec: {resources: null, replicas: null, scalableRef: {apiGroup: apps, kind: Deployment, name: web}, percentage: 20}}`, ""},
		{"pod template with limits only", `{spec: {resources: null, replicas: null, podTemplateRef: {name: web}, limits: {cpu: "16"}}}`, ""},
		{"no chunk shape", `{spec: {resources: null}}`, "set exactly one of podTemplateRef, scalableRef or resources"},
		{"two chunk shapes", `{spec: {podTemplateRef: {name: web}}}`, "set exactly one of podTemplateRef, scalableRef or resources"},
		{"no count", `{spec: {replicas: null}}`, "set replicas, percentage (with scalableRef) or limits"},
		{"percentage without a workload", `{spec: {percentage: 10}}`, "percentage is a share of a workload's replicas: it needs scalableRef"},
		{"unknown strategy", `{spec: {provisioningStrategy: example.com/cold}}`, "provisioningStrategy must be buffer.x-k8s.io/active-capacity"},
		{"unknown workload kind", `{spec: {resources: null, scalableRef: {kind: Job, name: web}}}`, `spec.scalableRef.kind: Unsupported value: "Job"`},
		{"workload outside apps", `{spec: {resources: null, scalableRef: {apiGroup: batch, kind: Deployment, name: web}}}`, "scalableRef.apiGroup must be apps"},
		{"negative replicas", `{spec: {replicas: -1}}`, "spec.replicas: Invalid value"},
		{"negative resources", `{spec: {resources: {cpu: "-1"}}}`, "resources must be zero or positive quantities"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := mergePatch(t, object(t, baseCapacityBuffer), tc.patch)
			err := kube.Create(t.Context(), obj, client.DryRunAll)
			switch {
			case tc.msg == "" && err != nil:
				t.Fatalf("rejected: %v\n%s", err, causes(err))
			case tc.msg != "" && err == nil:
				t.Fatalf("accepted, want an error containing %q", tc.msg)
			case tc.msg != "" && !strings.Contains(err.Error(), tc.msg):
				t.Fatalf("error %v does not contain %q", err, tc.msg)
			}
		})
	}
}
