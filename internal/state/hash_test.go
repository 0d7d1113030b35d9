package state

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func hashPool(mutate func(*apiv1.NodeClaimTemplate)) *apiv1.NodePool {
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
			Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
				{Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5"}},
			},
		}}},
	}
	if mutate != nil {
		mutate(&np.Spec.Template)
	}
	return np
}

// TestNodePoolHashCoversTemplateButNotRequirements: requirements are checked against the node's labels, not hashed;
// everything else in the template is.
func TestNodePoolHashCoversTemplateButNotRequirements(t *testing.T) {
	base := NodePoolHash(hashPool(nil))
	for _, tc := range []struct {
		name    string
		mutate  func(*apiv1.NodeClaimTemplate)
		changes bool
	}{
		{"widened requirement", func(tmpl *apiv1.NodeClaimTemplate) { tmpl.Spec.Requirements[0].Values = []string{"m5", "m6i"} }, false},
		{"narrowed requirement", func(tmpl *apiv1.NodeClaimTemplate) { tmpl.Spec.Requirements[0].Values = []string{"m6i"} }, false},
		{"added requirement", func(tmpl *apiv1.NodeClaimTemplate) {
			tmpl.Spec.Requirements = append(tmpl.Spec.Requirements, apiv1.NodeSelectorRequirementWithMinValues{Key: apiv1.ZoneLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a"}})
		}, false},
		{"taint", func(tmpl *apiv1.NodeClaimTemplate) {
			tmpl.Spec.Taints = apiv1.Taints{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}, true},
		{"startup taint", func(tmpl *apiv1.NodeClaimTemplate) {
			tmpl.Spec.StartupTaints = apiv1.Taints{{Key: "cni", Effect: corev1.TaintEffectNoSchedule}}
		}, true},
		{"label", func(tmpl *apiv1.NodeClaimTemplate) { tmpl.ObjectMeta.Labels = map[string]string{"team": "a"} }, true},
		{"annotation", func(tmpl *apiv1.NodeClaimTemplate) { tmpl.ObjectMeta.Annotations = map[string]string{"a": "b"} }, true},
		{"node class", func(tmpl *apiv1.NodeClaimTemplate) { tmpl.Spec.NodeClassRef.Name = "gpu" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NodePoolHash(hashPool(tc.mutate))
			if changed := got != base; changed != tc.changes {
				t.Errorf("hash changed = %v (%s → %s), want %v", changed, base, got, tc.changes)
			}
		})
	}
}

// TestCheckNodePoolDrift: the static hash, the hash version and the requirements against the node's labels.
func TestCheckNodePoolDrift(t *testing.T) {
	np := hashPool(func(tmpl *apiv1.NodeClaimTemplate) {
		tmpl.Spec.Requirements = append(tmpl.Spec.Requirements,
			apiv1.NodeSelectorRequirementWithMinValues{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"spot"}},
			apiv1.NodeSelectorRequirementWithMinValues{Key: apiv1.InstanceCPULabelKey, Operator: corev1.NodeSelectorOpGt, Values: []string{"2"}},
			apiv1.NodeSelectorRequirementWithMinValues{Key: "team", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}})
	})
	current := NodePoolHashAnnotations(np)
	labels := map[string]string{apiv1.InstanceFamilyLabelKey: "m5", apiv1.CapacityTypeLabelKey: "on-demand", apiv1.InstanceCPULabelKey: "4"}
	with := func(k, v string) map[string]string {
		out := map[string]string{}
		for lk, lv := range labels {
			out[lk] = lv
		}
		out[k] = v
		return out
	}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		labels      map[string]string
		driftedBy   string // a Drifted condition already on the claim
		want        NodePoolDrift
	}{
		{name: "matches", annotations: current, labels: labels},
		{name: "no hash annotation", labels: labels},
		{name: "label the NodePool does not constrain", annotations: current, labels: with("other", "x")},
		{name: "template changed", annotations: map[string]string{apiv1.NodePoolHashAnnotationKey: "ffff", apiv1.NodePoolHashVersionAnnotationKey: NodePoolHashVersion}, labels: labels,
			want: NodePoolDrift{Reason: DriftReasonNodePool, Message: "the NodePool's template changed since this node launched (hash ffff, now " + NodePoolHash(np) + ")"}},
		{name: "old hash version is re-stamped", annotations: map[string]string{apiv1.NodePoolHashAnnotationKey: "ffff"}, labels: labels,
			want: NodePoolDrift{Restamp: true}},
		{name: "old hash version already drifted stays drifted", annotations: map[string]string{apiv1.NodePoolHashAnnotationKey: "ffff"}, labels: labels, driftedBy: DriftReasonNodePool,
			want: NodePoolDrift{Reason: DriftReasonNodePool, Message: "changed"}},
		{name: "old hash version drifted by the provider is re-stamped", annotations: map[string]string{apiv1.NodePoolHashAnnotationKey: "ffff"}, labels: labels, driftedBy: "AMIDrifted",
			want: NodePoolDrift{Restamp: true}},
		{name: "old hash version and requirements broken", annotations: map[string]string{apiv1.NodePoolHashAnnotationKey: "ffff"}, labels: with(apiv1.InstanceFamilyLabelKey, "c5"),
			want: NodePoolDrift{Restamp: true, Reason: DriftReasonRequirements, Message: "the node's label tailor.sh/instance-family=c5 no longer satisfies the NodePool's requirement tailor.sh/instance-family In [m5]"}},
		{name: "In excludes the family", annotations: current, labels: with(apiv1.InstanceFamilyLabelKey, "c5"),
			want: NodePoolDrift{Reason: DriftReasonRequirements, Message: "the node's label tailor.sh/instance-family=c5 no longer satisfies the NodePool's requirement tailor.sh/instance-family In [m5]"}},
		{name: "NotIn excludes the capacity type", annotations: current, labels: with(apiv1.CapacityTypeLabelKey, "spot"),
			want: NodePoolDrift{Reason: DriftReasonRequirements, Message: "the node's label tailor.sh/capacity-type=spot no longer satisfies the NodePool's requirement tailor.sh/capacity-type NotIn [spot]"}},
		{name: "Gt excludes the size", annotations: current, labels: with(apiv1.InstanceCPULabelKey, "2"),
			want: NodePoolDrift{Reason: DriftReasonRequirements, Message: "the node's label tailor.sh/instance-cpu=2 no longer satisfies the NodePool's requirement tailor.sh/instance-cpu Gt [2]"}},
		{name: "custom label with another value", annotations: current, labels: with("team", "b"),
			want: NodePoolDrift{Reason: DriftReasonRequirements, Message: "the node's label team=b no longer satisfies the NodePool's requirement team In [a]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations, Labels: tc.labels}}
			if tc.driftedBy != "" {
				nc.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeDrifted, metav1.ConditionTrue, tc.driftedBy, "changed")
			}
			if got := CheckNodePoolDrift(nc, np); got != tc.want {
				t.Errorf("CheckNodePoolDrift = %+v, want %+v", got, tc.want)
			}
		})
	}
}
