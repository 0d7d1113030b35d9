package capacitybuffer

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestStatus: a buffer on a workload resolves its percentage against the workload's replicas and is Ready; a buffer
// naming a missing PodTemplate is not Ready and says which field to fix, until the template appears.
func TestStatus(t *testing.T) {
	kube := env.DirectClient(t)
	ns := testenv.Namespace(t, kube, "buffer")
	c, err := New(clocktesting.NewFakeClock(time.Now()), kube)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}},
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](9), Template: tmpl,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	onWorkload := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: apiv1.CapacityBufferSpec{ScalableRef: &apiv1.ScalableReference{APIGroup: "apps", Kind: "Deployment", Name: "web"},
			Percentage: ptr.To[int32](25)},
	}
	onTemplate := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"},
		Spec:       apiv1.CapacityBufferSpec{PodTemplateRef: &apiv1.LocalObjectReference{Name: "batch"}, Replicas: ptr.To[int32](2)},
	}
	for _, o := range []client.Object{deploy, onWorkload, onTemplate} {
		if err := kube.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	reconcile := func(cb *apiv1.CapacityBuffer) *apiv1.CapacityBuffer {
		t.Helper()
		if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cb)}); err != nil {
			t.Fatal(err)
		}
		got := &apiv1.CapacityBuffer{}
		if err := kube.Get(t.Context(), client.ObjectKeyFromObject(cb), got); err != nil {
			t.Fatal(err)
		}
		return got
	}

	got := reconcile(onWorkload)
	if got.Status.Replicas == nil || *got.Status.Replicas != 3 {
		t.Errorf("status.replicas = %v, want 3 (25%% of 9, rounded up)", got.Status.Replicas)
	}
	if ready := got.StatusConditions().Get(apiv1.ConditionTypeReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", ready)
	}
	if got.Status.ProvisioningStrategy == nil || *got.Status.ProvisioningStrategy != apiv1.ProvisioningStrategyActiveCapacity {
		t.Errorf("status.provisioningStrategy = %v", got.Status.ProvisioningStrategy)
	}

	got = reconcile(onTemplate)
	ready := got.StatusConditions().Get(apiv1.ConditionTypeReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != apiv1.CapacityBufferReasonTemplateNotFound ||
		!strings.Contains(ready.Message, "spec.podTemplateRef") {
		t.Errorf("Ready = %+v, want False, %s, naming spec.podTemplateRef", ready, apiv1.CapacityBufferReasonTemplateNotFound)
	}
	if got.Status.Replicas != nil {
		t.Errorf("status.replicas = %d for a buffer that resolved to nothing", *got.Status.Replicas)
	}

	if err := kube.Create(t.Context(), &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "batch"}, Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	got = reconcile(onTemplate)
	if ready := got.StatusConditions().Get(apiv1.ConditionTypeReady); ready == nil || ready.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v once the template exists, want True", ready)
	}
	if got.Status.PodTemplateRef == nil || got.Status.PodTemplateRef.Name != "batch" || got.Status.Replicas == nil || *got.Status.Replicas != 2 {
		t.Errorf("status = %+v, want podTemplateRef batch and 2 replicas", got.Status)
	}
}
