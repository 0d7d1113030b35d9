package v1_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestNillableDuration(t *testing.T) {
	cases := []struct {
		in      apiv1.NillableDuration
		want    time.Duration
		ok      bool
		wantErr bool
	}{
		{"720h", 720 * time.Hour, true, false},
		{"1h30m", 90 * time.Minute, true, false},
		{"0s", 0, true, false},
		{"Never", 0, false, false},
		{"", 0, false, false},
		{"30d", 0, false, true},
		{"-1h", 0, false, true},
	}
	for _, tc := range cases {
		got, ok, err := tc.in.Duration()
		if got != tc.want || ok != tc.ok || (err != nil) != tc.wantErr {
			t.Errorf("NillableDuration(%q).Duration() = %v, %v, %v; want %v, %v, error %v", tc.in, got, ok, err, tc.want, tc.ok, tc.wantErr)
		}
	}
	if got, want := apiv1.NewNillableDuration(90*time.Minute+1500*time.Millisecond), apiv1.NillableDuration("1h30m1s"); got != want {
		t.Errorf("NewNillableDuration = %q, want %q", got, want)
	}
	if !apiv1.Never.IsNever() || apiv1.NillableDuration("1h").IsNever() {
		t.Error("IsNever is wrong")
	}
}

func TestConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	nc := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	conds := nc.StatusConditions()

	if !conds.Set(t0, apiv1.ConditionTypeLaunched, metav1.ConditionTrue, "Launched", "") {
		t.Error("Set of a new condition reported no change")
	}
	if conds.Set(t1, apiv1.ConditionTypeLaunched, metav1.ConditionTrue, "Launched", "") {
		t.Error("Set of an identical condition reported a change")
	}
	conds.Set(t1, apiv1.ConditionTypeRegistered, metav1.ConditionFalse, "NotRegistered", "waiting")
	want := []metav1.Condition{
		{Type: "Launched", Status: metav1.ConditionTrue, ObservedGeneration: 4, LastTransitionTime: t0, Reason: "Launched"},
		{Type: "Registered", Status: metav1.ConditionFalse, ObservedGeneration: 4, LastTransitionTime: t1, Reason: "NotRegistered", Message: "waiting"},
	}
	if diff := cmp.Diff(want, nc.Status.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if !conds.IsTrue(apiv1.ConditionTypeLaunched) || conds.IsTrue(apiv1.ConditionTypeRegistered) || conds.IsTrue(apiv1.ConditionTypeReady) {
		t.Error("IsTrue is wrong")
	}
	if got := conds.Get(apiv1.ConditionTypeRegistered); got == nil || got.Message != "waiting" {
		t.Errorf("Get(Registered) = %v", got)
	}
	if !conds.Clear(apiv1.ConditionTypeRegistered) || conds.Get(apiv1.ConditionTypeRegistered) != nil {
		t.Error("Clear did not remove Registered")
	}
}

func TestRuntimeValidate(t *testing.T) {
	np := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{
		ObjectMeta: apiv1.NodeClaimTemplateObjectMeta{Labels: map[string]string{"team": "data team", "ok": "fine"}},
		Spec: apiv1.NodeClaimTemplateSpec{
			Taints:        apiv1.Taints{{Key: "example.com/ok", Value: "yes", Effect: corev1.TaintEffectNoSchedule}},
			StartupTaints: apiv1.Taints{{Key: "bad key", Effect: corev1.TaintEffectNoSchedule}},
		},
	}}}
	var got []string
	for _, e := range np.RuntimeValidate() {
		got = append(got, e.Field)
	}
	if diff := cmp.Diff([]string{"spec.template.spec.startupTaints[0].key", "spec.template.metadata.labels[team]"}, got); diff != "" {
		t.Errorf("NodePool.RuntimeValidate fields (-want +got):\n%s", diff)
	}

	class := &apiv1.EC2NodeClass{Spec: apiv1.EC2NodeClassSpec{Kubelet: &apiv1.KubeletConfiguration{
		EvictionHard: map[string]string{"memory.available": "150%", "nodefs.available": "10%", "imagefs.available": "1Gi"},
	}}}
	got = nil
	for _, e := range class.RuntimeValidate() {
		got = append(got, e.Field)
	}
	if diff := cmp.Diff([]string{"spec.kubelet.evictionHard[memory.available]"}, got); diff != "" {
		t.Errorf("EC2NodeClass.RuntimeValidate fields (-want +got):\n%s", diff)
	}
}
