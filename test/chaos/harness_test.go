package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// clusterName is the cluster ec2sim and the controller are told about: ec2sim tags its subnets and security groups
// tailor.sh/discovery=chaos and names its interruption queue "chaos".
const clusterName = "chaos"

var (
	buildOnce sync.Once
	buildErr  error
)

// harness is one scenario's ec2sim, controller and clients.
type harness struct {
	t           *testing.T
	stack       *testenv.Stack
	kube        client.Client
	cs          kubernetes.Interface
	metricsAddr string
}

// startHarness builds tailor and ec2sim once per package, then starts ec2sim with a state file of the scenario's own
// (seeded, interruption notice 45 s) and, unless withoutController, the controller with metrics on a free port and
// the interruption queue.
func startHarness(t *testing.T, withoutController bool, ec2simArgs ...string) *harness {
	t.Helper()
	buildOnce.Do(func() { buildErr = testenv.BuildTailor(t.Context(), binDir) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	h := &harness{t: t, kube: env.DirectClient(t), cs: kubernetes.NewForConfigOrDie(env.Config), metricsAddr: freeAddr(t)}
	stack, err := env.StartStack(t.Context(), testenv.StackOptions{
		BinDir:      binDir,
		ClusterName: clusterName,
		EC2SimArgs: append([]string{
			"--state-file=" + filepath.Join(t.TempDir(), "ec2sim-state.json"),
			"--seed=" + strconv.FormatUint(*seed, 10),
			"--interruption-notice=45s",
		}, ec2simArgs...),
		ControllerArgs:    []string{"--metrics-bind-address=" + h.metricsAddr, "--interruption-queue=" + clusterName},
		WithoutController: withoutController,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.stack = stack
	stack.StopOnCleanup(t, 30)
	return h
}

// nodeClassYAML selects ec2sim's subnets and security groups for the chaos cluster.
const nodeClassYAML = `
apiVersion: tailor.sh/v1
kind: EC2NodeClass
metadata:
  name: chaos
spec:
  subnetSelectorTerms:
    - tags:
        tailor.sh/discovery: chaos
  securityGroupSelectorTerms:
    - tags:
        tailor.sh/discovery: chaos
  instanceProfile: TailorNodeInstanceProfile-chaos
  amiSelectorTerms:
    - alias: al2023@latest
`

// nodePoolYAML is spot first, on-demand allowed (so ICE on the cheap spot pools has somewhere to go), limited to
// general-purpose families of up to 8 vCPUs so the fleet has several nodes, with the given expiry and consolidation.
const nodePoolYAML = `
apiVersion: tailor.sh/v1
kind: NodePool
metadata:
  name: chaos
spec:
  template:
    spec:
      nodeClassRef:
        group: tailor.sh
        kind: EC2NodeClass
        name: chaos
      expireAfter: %s
      requirements:
        - key: tailor.sh/capacity-type
          operator: In
          values: [%s]
        - key: tailor.sh/instance-category
          operator: In
          values: ["c", "m", "r"]
        - key: tailor.sh/instance-cpu
          operator: Lt
          values: ["9"]
  limits:
    cpu: "400"
  disruption:
    consolidationPolicy: %s
    consolidateAfter: %s
`

// applyPool creates the chaos EC2NodeClass and NodePool (consolidation WhenEmpty after consolidateAfter, expiry the
// default 720h) and removes them, after every NodeClaim is gone, when the test ends.
func (h *harness) applyPool(consolidateAfter string) {
	h.t.Helper()
	h.applyPoolWith(`"spot", "on-demand"`, "720h", "WhenEmpty", consolidateAfter)
}

// applyPoolWith is applyPool with the capacity types (quoted, comma-separated), the template's expireAfter and the
// consolidation policy given too.
func (h *harness) applyPoolWith(capacityTypes, expireAfter, policy, consolidateAfter string) {
	t := h.t
	t.Helper()
	class := &apiv1.EC2NodeClass{}
	pool := &apiv1.NodePool{}
	mustYAML(t, nodeClassYAML, class)
	mustYAML(t, fmt.Sprintf(nodePoolYAML, expireAfter, capacityTypes, policy, consolidateAfter), pool)
	for _, obj := range []client.Object{class, pool} {
		if err := h.kube.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	// Before ec2sim and the controller stop: claims (a failed test may leave some) go first, with their instances,
	// then the pool and class, waited for so the next scenario can create them again.
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		_ = h.kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
		_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			list := &apiv1.NodeClaimList{}
			return h.kube.List(ctx, list) == nil && len(list.Items) == 0, nil
		})
		for _, obj := range []client.Object{pool, class} {
			_ = h.kube.Delete(ctx, obj)
			_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				return apierrors.IsNotFound(h.kube.Get(ctx, client.ObjectKeyFromObject(obj), obj)), nil
			})
		}
	})
}

func mustYAML(t *testing.T, manifest string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(manifest), into); err != nil {
		t.Fatalf("parsing %s: %v", manifest, err)
	}
}

