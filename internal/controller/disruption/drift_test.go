package disruption

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// machineLabels are the labels a launched m5.large on-demand node in us-east-1a carries.
var machineLabels = map[string]string{
	apiv1.InstanceTypeLabelKey:   "m5.large",
	apiv1.InstanceFamilyLabelKey: "m5",
	apiv1.ZoneLabelKey:           "us-east-1a",
	apiv1.CapacityTypeLabelKey:   apiv1.CapacityTypeOnDemand,
	apiv1.ArchLabelKey:           "amd64",
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) apiv1.NodeSelectorRequirementWithMinValues {
	return apiv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: op, Values: values}
}

// TestDriftOnRequirements: the NodePool's requirements are not part of its hash; a node drifts on them only when its
// labels no longer satisfy them. Template changes other than requirements (taints, labels) still drift by hash.
func TestDriftOnRequirements(t *testing.T) {
	base := []apiv1.NodeSelectorRequirementWithMinValues{
		req(apiv1.InstanceFamilyLabelKey, corev1.NodeSelectorOpIn, "m5"),
		req(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "us-east-1a", "us-east-1b"),
		req(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand, apiv1.CapacityTypeSpot),
	}
	for _, tc := range []struct {
		name        string
		change      func(*apiv1.NodePool)
		wantReason  string // "" = not drifted
		wantMessage string
	}{
		{name: "widened instance family", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements[0].Values = []string{"m5", "m6i", "c5"}
		}},
		{name: "added a requirement the node meets", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements = append(np.Spec.Template.Spec.Requirements, req(apiv1.ArchLabelKey, corev1.NodeSelectorOpIn, "amd64", "arm64"))
		}},
		{name: "narrowed instance family", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements[0].Values = []string{"m6i"}
		}, wantReason: state.DriftReasonRequirements, wantMessage: "tailor.sh/instance-family=m5"},
		{name: "excluded instance type", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements = append(np.Spec.Template.Spec.Requirements, req(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpNotIn, "m5.large"))
		}, wantReason: state.DriftReasonRequirements, wantMessage: "node.kubernetes.io/instance-type NotIn [m5.large]"},
		{name: "narrowed zone", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements[1].Values = []string{"us-east-1b"}
		}, wantReason: state.DriftReasonRequirements, wantMessage: "topology.kubernetes.io/zone In [us-east-1b]"},
		{name: "narrowed capacity type", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Requirements[2].Values = []string{apiv1.CapacityTypeSpot}
		}, wantReason: state.DriftReasonRequirements, wantMessage: "tailor.sh/capacity-type In [spot]"},
		{name: "taint", change: func(np *apiv1.NodePool) {
			np.Spec.Template.Spec.Taints = apiv1.Taints{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}, wantReason: state.DriftReasonNodePool},
		{name: "label", change: func(np *apiv1.NodePool) {
			np.Spec.Template.ObjectMeta.Labels = map[string]string{"team": "new"}
		}, wantReason: state.DriftReasonNodePool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			np := f.pool(func(np *apiv1.NodePool) { np.Spec.Template.Spec.Requirements = base })
			f.claim("a", np, func(nc *apiv1.NodeClaim) {
				for k, v := range machineLabels {
					nc.Labels[k] = v
				}
				// Held, so the pass marks it but does not remove it.
				nc.Annotations[apiv1.DoNotDisruptAnnotationKey] = "true"
			})
			f.disrupt()
			if c := f.exists("a").StatusConditions().Get(apiv1.ConditionTypeDrifted); c != nil {
				t.Fatalf("drifted before the NodePool changed: %s: %s", c.Reason, c.Message)
			}
			if err := f.kube.Get(t.Context(), client.ObjectKeyFromObject(np), np); err != nil {
				t.Fatal(err)
			}
			tc.change(np)
			if err := f.kube.Update(t.Context(), np); err != nil {
				t.Fatal(err)
			}
			f.disrupt()
			c := f.exists("a").StatusConditions().Get(apiv1.ConditionTypeDrifted)
			switch {
			case tc.wantReason == "" && c != nil:
				t.Fatalf("drifted (%s: %s), want not drifted", c.Reason, c.Message)
			case tc.wantReason == "":
			case c == nil || c.Status != metav1.ConditionTrue:
				t.Fatalf("not drifted, want drifted with reason %s", tc.wantReason)
			case c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantMessage):
				t.Fatalf("drifted with %s: %q, want reason %s and a message naming %q", c.Reason, c.Message, tc.wantReason, tc.wantMessage)
			}
		})
	}
}

// TestDriftHashVersion: a NodeClaim whose hash was computed by an older Tailor (no version annotation) is re-stamped
// with the current hash instead of drifting; one already drifted by the old hash stays drifted; after the re-stamp,
// a real template change drifts it.
func TestDriftHashVersion(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	old := func(nc *apiv1.NodeClaim) {
		nc.Annotations = map[string]string{apiv1.NodePoolHashAnnotationKey: "00000000000000ff", apiv1.DoNotDisruptAnnotationKey: "true"}
	}
	f.claim("fresh", np, old)
	stale := f.claim("stale", np, old)
	stale.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeDrifted, metav1.ConditionTrue, state.DriftReasonNodePool, "the NodePool's template changed since this node launched")
	if err := f.kube.Status().Update(t.Context(), stale); err != nil {
		t.Fatal(err)
	}
	f.disrupt()
	fresh := f.exists("fresh")
	if c := fresh.StatusConditions().Get(apiv1.ConditionTypeDrifted); c != nil {
		t.Fatalf("an old-version hash drifted the node (%s: %s); want it re-stamped", c.Reason, c.Message)
	}
	if got := fresh.Annotations[apiv1.NodePoolHashAnnotationKey]; got != state.NodePoolHash(np) {
		t.Errorf("hash annotation %q after the pass, want the current hash %q", got, state.NodePoolHash(np))
	}
	if got := fresh.Annotations[apiv1.NodePoolHashVersionAnnotationKey]; got == "" {
		t.Errorf("no %s annotation after the pass", apiv1.NodePoolHashVersionAnnotationKey)
	}
	if !f.exists("stale").StatusConditions().IsTrue(apiv1.ConditionTypeDrifted) {
		t.Errorf("a node drifted before the upgrade is no longer drifted")
	}
	if err := f.kube.Get(t.Context(), client.ObjectKeyFromObject(np), np); err != nil {
		t.Fatal(err)
	}
	np.Spec.Template.Spec.Taints = apiv1.Taints{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
	if err := f.kube.Update(t.Context(), np); err != nil {
		t.Fatal(err)
	}
	f.disrupt()
	if c := f.exists("fresh").StatusConditions().Get(apiv1.ConditionTypeDrifted); c == nil || c.Reason != state.DriftReasonNodePool {
		t.Fatalf("a re-stamped node is not drifted by a taint change: %+v", c)
	}
}
