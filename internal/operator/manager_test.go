package operator_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestManagerCacheStripsManagedFields: the API server gives every object managedFields (often larger than the rest
// of the metadata); the manager's informers drop them, so the 50,000 pods of a large cluster do not carry them in memory.
func TestManagerCacheStripsManagedFields(t *testing.T) {
	env := testenv.StartAPIServer(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	// A ConfigMap for managedFields alone, which every kind loses; a pod below for what pods lose besides.
	created, err := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "heavy", Labels: map[string]string{"app": "heavy"}},
		Data:       map[string]string{"key": "value"},
	}, metav1.CreateOptions{FieldManager: "scale-test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.ManagedFields) == 0 {
		t.Fatal("the API server returned the object without managedFields; the test proves nothing")
	}
	o := &operator.Options{MetricsBindAddress: "0", HealthProbeBindAddress: "0"}
	mgr, err := operator.NewManager(env.Config, o, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)

	var cached corev1.ConfigMap
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(created), &cached) == nil, nil
	})
	if err != nil {
		t.Fatalf("the object never reached the manager's cache: %v", err)
	}
	if n := len(cached.ManagedFields); n != 0 {
		t.Errorf("cached object keeps %d managedFields entries, want none", n)
	}
	if cached.Labels["app"] != "heavy" || cached.Data["key"] != "value" {
		t.Errorf("the transform dropped more than managedFields: labels %v, data %v", cached.Labels, cached.Data)
	}

	// A pod is stripped further (operator.stripForCache): its containers' environment goes, its requests stay.
	ns := testenv.Namespace(t, env.DirectClient(t), "strip")
	pod, err := cs.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Env:       []corev1.EnvVar{{Name: "MODE", Value: "production"}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var cachedPod corev1.Pod
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(pod), &cachedPod) == nil, nil
	})
	if err != nil {
		t.Fatalf("the pod never reached the manager's cache: %v", err)
	}
	c := cachedPod.Spec.Containers[0]
	if len(c.Env) != 0 || len(cachedPod.ManagedFields) != 0 {
		t.Errorf("cached pod keeps its environment %v and %d managedFields entries, want neither", c.Env, len(cachedPod.ManagedFields))
	}
	if got := c.Resources.Requests[corev1.ResourceCPU]; got.String() != "250m" {
		t.Errorf("cached pod requests %s cpu, want 250m", got.String())
	}
}
