package provisioning

import (
	"context"
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestPodStartupDuration checks tailor_pods_startup_duration_seconds: a pod Running on a Tailor node is observed with
// creation → Ready (or → container start when not Ready yet); a pod on a node Tailor did not launch is not.
func TestPodStartupDuration(t *testing.T) {
	f := newFixture(t)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	r, err := NewStartupRecorder(clk, f.kube)
	if err != nil {
		t.Fatal(err)
	}
	for name, labels := range map[string]map[string]string{
		"startup-tailor": {apiv1.NodePoolLabelKey: "default"},
		"startup-other":  nil,
	} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := f.kube.Create(t.Context(), node); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.kube.Delete(context.WithoutCancel(t.Context()), node) })
	}

	tests := []struct {
		name      string
		node      string
		ready     time.Duration // Ready condition this long after creation; 0 = not Ready
		started   time.Duration // container started this long after creation
		wantCount uint64
		wantSum   float64
	}{
		{name: "ready on a tailor node", node: "startup-tailor", ready: 7 * time.Second, started: 5 * time.Second, wantCount: 1, wantSum: 7},
		{name: "running, not ready, on a tailor node", node: "startup-tailor", started: 3 * time.Second, wantCount: 1, wantSum: 3},
		{name: "on a node tailor did not launch", node: "startup-other", ready: 9 * time.Second, started: 9 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "startup-" + string(rune('a'+i)), Namespace: f.ns},
				Spec:       corev1.PodSpec{NodeName: tt.node, Containers: []corev1.Container{{Name: "app", Image: "pause"}}},
			}
			if err := f.kube.Create(t.Context(), pod); err != nil {
				t.Fatal(err)
			}
			created := pod.CreationTimestamp.Time
			pod.Status.Phase = corev1.PodRunning
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{
				Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(tt.started))},
			}}}
			if tt.ready > 0 {
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(created.Add(tt.ready))}}
			}
			if err := f.kube.Status().Update(t.Context(), pod); err != nil {
				t.Fatal(err)
			}
			beforeCount, beforeSum := startupHistogram(t)
			if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(pod)}); err != nil {
				t.Fatal(err)
			}
			count, sum := startupHistogram(t)
			if count-beforeCount != tt.wantCount || math.Abs(sum-beforeSum-tt.wantSum) > 1e-9 {
				t.Errorf("observed %d sample(s) summing %vs, want %d summing %vs", count-beforeCount, sum-beforeSum, tt.wantCount, tt.wantSum)
			}
		})
	}
}

func startupHistogram(t *testing.T) (uint64, float64) {
	t.Helper()
	m := &dto.Metric{}
	if err := podStartupDuration.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}
