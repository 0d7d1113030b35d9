package scheduling

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestReasonFields: each rejection carries its kind, the NodePool it is about and the resource at fault, so callers
// need not parse the wording.
func TestReasonFields(t *testing.T) {
	limited := nodePool("small", smallCatalog()...).limit(corev1.ResourceCPU, "4").obj()
	tainted := nodePool("gpu", smallCatalog()...).taint("nvidia.com/gpu", "true", corev1.TaintEffectNoSchedule).obj()
	full := existingNode("n-1", "test-1a", "1", "1Gi")
	tests := []struct {
		name string
		snap *Snapshot
		pod  *corev1.Pod
		want []Reason
	}{
		{"limit", &Snapshot{NodePools: []*NodePool{limited}}, pod("p").req("6", "1Gi").obj(),
			[]Reason{{Kind: ReasonLimit, NodePool: "small", Resource: corev1.ResourceCPU, Message: "cpu limit 4 would be exceeded"}}},
		{"too much memory and a taint", &Snapshot{NodePools: []*NodePool{tainted, defaultPool()}}, pod("p").req("1", "300Gi").obj(),
			[]Reason{
				{Kind: ReasonNoInstanceType, NodePool: "default", Resource: corev1.ResourceMemory, Message: "no instance type has 300Gi memory (largest allowed: 256Gi)"},
				{Kind: ReasonTaint, NodePool: "gpu", Message: "the pod does not tolerate taint nvidia.com/gpu=true:NoSchedule"},
			}},
		{"existing node full, no NodePool", &Snapshot{Nodes: []*ExistingNode{full}}, pod("p").req("2", "1Gi").obj(),
			[]Reason{
				{Kind: ReasonInsufficient, Resource: corev1.ResourceCPU, Message: `existing nodes: none of 1 fits (first: node "n-1": insufficient cpu)`},
				{Kind: ReasonNoNodePool, Message: reasonNoNodePool},
			}},
		{"node selector", &Snapshot{NodePools: []*NodePool{defaultPool()}}, pod("p").req("1", "1Gi").selector(apiv1.ArchLabelKey, "arm64").obj(),
			[]Reason{{Kind: ReasonRequirements, NodePool: "default", Message: "requirement kubernetes.io/arch In [amd64] conflicts with pod nodeSelector kubernetes.io/arch=arm64"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := solve(t, tt.snap, []*corev1.Pod{tt.pod}, Options{})
			if len(r.Unschedulable) != 1 {
				t.Fatalf("%d pods unschedulable, want 1", len(r.Unschedulable))
			}
			got := r.Unschedulable[0].Reasons
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReasonString(t *testing.T) {
	for _, tt := range []struct {
		r    Reason
		want string
	}{
		{Reason{Kind: ReasonLimit, NodePool: "a", Resource: corev1.ResourceCPU, Message: "cpu limit 4 would be exceeded"}, `nodepool "a" cpu limit 4 would be exceeded`},
		{Reason{Kind: ReasonTaint, NodePool: "a", Message: "the pod does not tolerate taint x=y:NoSchedule"}, `nodepool "a": the pod does not tolerate taint x=y:NoSchedule`},
		{Reason{Kind: ReasonDRA, Message: reasonDRA}, reasonDRA},
	} {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
