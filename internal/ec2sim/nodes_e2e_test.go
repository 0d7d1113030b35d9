package ec2sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// The package's control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK) starts on first use, so
// the protocol tests do not wait for it, and TestMain stops it.
var (
	envOnce sync.Once
	env     *testenv.Environment
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func controlPlane(t *testing.T) *testenv.Environment {
	t.Helper()
	envOnce.Do(func() {
		//nolint:forbidigo // the control plane outlives the test that happens to start it; TestMain stops it.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		env, envErr = testenv.Start(ctx, testenv.Options{})
	})
	if envErr != nil {
		t.Fatalf("starting the control plane: %v", envErr)
	}
	return env
}

// nodeSim is a Sim that registers Nodes on the package's control plane, its tick loop running as Serve runs it.
func nodeSim(t *testing.T) (*harness, kubernetes.Interface) {
	t.Helper()
	cp := controlPlane(t)
	kube, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatalf("building a client: %v", err)
	}
	h := newHarness(t, func(o *Options) {
		o.Clock = clock.RealClock{}
		o.KubeClient = kube
		o.Timing = Timing{LaunchLatency: 100 * time.Millisecond, BootLatency: 200 * time.Millisecond,
			TerminateLatency: 200 * time.Millisecond, TickInterval: 50 * time.Millisecond}
	})
	ctx := t.Context()
	go func() {
		ticker := time.NewTicker(50 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if err := h.sim.Tick(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("Tick: %v", err)
				}
			}
		}
	}()
	return h, kube
}

// TestTerminationLeavesANewerInstancesNode: ec2sim hands a terminated instance's address, and so its Node name, to
// the next instance. When something else (Tailor's termination) deleted the old Node first and a newer instance
// registered under the name, the old instance's shutdown must neither stop that Node's kubelet nor delete it (seen
// in `make scale` at 2,000 pods: a fresh Node deleted by name).
func TestTerminationLeavesANewerInstancesNode(t *testing.T) {
	h, kube := nodeSim(t)
	ctx := t.Context()
	lt := h.launchTemplate("reuse", "x86_64", base64.StdEncoding.EncodeToString([]byte(al2023MIME)))
	ids := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1c"}))
	if len(ids) != 1 {
		t.Fatalf("launched %v, want one instance", ids)
	}
	inst, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	name := aws.ToString(inst.Reservations[0].Instances[0].PrivateDnsName)
	var old *corev1.Node
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		old = n
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("node %s not registered: %v", name, err)
	}
	// Tailor's termination deletes the Node; a newer instance registers under the same name.
	if err := kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	newer := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: old.Labels, Annotations: old.Annotations},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1c/i-0newer000000000000"}}
	delete(newer.Annotations, KubeletStoppedAnnotation)
	if _, err := kube.CoreV1().Nodes().Create(ctx, newer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Nodes().Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{}) })

	if _, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	// Terminated, and ec2sim has done with its Node (its removal marks NodeDeleted).
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, in := range h.sim.Instances() {
			if in.ID == ids[0] {
				return in.State == "terminated" && in.NodeDeleted, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("instance %s not terminated with its Node removed: %v", ids[0], err)
	}
	got, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the newer instance's Node %s: %v (deleted by the old instance's shutdown)", name, err)
	}
	if got.Spec.ProviderID != newer.Spec.ProviderID || got.Annotations[KubeletStoppedAnnotation] == "true" {
		t.Errorf("the newer instance's Node %s was touched by the old instance's shutdown: providerID %s, annotations %v",
			name, got.Spec.ProviderID, got.Annotations)
	}
}

