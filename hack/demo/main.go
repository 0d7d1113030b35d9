// Command demo runs Tailor's reference scenario on a local control plane, offline, narrating each step.
//
// Until the provisioning controller exists, the node that Tailor would launch is stood in for by a KWOK node created
// here, sized as Tailor would size it; everything else (API server, scheduler, controller-manager, fake kubelets) is
// the real thing.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/tailor-sh/tailor/internal/testenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	say("starting a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK)")
	opts := testenv.Options{}
	if root, err := testenv.RepoRoot(); err == nil {
		if entries, err := os.ReadDir(filepath.Join(root, "config", "crd")); err == nil && len(entries) > 0 {
			opts.CRDDirectoryPaths = []string{filepath.Join(root, "config", "crd")}
		}
	}
	env, err := testenv.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		say("stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping:", err)
		}
	}()
	say("control plane ready in %s (KUBECONFIG=%s)", env.StartupTime.Round(time.Millisecond), env.KubeconfigPath)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	return scenario(ctx, cs)
}

func scenario(ctx context.Context, cs kubernetes.Interface) error {
	const ns = metav1.NamespaceDefault
	say("deploying inflate: pause image, 1 CPU request, 0 replicas")
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, testenv.Inflate(ns, 0), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating inflate: %w", err)
	}
	say("scaling inflate to 4")
	if err := scale(ctx, cs, ns, 4); err != nil {
		return err
	}
	if err := waitPods(ctx, cs, ns, "4 pods Pending, kube-scheduler says Unschedulable", func(pods []corev1.Pod) bool {
		return len(pods) == 4 && every(pods, func(p corev1.Pod) bool { return testenv.Unschedulable(&p) })
	}); err != nil {
		return err
	}
	const node = "demo-node-1"
	say("launching one node with 8 CPU, 32Gi (stand-in for Tailor's provisioning, which is not built yet)")
	if _, err := testenv.CreateKWOKNode(ctx, cs, node, corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}, map[string]string{"node.kubernetes.io/instance-type": "m7i.2xlarge"}); err != nil {
		return err
	}
	if err := waitPods(ctx, cs, ns, "all 4 pods Running on "+node, func(pods []corev1.Pod) bool {
		return len(pods) == 4 && every(pods, func(p corev1.Pod) bool {
			return p.Spec.NodeName == node && p.Status.Phase == corev1.PodRunning
		})
	}); err != nil {
		return err
	}
	say("scaling inflate to 0")
	if err := scale(ctx, cs, ns, 0); err != nil {
		return err
	}
	if err := waitPods(ctx, cs, ns, "no pods left", func(pods []corev1.Pod) bool { return len(pods) == 0 }); err != nil {
		return err
	}
	say("deleting the empty node %s (stand-in for Tailor's emptiness disruption)", node)
	if err := cs.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("deleting node: %w", err)
	}
	say("done")
	return nil
}

func scale(ctx context.Context, cs kubernetes.Interface, ns string, replicas int32) error {
	// The deployment controller updates the object too; retry on conflict as kubectl scale does.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "inflate", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = cs.AppsV1().Deployments(ns).UpdateScale(ctx, "inflate", s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("scaling inflate to %d: %w", replicas, err)
	}
	return nil
}

func waitPods(ctx context.Context, cs kubernetes.Interface, ns, what string, ok func([]corev1.Pod) bool) error {
	start := time.Now()
	var last []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=inflate"})
		if err != nil {
			return false, err
		}
		last = list.Items
		return ok(last), nil
	})
	if err != nil {
		var b strings.Builder
		for _, p := range last {
			fmt.Fprintf(&b, "\n  %s %s node=%q", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		return fmt.Errorf("waiting for %s: %w%s", what, err, b.String())
	}
	say("%s (%s)", what, time.Since(start).Round(time.Millisecond))
	for _, p := range last {
		fmt.Printf("           %-32s %-8s %s\n", p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	return nil
}

func every(pods []corev1.Pod, f func(corev1.Pod) bool) bool {
	for _, p := range pods {
		if !f(p) {
			return false
		}
	}
	return true
}
