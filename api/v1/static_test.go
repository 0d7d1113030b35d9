package v1_test

import (
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestStaticNodePoolScale: `kubectl scale` works on a static NodePool (the scale subresource reads and writes
// spec.replicas), and a NodePool cannot switch between static and dynamic after creation.
func TestStaticNodePoolScale(t *testing.T) {
	static := mergePatch(t, object(t, baseNodePool), `{metadata: {name: static-scale}, spec: {replicas: 2}}`)
	if err := kube.Create(t.Context(), static); err != nil {
		t.Fatalf("creating a static NodePool: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), static) })
	cs := kubernetes.NewForConfigOrDie(restCfg)
	// The scale subresource, as kubectl scale uses it.
	scale := &autoscalingv1.Scale{}
	err := cs.AppsV1().RESTClient().Get().AbsPath("/apis/tailor.sh/v1/nodepools/static-scale/scale").Do(t.Context()).Into(scale)
	if err != nil {
		t.Fatalf("reading the scale subresource: %v", err)
	}
	if scale.Spec.Replicas != 2 {
		t.Fatalf("scale.spec.replicas = %d, want 2", scale.Spec.Replicas)
	}
	scale.Spec.Replicas = 3
	err = cs.AppsV1().RESTClient().Put().AbsPath("/apis/tailor.sh/v1/nodepools/static-scale/scale").Body(scale).Do(t.Context()).Error()
	if err != nil {
		t.Fatalf("writing the scale subresource: %v", err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(static.GroupVersionKind())
	if err := kube.Get(t.Context(), client.ObjectKeyFromObject(static), got); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); r != 3 {
		t.Errorf("spec.replicas = %d after scaling to 3", r)
	}

	// static → dynamic is refused, naming the field and the fix.
	unstructured.RemoveNestedField(got.Object, "spec", "replicas")
	err = kube.Update(t.Context(), got)
	if err == nil || !strings.Contains(err.Error(), "replicas cannot be added to or removed from an existing NodePool") {
		t.Errorf("removing replicas from a static NodePool: got %v, want the static/dynamic refusal", err)
	}

	// dynamic → static is refused too (kubectl scale on a dynamic NodePool).
	dynamic := mergePatch(t, object(t, baseNodePool), `{metadata: {name: dynamic-scale}}`)
	if err := kube.Create(t.Context(), dynamic); err != nil {
		t.Fatalf("creating a dynamic NodePool: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), dynamic) })
	scale = &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "dynamic-scale"}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
	err = cs.AppsV1().RESTClient().Put().AbsPath("/apis/tailor.sh/v1/nodepools/dynamic-scale/scale").Body(scale).Do(t.Context()).Error()
	if err == nil || !strings.Contains(err.Error(), "replicas cannot be added") {
		t.Errorf("scaling a dynamic NodePool: got %v, want the static/dynamic refusal", err)
	}
}