// deleteAllClaims scales the workload (if any) to zero, deletes every NodeClaim and waits until they are gone and no instance is left running: the
// termination flow must end every instance it launched.
func (h *harness) deleteAllClaims(m *monitor, w *workload) {
	t := h.t
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	// The workload goes first: with its pods still there, every drain would wait on the PDBs for pods that have
	// nowhere to go, and the provisioner would launch new nodes for them.
	if w != nil {
		m.stopPDBChecks()
		zero := step{}
		for _, sh := range shapes {
			zero[sh.name] = 0
		}
		w.scale(zero)
		w.wait(m, zero, time.Minute)
	}
	_ = h.kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &apiv1.NodeClaimList{}
		if err := h.kube.List(ctx, list); err != nil {
			return false, nil
		}
		left = left[:0]
		for _, nc := range list.Items {
			left = append(left, "nodeclaim/"+nc.Name)
		}
		instances, err := h.instances(ctx)
		if err != nil {
			return false, nil
		}
		for _, in := range instances {
			if live(in) {
				left = append(left, "instance/"+in.ID)
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		m.violate("leak", "after deleting every NodeClaim, still present 2 minutes later: %s", strings.Join(left, ", "))
	}
}

// live tells whether an instance costs money: pending or running.
func live(in ec2sim.AdminInstance) bool { return in.State == "pending" || in.State == "running" }

// instances lists ec2sim's instances through its admin API.
func (h *harness) instances(ctx context.Context) ([]ec2sim.AdminInstance, error) {
	var out []ec2sim.AdminInstance
	err := h.admin(ctx, http.MethodGet, "/admin/instances", nil, &out)
	return out, err
}

// admin calls ec2sim's admin API with body encoded as JSON (when not nil) and decodes the answer into out.
func (h *harness) admin(ctx context.Context, method, path string, body, out any) error {
	var r *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = strings.NewReader(string(b))
	} else {
		r = strings.NewReader("")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, h.stack.EC2Endpoint+path, r)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ec2sim admin %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		var msg json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&msg)
		return fmt.Errorf("ec2sim admin %s %s: status %d: %s", method, path, resp.StatusCode, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("ec2sim admin %s %s: decoding: %w", method, path, err)
	}
	return nil
}

// mustAdmin is admin failing the test on error.
func (h *harness) mustAdmin(method, path string, body, out any) {
	h.t.Helper()
	if err := h.admin(h.t.Context(), method, path, body, out); err != nil {
		h.t.Fatal(err)
	}
}

// setFaults replaces ec2sim's faults.
func (h *harness) setFaults(f ec2sim.Faults) {
	h.t.Helper()
	h.mustAdmin(http.MethodPut, "/admin/faults", f, nil)
}

// freeAddr is a 127.0.0.1 address with a port free right now, below Linux's ephemeral range (32768–60999): a port
// the kernel picked for a listener and released can be handed out again at once as the source port of any outgoing
// connection (the controller's own, to the API server), and the controller then fails to bind it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := l.Addr().String()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return addr
	}
	t.Fatal("no free port between 20000 and 32000 after 100 tries")
	return ""
}

// scrape reads a controller's /metrics: every sample by its full name with labels, as Prometheus prints it.
func scrape(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return testenv.Scrape(ctx, "http://"+addr+"/metrics")
}

// goroutines is go_goroutines of the controller serving metrics at addr, waiting up to 30 s for it to answer.
func goroutines(ctx context.Context, addr string) (int, error) {
	var n int
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := scrape(ctx, addr)
		if err != nil {
			last = err
			return false, nil
		}
		v, ok := m["go_goroutines"]
		n = int(v)
		return ok, nil
	})
	if err != nil {
		return 0, fmt.Errorf("scraping go_goroutines at %s: %w", addr, errors.Join(err, last))
	}
	return n, nil
}

// ---- workload ----

// shape is one Deployment of the workload: its pods' requests and constraints, the range of replicas the driver
// picks from and the PodDisruptionBudget's minAvailable (0: no PDB). Ranges start above minAvailable, so scaling
// down never takes an app below its budget: only a disruption can.
type shape struct {
	name         string
	cpu, memory  string
	min, max     int32
	minAvailable int32
	zoneSpread   bool
	antiAffinity bool
}

// shapes is the workload: zone-spread web pods, big batch pods, one-per-node pods and memory-heavy pods.
var shapes = []shape{
	{name: "web", cpu: "500m", memory: "512Mi", min: 3, max: 14, minAvailable: 2, zoneSpread: true},
	{name: "batch", cpu: "1500m", memory: "2Gi", min: 0, max: 8},
	{name: "apart", cpu: "250m", memory: "256Mi", min: 2, max: 5, minAvailable: 1, antiAffinity: true},
	{name: "mem", cpu: "250m", memory: "3Gi", min: 2, max: 8, minAvailable: 1},
}

func minAvailable(app string) int32 {
	for _, s := range shapes {
		if s.name == app {
			return s.minAvailable
		}
	}
	return 0
}

