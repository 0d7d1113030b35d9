package nodepool

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestStatusSumsClaimsAndMirrorsNodeClass(t *testing.T) {
	kube := env.DirectClient(t)
	ref := apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.NodePoolSpec{
			Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{NodeClassRef: ref,
				// A taint key the API server's CEL cannot check, but RuntimeValidate does.
				Taints: []corev1.Taint{{Key: "bad key!", Effect: corev1.TaintEffectNoSchedule}}}},
			Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")},
		},
	}
	if err := kube.Create(t.Context(), np); err != nil {
		t.Fatal(err)
	}
	for i, cpu := range []string{"8", "4"} {
		nc := &apiv1.NodeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "default-" + string(rune('a'+i)), Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
			Spec:       apiv1.NodeClaimSpec{NodeClassRef: ref, Resources: apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
		}
		if err := kube.Create(t.Context(), nc); err != nil {
			t.Fatal(err)
		}
		if i == 0 { // launched: its capacity counts; the other is still launching: its requests count
			nc.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("32Gi")}
			if err := kube.Status().Update(t.Context(), nc); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := New(clocktesting.NewFakeClock(time.Now()), kube)
	if err != nil {
		t.Fatal(err)
	}
	reconcile := func() *apiv1.NodePool {
		t.Helper()
		if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "default"}}); err != nil {
			t.Fatal(err)
		}
		got := &apiv1.NodePool{}
		if err := kube.Get(t.Context(), client.ObjectKey{Name: "default"}, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := reconcile()
	if got.Status.Nodes != 2 {
		t.Errorf("nodes = %d, want 2", got.Status.Nodes)
	}
	if cpu := got.Status.Resources[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("9")) != 0 {
		t.Errorf("cpu in use = %s, want 9 (8 launched + 1 requested)", cpu.String())
	}
	conds := got.StatusConditions()
	if v := conds.Get(apiv1.ConditionTypeValidationSucceeded); v == nil || v.Status != metav1.ConditionFalse {
		t.Errorf("ValidationSucceeded = %+v, want False for the bad taint key", v)
	}
	if r := conds.Get(apiv1.ConditionTypeNodeClassReady); r == nil || r.Status != metav1.ConditionFalse ||
		r.Message != `EC2NodeClass "default" does not exist: create it or change spec.template.spec.nodeClassRef.name` {
		t.Errorf("NodeClassReady = %+v, want False saying the EC2NodeClass does not exist", r)
	}
	if conds.IsTrue(apiv1.ConditionTypeReady) {
		t.Errorf("Ready while invalid and without a node class")
	}

	// Fix the taint and create a Ready node class: the pool becomes Ready.
	got.Spec.Template.Spec.Taints = []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
	if err := kube.Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	class := &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"a": "b"}}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"a": "b"}}},
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			Role:                       "TailorNodeRole",
		},
	}
	if err := kube.Create(t.Context(), class); err != nil {
		t.Fatal(err)
	}
	class.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Resolved", "")
	if err := kube.Status().Update(t.Context(), class); err != nil {
		t.Fatal(err)
	}
	if got := reconcile(); !got.StatusConditions().IsTrue(apiv1.ConditionTypeReady) {
		t.Errorf("not Ready with a valid spec and a Ready node class: %+v", got.Status.Conditions)
	}
}