func TestNodeRegistrationEndToEnd(t *testing.T) {
	h, kube := nodeSim(t)
	ctx := t.Context()

	userData := base64.StdEncoding.EncodeToString([]byte(al2023MIME))
	lt := h.launchTemplate("e2e", "x86_64", userData)
	ids := launchedIDs(h.fleet(lt, "spot", 1, [2]string{"m5.large", "us-east-1b"}))
	if len(ids) != 1 {
		t.Fatalf("launched %v, want one instance", ids)
	}
	inst, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	name := aws.ToString(inst.Reservations[0].Instances[0].PrivateDnsName)
	ip := aws.ToString(inst.Reservations[0].Instances[0].PrivateIpAddress)

	var node *corev1.Node
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		node = n
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("node %s did not become Ready: %v (last seen %+v)", name, err, node)
	}

	if got, want := node.Spec.ProviderID, "aws:///us-east-1b/"+ids[0]; got != want {
		t.Errorf("providerID %s, want %s", got, want)
	}
	if node.Annotations[KWOKAnnotation] != "fake" {
		t.Errorf("annotations %v lack %s=fake", node.Annotations, KWOKAnnotation)
	}
	wantLabels := map[string]string{
		"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name,
		"node.kubernetes.io/instance-type": "m5.large", "topology.kubernetes.io/zone": "us-east-1b",
		"topology.kubernetes.io/region": "us-east-1", "topology.k8s.aws/zone-id": "use1-az2",
		"tailor.sh/nodepool": "gpu", "tailor.sh/capacity-type": "spot",
	}
	for k, v := range wantLabels {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	wantTaints := []corev1.Taint{
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		{Key: "tailor.sh/unregistered", Effect: corev1.TaintEffectNoExecute},
	}
	// The node lifecycle taints (node.kubernetes.io/not-ready, …) are the API server's and kube-controller-manager's,
	// which lift not-ready a moment after Ready: only what ec2sim registered is compared.
	var registered []corev1.Taint
	for _, taint := range node.Spec.Taints {
		if !strings.HasPrefix(taint.Key, "node.kubernetes.io/") {
			registered = append(registered, taint)
		}
	}
	if diff := cmp.Diff(wantTaints, registered, cmpopts.IgnoreFields(corev1.Taint{}, "TimeAdded")); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	// m5.large: 8192Mi advertised less 7.5% is 7578Mi; the user data reserves 893Mi + 100Mi and evicts at 5%
	// (378Mi of 7578Mi), cpu 80m, storage 1Gi + 10% of the 50Gi root volume; maxPods 58.
	q := resource.MustParse
	capacityMemory := int64(7578 << 20)
	wantAllocatable := corev1.ResourceList{
		"cpu":               q("1920m"),
		"memory":            *resource.NewQuantity(capacityMemory-993<<20-int64(float64(capacityMemory)*5/100), resource.BinarySI),
		"pods":              q("58"),
		"ephemeral-storage": q("44Gi"),
	}
	if diff := cmp.Diff(wantAllocatable, node.Status.Allocatable, quantityEqual); diff != "" {
		t.Errorf("allocatable (-want +got):\n%s", diff)
	}
	if got := node.Status.Capacity[corev1.ResourcePods]; got.Value() != 58 {
		t.Errorf("capacity pods = %s, want 58 from the user data's maxPods", got.String())
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != ip {
		t.Errorf("addresses %v, want the instance's %s first", node.Status.Addresses, ip)
	}

	// KWOK runs pods on the node like a kubelet would.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "on-sim-node", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/hostname": name},
			Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:   []corev1.Container{{Name: "c", Image: "registry.invalid/none:latest"}},
		},
	}
	if _, err := kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a pod: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == name, err
	})
	if err != nil {
		t.Errorf("the pod did not run on %s: %v", name, err)
	}
	if err := kube.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: aws.Int64(0)}); err != nil {
		t.Errorf("deleting the pod: %v", err)
	}
	// A pod still running when the instance is terminated (not drained) stops running with it: the kubelet dies
	// with the instance.
	undrained := pod.DeepCopy()
	undrained.Name = "undrained"
	if _, err := kube.CoreV1().Pods("default").Create(ctx, undrained, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a pod: %v", err)
	}
	t.Cleanup(func() {
		_ = kube.CoreV1().Pods("default").Delete(context.WithoutCancel(ctx), undrained.Name, metav1.DeleteOptions{GracePeriodSeconds: aws.Int64(0)})
	})
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := kube.CoreV1().Pods("default").Get(ctx, undrained.Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	if err != nil {
		t.Fatalf("the second pod did not run on %s: %v", name, err)
	}
	running, err := kube.CoreV1().Pods("default").Get(ctx, undrained.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + undrained.Name, ResourceVersion: running.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()

	if _, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("node %s was not deleted after termination: %v", name, err)
	}
	// The pod turned Failed (reclaimed) and, once its Node was deleted, went away as the pod garbage collector
	// would take it.
	var failed *corev1.Pod
	deleted := false
	timeout := time.After(30 * time.Second)
	for !deleted {
		select {
		case ev, ok := <-watch.ResultChan():
			if !ok {
				t.Fatal("the watch on the undrained pod ended")
			}
			p, _ := ev.Object.(*corev1.Pod)
			switch {
			case p == nil:
			case ev.Type == "DELETED":
				deleted = true
			case p.Status.Phase == corev1.PodFailed && failed == nil:
				failed = p
			}
		case <-timeout:
			t.Fatalf("the undrained pod was not deleted with its node within 30 s (failed: %t)", failed != nil)
		}
	}
	if failed == nil {
		t.Fatal("the pod on the terminated instance went away without turning Failed first")
	}
	ready := ""
	for _, c := range failed.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = string(c.Status)
		}
	}
	if failed.Status.Reason != PodReclaimedReason || ready != "False" {
		t.Errorf("pod on the terminated instance: phase %s, reason %q, Ready %q; want Failed, %q, False (its node's kubelet died with the instance)",
			failed.Status.Phase, failed.Status.Reason, ready, PodReclaimedReason)
	}
	out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids,
		Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"terminated"}}}})
	if err != nil || len(out.Reservations) != 1 {
		t.Errorf("the instance should be terminated: %v %+v", err, out)
	}
}