func (s shape) deployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": s.name}
	spec := corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		Containers: []corev1.Container{{
			Name:  s.name,
			Image: testenv.PauseImage,
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(s.cpu),
				corev1.ResourceMemory: resource.MustParse(s.memory),
			}},
		}},
	}
	if s.zoneSpread {
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: labels},
		}}
	}
	if s.antiAffinity {
		spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, TopologyKey: corev1.LabelHostname,
			}},
		}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(s.min),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// workload is the Deployments and PDBs of one scenario in its own namespace.
type workload struct {
	h    *harness
	ns   string
	last step // the step scaleTo set last
}

// createWorkload makes a namespace with every shape's Deployment (at its minimum) and PDB.
func (h *harness) createWorkload() *workload {
	t := h.t
	t.Helper()
	ns := testenv.Namespace(t, h.kube, "chaos")
	t.Cleanup(func() {
		_ = h.cs.CoreV1().Namespaces().Delete(context.WithoutCancel(t.Context()), ns, metav1.DeleteOptions{})
	})
	for _, s := range shapes {
		if _, err := h.cs.AppsV1().Deployments(ns).Create(t.Context(), s.deployment(ns), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if s.minAvailable == 0 {
			continue
		}
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: ptr.To(intstr.FromInt32(s.minAvailable)),
				Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": s.name}},
			},
		}
		if _, err := h.cs.PolicyV1().PodDisruptionBudgets(ns).Create(t.Context(), pdb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &workload{h: h, ns: ns}
}

// step is the replicas of every shape at one point of the sequence.
type step map[string]int32

func (s step) String() string {
	var parts []string
	for _, sh := range shapes {
		parts = append(parts, fmt.Sprintf("%s=%d", sh.name, s[sh.name]))
	}
	return strings.Join(parts, " ")
}

// scale sets every Deployment's replicas to the step's.
func (w *workload) scale(s step) {
	t := w.h.t
	t.Helper()
	for name, n := range s {
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
		if _, err := w.h.cs.AppsV1().Deployments(w.ns).Patch(t.Context(), name, "application/merge-patch+json", patch, metav1.PatchOptions{}, "scale"); err != nil {
			t.Fatalf("scaling %s to %d: %v", name, n, err)
		}
	}
}

// pods lists the workload's pods.
func (w *workload) pods(ctx context.Context) ([]corev1.Pod, error) {
	list, err := w.h.cs.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// settled tells whether every Deployment has exactly its replicas, all Running and not terminating.
func (w *workload) settled(ctx context.Context, s step) (bool, string) {
	pods, err := w.pods(ctx)
	if err != nil {
		return false, err.Error()
	}
	running := map[string]int32{}
	total := map[string]int32{}
	for _, p := range pods {
		// Terminating pods and pods that ended (a pod whose instance was reclaimed under it is Failed; its
		// ReplicaSet replaces it) are not the step's.
		if !p.DeletionTimestamp.IsZero() || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		total[p.Labels["app"]]++
		if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			running[p.Labels["app"]]++
		}
	}
	ok := true
	var desc []string
	for _, sh := range shapes {
		want := s[sh.name]
		if running[sh.name] != want || total[sh.name] != want {
			ok = false
		}
		desc = append(desc, fmt.Sprintf("%s %d/%d running (want %d)", sh.name, running[sh.name], total[sh.name], want))
	}
	return ok, strings.Join(desc, ", ")
}

// waitSettled waits until every pod of the step is Running and counts the step; it returns how long that took, or
// records a violation "pods" (every pod that fits must end Running) and fails the test after timeout.
func (w *workload) waitSettled(m *monitor, s step, timeout time.Duration) time.Duration {
	w.h.t.Helper()
	took := w.wait(m, s, timeout)
	m.stepDone()
	return took
}

// waitReady waits until the step is settled and every pod of it is Ready, or fails the test after timeout.
func (w *workload) waitReady(s step, timeout time.Duration) {
	t := w.h.t
	t.Helper()
	var desc string
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, d := w.settled(ctx, s)
		desc = d
		if !ok {
			return false, nil
		}
		pods, err := w.pods(ctx)
		if err != nil {
			return false, nil
		}
		for i := range pods {
			p := &pods[i]
			if p.DeletionTimestamp.IsZero() && p.Status.Phase == corev1.PodRunning && !podReady(p) {
				desc = "pod " + p.Name + " Running, not Ready"
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("pods of step %s not all Ready after %s (%v): %s", s, timeout, err, desc)
	}
}

// wait is waitSettled without counting a step (the teardown's scale to zero).
func (w *workload) wait(m *monitor, s step, timeout time.Duration) time.Duration {
	t := w.h.t
	t.Helper()
	start := time.Now()
	var desc string
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if c := w.h.stack.Controller; c != nil {
			if err := c.Exited(); err != nil {
				return false, err
			}
		}
		var ok bool
		ok, desc = w.settled(ctx, s)
		return ok, nil
	})
	if err != nil {
		m.violate("pods", "pods of step %s not all Running after %s (%v): %s", s, time.Since(start).Round(time.Second), err, desc)
		t.FailNow()
	}
	return time.Since(start)
}
