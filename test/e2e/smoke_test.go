package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestSmokeSchedulingOnKWOKNode is the floor every other end-to-end test stands on: pods that fit nowhere are
// reported Unschedulable by the real kube-scheduler, and once a (KWOK) node with room appears they are bound to it
// and become Running.
func TestSmokeSchedulingOnKWOKNode(t *testing.T) {
	ctx := t.Context()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns := createNamespace(t, cs, "smoke")

	deploy := testenv.Inflate(ns, 4)
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating deployment: %v", err)
	}

	// With no node at all, every replica is Pending with PodScheduled=False, reason Unschedulable.
	waitForPods(t, cs, ns, "4 pods unschedulable", func(pods []corev1.Pod) bool {
		return len(pods) == 4 && all(pods, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodPending && testenv.Unschedulable(&p)
		})
	})

	nodeName := "smoke-" + ns
	_, err := testenv.CreateKWOKNode(ctx, cs, nodeName, corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Nodes().Delete(context.WithoutCancel(ctx), nodeName, metav1.DeleteOptions{})
	})

	// The scheduler binds all four to the new node and KWOK runs them.
	waitForPods(t, cs, ns, "4 pods running on "+nodeName, func(pods []corev1.Pod) bool {
		return len(pods) == 4 && all(pods, func(p corev1.Pod) bool {
			return p.Spec.NodeName == nodeName && p.Status.Phase == corev1.PodRunning
		})
	})
}

func createNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	// Pods need the namespace's default ServiceAccount before they can be created.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for the default service account in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.WithoutCancel(t.Context()), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// waitForPods polls the namespace's pods until ok holds, failing the test after a minute with their last state.
func waitForPods(t *testing.T, cs kubernetes.Interface, ns, what string, ok func([]corev1.Pod) bool) {
	t.Helper()
	start := time.Now()
	var last []corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		last = list.Items
		return ok(last), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; pods: %s", what, err, describePods(last))
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

func describePods(pods []corev1.Pod) string {
	s := ""
	for _, p := range pods {
		cond := podCondition(p, corev1.PodScheduled)
		reason := ""
		if cond != nil {
			reason = cond.Reason
		}
		s += fmt.Sprintf("\n  %s phase=%s node=%q scheduled=%s", p.Name, p.Status.Phase, p.Spec.NodeName, reason)
	}
	return s
}

func podCondition(p corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func all[T any](items []T, f func(T) bool) bool {
	for _, it := range items {
		if !f(it) {
			return false
		}
	}
	return true
}
