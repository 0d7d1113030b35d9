package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

const (
	clusterName = "scale-cluster"
	namespace   = metav1.NamespaceDefault
	workload    = "scale"
	// instanceType is the only type the NodePool allows, so the node count follows from the pods: 4 vCPUs
	// (3920m allocatable) hold 10 pods of podCPU and not 11.
	instanceType = "m5.xlarge"
	podCPU       = "380m"
	podMemory    = "256Mi"
	podsPerNode  = 10
	// memoryLimit is the chart's default memory limit; the controller runs with GOMEMLIMIT set from it, as the
	// chart sets it.
	memoryLimit = 1 << 30
	// componentQPS lets kube-controller-manager and kube-scheduler create, mark and bind tens of thousands of pods
	// in minutes rather than the scheduler's default 50 a second; Tailor's controller keeps its own defaults.
	componentQPS = 300
	// nodeLeaseSeconds is the Lease duration of KWOK's Nodes: renewed every 75 s rather than a kubelet's 10 s, which
	// at 2,000 nodes was 200 Lease writes a second taken from the API server, etcd and the scheduler on two cores.
	// Tailor's controller does not read Leases.
	nodeLeaseSeconds = 300
)

// harness is the control plane, ec2sim and the controller, and clients to drive them.
type harness struct {
	env        *testenv.Environment
	stack      *testenv.Stack
	kube       client.Client
	cs         kubernetes.Interface
	binDir     string
	tailorBin  string
	metricsURL string
	pprofURL   string
	ncpu       int
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startHarness(ctx context.Context) (h *harness, err error) {
	h = &harness{ncpu: runtime.NumCPU()}
	defer func() {
		if err != nil {
			h.stop()
		}
	}()
	if h.binDir, err = os.MkdirTemp("", "tailor-scale-bin-"); err != nil {
		return nil, err
	}
	say("building tailor and ec2sim from this repository")
	if err := testenv.BuildTailor(ctx, h.binDir); err != nil {
		return nil, err
	}
	h.tailorBin = h.binDir + "/tailor"
	crds, err := testenv.CRDPath()
	if err != nil {
		return nil, err
	}
	say("starting the control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK")
	if h.env, err = testenv.Start(ctx, testenv.Options{CRDDirectoryPaths: []string{crds}, ComponentQPS: componentQPS, NodeLeaseSeconds: nodeLeaseSeconds, Logf: func(f string, a ...any) { say(f, a...) }}); err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	h.metricsURL, h.pprofURL = "http://"+metricsAddr+"/metrics", "http://"+pprofAddr+"/debug/pprof"
	say("starting ec2sim and the controller (GOMEMLIMIT=%d, the chart's 1Gi limit)", memoryLimit)
	h.stack, err = h.env.StartStack(ctx, testenv.StackOptions{
		BinDir:      h.binDir,
		ClusterName: clusterName,
		// Room for every node in one pool; no IAM evaluation (what is measured is Tailor, not the simulator).
		EC2SimArgs: []string{"--iam-policy=off", "--default-capacity=100000", "--launch-latency=200ms", "--boot-latency=300ms"},
		ControllerArgs: []string{
			"--metrics-bind-address=" + metricsAddr, "--pprof-bind-address=" + pprofAddr, "--log-level=info",
			// The defaults a user runs with: the decision is measured from the batch's close.
			"--batch-idle-duration=1s", "--batch-max-duration=10s",
		},
		ControllerEnv: []string{"GOMEMLIMIT=" + strconv.Itoa(memoryLimit)},
	})
	if err != nil {
		return nil, err
	}
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	if h.kube, err = client.New(h.env.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if h.cs, err = kubernetes.NewForConfig(h.env.Config); err != nil {
		return nil, err
	}
	return h, h.apply(ctx)
}

const nodePoolYAML = `
apiVersion: tailor.sh/v1
kind: NodePool
metadata:
  name: scale
spec:
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: scale}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [` + instanceType + `]}
        - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
  limits:
    cpu: "0"
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 10s
`

const nodeClassYAML = `
apiVersion: tailor.sh/v1
kind: EC2NodeClass
metadata:
  name: scale
spec:
  subnetSelectorTerms: [{tags: {tailor.sh/discovery: ` + clusterName + `}}]
  securityGroupSelectorTerms: [{tags: {tailor.sh/discovery: ` + clusterName + `}}]
  instanceProfile: TailorNodeInstanceProfile-scale
  amiSelectorTerms: [{alias: al2023@latest}]
`

// apply creates the EC2NodeClass, the NodePool (held at a CPU limit of 0) and the Deployment at 0 replicas.
func (h *harness) apply(ctx context.Context) error {
	nc, np := &apiv1.EC2NodeClass{}, &apiv1.NodePool{}
	if err := yaml.UnmarshalStrict([]byte(nodeClassYAML), nc); err != nil {
		return fmt.Errorf("EC2NodeClass: %w", err)
	}
	if err := yaml.UnmarshalStrict([]byte(nodePoolYAML), np); err != nil {
		return fmt.Errorf("NodePool: %w", err)
	}
	for _, obj := range []client.Object{nc, np} {
		if err := h.kube.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
	}
	// The pods never preempt: the kube-scheduler then skips its preemption dry run over every node for each pod it
	// cannot place, which doubled the time to mark a step's pods unschedulable.
	never := corev1.PreemptNever
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: workload}, Value: 0, PreemptionPolicy: &never,
		Description: "make scale's workload: no preemption"}
	if _, err := h.cs.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the %s PriorityClass: %w", workload, err)
	}
	labels := map[string]string{"app": workload}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: workload, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					PriorityClassName:             workload,
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{
						Name:  "pause",
						Image: testenv.PauseImage,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU:    resource.MustParse(podCPU),
							corev1.ResourceMemory: resource.MustParse(podMemory),
						}},
					}},
				},
			},
		},
	}
	if _, err := h.cs.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the %s Deployment: %w", workload, err)
	}
	return nil
}

// setLimit sets the NodePool's CPU limit ("0" holds every launch back; "" lifts the limit).
func (h *harness) setLimit(ctx context.Context, cpu string) error {
	patch := `{"spec":{"limits":null}}`
	if cpu != "" {
		patch = `{"spec":{"limits":{"cpu":"` + cpu + `"}}}`
	}
	np := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "scale"}}
	return h.kube.Patch(ctx, np, client.RawPatch(types.MergePatchType, []byte(patch)))
}

func (h *harness) scale(ctx context.Context, replicas int) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := h.cs.AppsV1().Deployments(namespace).Patch(ctx, workload, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// describe names the machine and the setup for the report.
func (h *harness) describe() string {
	return fmt.Sprintf("%d CPUs; controller with GOMEMLIMIT=%d (the chart's 1Gi limit), --batch-idle-duration=1s --batch-max-duration=10s; NodePool of %s on-demand only, pods requesting %s CPU and %s (%d a node); KWOK's Node Leases last %d s",
		h.ncpu, memoryLimit, instanceType, podCPU, podMemory, podsPerNode, nodeLeaseSeconds)
}

func (h *harness) stop() {
	if h.stack != nil {
		_ = h.stack.Stop()
	}
	if h.env != nil {
		if err := h.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}
	if h.binDir != "" && !strings.HasPrefix(h.binDir, "/work/main") {
		_ = os.RemoveAll(h.binDir)
	}
}

// waitFor polls cond every interval until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, what string, interval, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
