package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cli"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// tailorReporter is the reportingController of Tailor's events (the manager's events.k8s.io recorder "tailor"); the
// kube-scheduler reports its own FailedScheduling events as "default-scheduler".
const tailorReporter = "tailor"

// TestPodNoNodePoolCanHost: a pod whose nodeSelector asks for on-demand capacity, with only the spot-only reference
// NodePool, gets a FailedScheduling event from Tailor saying why, and no NodeClaim is created.
func TestPodNoNodePoolCanHost(t *testing.T) {
	startStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })

	ns := createNamespace(t, cs, "nopool")
	dep := deployment(ns, "on-demand", 1, "500m", func(spec *corev1.PodSpec) {
		spec.NodeSelector = map[string]string{apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand}
	})
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := waitForEvent(t, cs, ns, "a FailedScheduling event from Tailor on the pod", func(ev eventsv1.Event) bool {
		return ev.Reason == "FailedScheduling" && ev.Regarding.Kind == "Pod"
	})
	t.Logf("event: %s %s: %s", ev.Reason, eventSubject(ev), ev.Note)
	for _, want := range []string{`nodepool "default"`, apiv1.CapacityTypeLabelKey, apiv1.CapacityTypeOnDemand} {
		if !strings.Contains(ev.Note, want) {
			t.Errorf("FailedScheduling note %q does not name %q", ev.Note, want)
		}
	}
	// Give the controller a few more batches (idle window 500ms) to (wrongly) launch something.
	expectNodeClaims(t, kube, 0, 5*time.Second)
}

// TestNodePoolAtLimitLaunchesNothingMore: the reference NodePool with limits cpu: "8". Seven one-CPU pods fill a node
// up to the limit; three more stay pending: no second NodeClaim, a LimitReached event on the NodePool and
// FailedScheduling events on the pods naming the limit.
func TestNodePoolAtLimitLaunchesNothingMore(t *testing.T) {
	startStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		np := &apiv1.NodePool{}
		if err := kube.Get(t.Context(), client.ObjectKey{Name: "default"}, np); err != nil {
			return err
		}
		np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}
		return kube.Update(t.Context(), np)
	})
	if err != nil {
		t.Fatalf("setting the nodepool's cpu limit: %v", err)
	}

	ns := createNamespace(t, cs, "limit")
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), testenv.Inflate(ns, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	scaleInflate(t, cs, ns, 7)
	waitForPods(t, cs, ns, "7 inflate pods Running", func(pods []corev1.Pod) bool {
		return len(pods) == 7 && all(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	})
	claims := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	var cpu resource.Quantity
	for _, nc := range claims.Items {
		cpu.Add(nc.Status.Capacity[corev1.ResourceCPU])
	}
	t.Logf("%d nodeclaim(s) with %s cpu in all for 7 pods (limit 8)", len(claims.Items), cpu.String())
	if cpu.Cmp(resource.MustParse("8")) != 0 {
		t.Fatalf("the first nodes hold %s cpu, want exactly the limit 8 (the cheapest fit for 7 one-CPU pods)", cpu.String())
	}

	scaleInflate(t, cs, ns, 10)
	limitMsg := `nodepool "default" cpu limit 8 would be exceeded`
	ev := waitForEvent(t, cs, ns, "FailedScheduling from Tailor naming the limit", func(ev eventsv1.Event) bool {
		return ev.Reason == "FailedScheduling" && strings.Contains(ev.Note, limitMsg)
	})
	t.Logf("pod event: %s %s: %s", ev.Reason, eventSubject(ev), ev.Note)
	ev = waitForEvent(t, cs, metav1.NamespaceAll, "LimitReached on the NodePool", func(ev eventsv1.Event) bool {
		return ev.Reason == "LimitReached" && ev.Regarding.Kind == apiv1.NodePoolKind && ev.Regarding.Name == "default"
	})
	t.Logf("nodepool event: %s %s: %s", ev.Reason, eventSubject(ev), ev.Note)
	if !strings.Contains(ev.Note, "limit") {
		t.Errorf("LimitReached note %q does not name the limit", ev.Note)
	}
	expectNodeClaims(t, kube, len(claims.Items), 5*time.Second)
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			pending++
		}
	}
	if pending != 3 {
		t.Errorf("%d pods pending past the limit, want 3; pods: %s", pending, describePods(pods.Items))
	}
}

// TestMixedBurst: 500 pods of mixed shapes at once — plain, zone-spread, arm64-only and hostname anti-affinity — all
// Running on nodes Tailor launched, for at most 1.10× the lower bound `tailor simulate` reports for the same pods.
// Logs the planner's decision time, the time to Running and the fleet's price, and checks the metrics the
// controller exports for it.
func TestMixedBurst(t *testing.T) {
	metricsAddr := freeAddr(t)
	// The controller's default batch windows (1s idle, 10s at most) rather than the test stack's shorter ones: the
	// kube-scheduler reports 500 pods Unschedulable over several seconds, and a window cut short plans the burst in
	// pieces, each with its own partly filled last node.
	s := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster", ControllerArgs: []string{
		"--metrics-bind-address=" + metricsAddr, "--batch-idle-duration=1s", "--batch-max-duration=10s"}})
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })

	ns := createNamespace(t, cs, "burst")
	const total = 500
	start := time.Now()
	deps := mixedBurst(ns)
	for _, d := range deps {
		if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitForPodsWithin(t, cs, ns, 4*time.Minute, fmt.Sprintf("%d burst pods Running", total), func(pods []corev1.Pod) bool {
		return len(pods) == total && all(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	})
	running := time.Since(start)

	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkBurstPlacement(t, cs, pods.Items)

	claims := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	fleet := fleetPrice(t, claims.Items)
	log, err := os.ReadFile(s.Controller.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	decisions := decisionLines(string(log), start)
	plan, bound := simulatedPlan(t, deps)
	t.Logf("%d pods Running %s after creation on %d nodeclaims (%s); fleet $%.4f/h = %.3f× the lower bound $%.4f/h of tailor simulate; planning:\n  %s",
		total, running.Round(time.Millisecond), len(claims.Items), claimTypes(claims.Items), fleet, fleet/bound, bound, strings.Join(decisions, "\n  "))
	// Tailor's plan for the burst (what tailor simulate prints, and what the controller computes when one batch sees
	// every pod) and the fleet that runs are both within 10% of the bound. The fleet follows the plan because Tailor
	// publishes each pod's nomination as its status.nominatedNodeName as soon as the node's name is known (at launch):
	// the kube-scheduler keeps that room for it, so plain pods no longer fill the arm64 node bought for arm64-only
	// pods; the node keeps its tailor.sh/unregistered taint until they are published. What is left is a few
	// zone-spread pods that bind in an order the plan did not foresee (1.050-1.065x measured over 9 runs).
	if plan > 1.10*bound {
		t.Errorf("tailor simulate's plan $%.4f/h is %.3f× the lower bound $%.4f/h, want at most 1.10×", plan, plan/bound, bound)
	}
	if fleet > 1.10*bound {
		t.Errorf("fleet $%.4f/h is %.3f× the lower bound $%.4f/h, want at most 1.10×", fleet, fleet/bound, bound)
	}
	if !slices.ContainsFunc(decisions, func(d string) bool { return strings.Contains(d, " planned ") }) {
		t.Error(`controller log lacks "computed new nodeclaim(s) to fit pod(s)"`)
	}

	// The controller's own accounting agrees: the price gauge is the fleet's price (once the NodePool status
	// controller has seen every claim) and every pod's startup was observed.
	var metrics map[string]float64
	testenv.WaitFor(t, 30*time.Second, "tailor_cluster_price_per_hour to equal the fleet price", func(ctx context.Context) bool {
		metrics = scrape(ctx, t, metricsAddr)
		return fmt.Sprintf("%.4f", metrics["tailor_cluster_price_per_hour"]) == fmt.Sprintf("%.4f", fleet)
	})
	if got := metrics["tailor_pods_startup_duration_seconds_count"]; got < total {
		t.Errorf("tailor_pods_startup_duration_seconds_count = %v, want at least %d (every burst pod)", got, total)
	}
	t.Logf("tailor_pods_startup_duration_seconds: %v pods, mean %.2fs", metrics["tailor_pods_startup_duration_seconds_count"],
		metrics["tailor_pods_startup_duration_seconds_sum"]/metrics["tailor_pods_startup_duration_seconds_count"])
}

// TestControllerRestartMidBurst kills the controller (SIGKILL) as soon as the first NodeClaims of a burst exist and
// starts it again: every pod ends Running, and ec2sim launched exactly one instance per NodeClaim — none twice, none
// orphaned.
func TestControllerRestartMidBurst(t *testing.T) {
	s := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })

	ns := createNamespace(t, cs, "restart")
	start := time.Now()
	const total = 40
	deps := []*appsv1.Deployment{
		deployment(ns, "wide", 30, "1", nil),
		deployment(ns, "apart", 10, "200m", func(spec *corev1.PodSpec) { spec.Affinity = antiAffinity("apart") }),
	}
	for _, d := range deps {
		if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Kill it while launches are in flight: claims exist and ec2sim has begun launching their instances.
	var atKill, withInstance int
	testenv.WaitFor(t, time.Minute, "the first nodeclaims and instances", func(ctx context.Context) bool {
		list := &apiv1.NodeClaimList{}
		if err := kube.List(ctx, list); err != nil {
			return false
		}
		atKill, withInstance = len(list.Items), 0
		for _, nc := range list.Items {
			if nc.Status.ProviderID != "" {
				withInstance++
			}
		}
		return atKill > 0 && len(instancesSince(t, s, start)) > 0
	})
	if err := s.StopController(0); err != nil {
		t.Fatal(err)
	}
	launchedAtKill := len(instancesSince(t, s, start))
	t.Logf("killed the controller %s after the burst: %d nodeclaim(s) created, %d with a provider ID, %d instance(s) launched",
		time.Since(start).Round(time.Millisecond), atKill, withInstance, launchedAtKill)
	if err := s.StartController(); err != nil {
		t.Fatal(err)
	}
	waitForPodsWithin(t, cs, ns, 2*time.Minute, fmt.Sprintf("%d pods Running after the restart", total), func(pods []corev1.Pod) bool {
		return len(pods) == total && all(pods, func(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	})

	// Every instance launched since the burst began belongs to a NodeClaim that still exists, one to one: a launch
	// repeated after the restart, or an instance whose claim was lost, would show up here (even if garbage
	// collection had already terminated it).
	var claimIDs, instanceIDs []string
	var states map[string]string
	testenv.WaitFor(t, 30*time.Second, "one running instance per nodeclaim", func(ctx context.Context) bool {
		list := &apiv1.NodeClaimList{}
		if err := kube.List(ctx, list); err != nil {
			return false
		}
		claimIDs = claimIDs[:0]
		for _, nc := range list.Items {
			claimIDs = append(claimIDs, nc.Status.ProviderID)
		}
		instanceIDs, states = instanceIDs[:0], map[string]string{}
		for _, in := range instancesSince(t, s, start) {
			instanceIDs = append(instanceIDs, in.ProviderID)
			states[in.ProviderID] = in.State
		}
		sort.Strings(claimIDs)
		sort.Strings(instanceIDs)
		return strings.Join(claimIDs, ",") == strings.Join(instanceIDs, ",") &&
			all(instanceIDs, func(id string) bool { return states[id] == "running" })
	})
	t.Logf("after the restart: %d nodeclaims, %d instances launched since the burst, all running", len(claimIDs), len(instanceIDs))
	// Not a failure here (consolidation removes empty nodes), but worth seeing: claims the restarted controller
	// added beyond the plan it was killed in, and how many of the nodes hold none of the burst's pods.
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range pods.Items {
		used[p.Spec.NodeName] = true
	}
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{LabelSelector: apiv1.NodePoolLabelKey})
	if err != nil {
		t.Fatal(err)
	}
	empty := 0
	for _, n := range nodes.Items {
		if !used[n.Name] {
			empty++
		}
	}
	t.Logf("%d nodeclaims at the kill, %d after; %d of %d nodes run none of the burst's pods", atKill, len(claimIDs), empty, len(nodes.Items))
}

// deployment is a Deployment of pause pods labelled app=<name> requesting cpu each.
func deployment(ns, name string, replicas int32, cpu string, mutate func(*corev1.PodSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](0),
		Containers: []corev1.Container{{
			Name:      name,
			Image:     testenv.PauseImage,
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}},
	}
	if mutate != nil {
		mutate(&spec)
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

func antiAffinity(app string) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
}

// mixedBurst is the 500-pod burst: 220 plain, 150 spread over zones, 120 arm64-only and 10 one per node.
func mixedBurst(ns string) []*appsv1.Deployment {
	return []*appsv1.Deployment{
		deployment(ns, "plain", 220, "500m", nil),
		deployment(ns, "spread", 150, "1", func(spec *corev1.PodSpec) {
			spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
				MaxSkew:           1,
				TopologyKey:       corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
			}}
		}),
		deployment(ns, "arm", 120, "250m", func(spec *corev1.PodSpec) {
			spec.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"}
		}),
		deployment(ns, "apart", 10, "100m", func(spec *corev1.PodSpec) { spec.Affinity = antiAffinity("apart") }),
	}
}

// simulatedPlan is the price of the plan and the lower bound `tailor simulate` reports for the reference NodePool and
// the deployments.
func simulatedPlan(t *testing.T, deps []*appsv1.Deployment) (plan, bound float64) {
	t.Helper()
	list := corev1.List{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "List"}}
	for _, d := range deps {
		d = d.DeepCopy()
		d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		list.Items = append(list.Items, runtime.RawExtension{Raw: raw})
	}
	raw, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "burst.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	opts := cli.SimulateOptions{Paths: []string{filepath.Join(root, "examples", "reference.yaml"), dir}, Output: cli.OutputJSON,
		Source: cli.CatalogSource{InstanceTypesFile: ec2simCatalogue(t)}}
	if err := cli.Simulate(opts, &out); err != nil {
		t.Fatalf("tailor simulate: %v", err)
	}
	var res cli.SimulateResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Unschedulable) > 0 || res.LowerBoundPricePerHour <= 0 {
		t.Fatalf("tailor simulate: %d unschedulable, lower bound %v", len(res.Unschedulable), res.LowerBoundPricePerHour)
	}
	t.Logf("tailor simulate plans $%.4f/h on %d nodes for the same pods, lower bound $%.4f/h", res.TotalPricePerHour, len(res.NodeClaims), res.LowerBoundPricePerHour)
	return res.TotalPricePerHour, res.LowerBoundPricePerHour
}

// ec2simCatalogue writes the catalogue of the world ec2sim's default region sells: the embedded catalogue without the
// offerings in zones that do not sell the type (docs/ec2sim.md, per-zone availability). Planning and bounding a
// burst against the embedded catalogue, which sells every type in every zone, would measure the fleet against
// capacity the controller cannot buy.
func ec2simCatalogue(t *testing.T) string {
	t.Helper()
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.DeepCopy()
	region := ec2sim.DefaultConfig("demo-cluster")
	for i := range cat.InstanceTypes {
		it := &cat.InstanceTypes[i]
		it.Offerings = slices.DeleteFunc(it.Offerings, func(o catalog.Offering) bool { return !region.Sells(o.Zone, it.Name) })
	}
	var buf bytes.Buffer
	if err := catalog.Encode(&buf, cat); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ec2sim-catalogue.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claimTypes counts the claims by instance type, for logs.
func claimTypes(claims []apiv1.NodeClaim) string {
	count := map[string]int{}
	for _, nc := range claims {
		count[nc.Labels[apiv1.InstanceTypeLabelKey]]++
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(count)) {
		parts = append(parts, fmt.Sprintf("%d×%s", count[name], name))
	}
	return strings.Join(parts, ", ")
}

// checkBurstPlacement checks, from the nodes the pods landed on, that each shape's constraint holds: arm pods on
// arm64 nodes, "apart" pods on distinct nodes, "spread" pods within a skew of one across the zones they use.
func checkBurstPlacement(t *testing.T, cs kubernetes.Interface, pods []corev1.Pod) {
	t.Helper()
	nodes := map[string]*corev1.Node{}
	perZone := map[string]int{}
	apartNodes := map[string]bool{}
	for _, p := range pods {
		node, ok := nodes[p.Spec.NodeName]
		if !ok {
			n, err := cs.CoreV1().Nodes().Get(t.Context(), p.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node, nodes[p.Spec.NodeName] = n, n
		}
		if node.Labels[apiv1.NodePoolLabelKey] != "default" {
			t.Errorf("pod %s runs on %s, which Tailor did not launch", p.Name, node.Name)
		}
		switch p.Labels["app"] {
		case "arm":
			if node.Labels[corev1.LabelArchStable] != "arm64" {
				t.Errorf("arm64-only pod %s runs on %s (%s)", p.Name, node.Name, node.Labels[corev1.LabelArchStable])
			}
		case "apart":
			if apartNodes[node.Name] {
				t.Errorf("two anti-affine pods on %s", node.Name)
			}
			apartNodes[node.Name] = true
		case "spread":
			perZone[node.Labels[corev1.LabelTopologyZone]]++
		}
	}
	lo, hi := -1, 0
	for _, n := range perZone {
		hi = max(hi, n)
		if lo < 0 || n < lo {
			lo = n
		}
	}
	if hi-lo > 1 {
		t.Errorf("spread pods per zone %v: skew %d, want at most 1", perZone, hi-lo)
	}
	t.Logf("%d nodes; spread pods per zone %v", len(nodes), perZone)
}

// fleetPrice sums the hourly prices recorded on the NodeClaims at launch; every launched claim must carry one.
func fleetPrice(t *testing.T, claims []apiv1.NodeClaim) float64 {
	t.Helper()
	var sum float64
	for _, nc := range claims {
		p, err := strconv.ParseFloat(nc.Annotations[apiv1.PricePerHourAnnotationKey], 64)
		if err != nil || p <= 0 {
			t.Errorf("nodeclaim %s (%s) has no price: %q", nc.Name, nc.Labels[apiv1.InstanceTypeLabelKey], nc.Annotations[apiv1.PricePerHourAnnotationKey])
			continue
		}
		sum += p
	}
	return sum
}

// decisionLines summarises the controller's planning log lines since start: when each batch found pods, and each
// plan's claims, pods, price and planning time.
func decisionLines(log string, start time.Time) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var entry struct {
			Time         time.Time `json:"time"`
			Message      string    `json:"message"`
			NodeClaims   int       `json:"nodeclaims"`
			Pods         int       `json:"pods"`
			PricePerHour string    `json:"pricePerHour"`
			Duration     string    `json:"duration"`
		}
		// The log file is shared by every controller the package started: keep this test's lines.
		if json.Unmarshal(sc.Bytes(), &entry) != nil || entry.Time.Before(start) {
			continue
		}
		at := entry.Time.Sub(start).Round(time.Millisecond)
		switch entry.Message {
		case "found provisionable pod(s)":
			out = append(out, fmt.Sprintf("+%s found %d pending pod(s)", at, entry.Pods))
		case "computed new nodeclaim(s) to fit pod(s)":
			out = append(out, fmt.Sprintf("+%s planned %d claims for %d pods at $%s/h in %s", at, entry.NodeClaims, entry.Pods, entry.PricePerHour, entry.Duration))
		}
	}
	return out
}

// waitForEvent polls events.k8s.io Events reported by Tailor in ns (all namespaces for "") until one matches.
func waitForEvent(t *testing.T, cs kubernetes.Interface, ns, what string, match func(eventsv1.Event) bool) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	var seen []string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		seen = seen[:0]
		for _, ev := range list.Items {
			if ev.ReportingController != tailorReporter {
				continue
			}
			seen = append(seen, ev.Reason+" "+eventSubject(ev)+": "+ev.Note)
			if match(ev) {
				found = ev
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; Tailor's events: %s", what, err, strings.Join(seen, "\n"))
	}
	return found
}

// expectNodeClaims checks that the number of NodeClaims stays want for the whole of d.
func expectNodeClaims(t *testing.T, kube client.Client, want int, d time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, d, true, func(context.Context) (bool, error) {
		list := &apiv1.NodeClaimList{}
		// The test's context, not the poll's: the poll's deadline must end the wait, not fail a List.
		if err := kube.List(t.Context(), list); err != nil {
			return false, err
		}
		if len(list.Items) != want {
			return false, fmt.Errorf("%d nodeclaim(s), want %d", len(list.Items), want)
		}
		return false, nil
	})
	if !wait.Interrupted(err) {
		t.Errorf("nodeclaims: %v", err)
	}
}

// waitForPodsWithin is waitForPods with a longer timeout, for bursts.
func waitForPodsWithin(t *testing.T, cs kubernetes.Interface, ns string, timeout time.Duration, what string, ok func([]corev1.Pod) bool) {
	t.Helper()
	start := time.Now()
	var last []corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		last = list.Items
		return ok(last), nil
	})
	if err != nil {
		running := 0
		for _, p := range last {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		t.Fatalf("waiting for %s: %v; %d of %d Running", what, err, running, len(last))
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

// instancesSince lists the ec2sim instances launched at or after since, in any state.
func instancesSince(t *testing.T, s *testenv.Stack, since time.Time) []ec2sim.AdminInstance {
	t.Helper()
	var all, out []ec2sim.AdminInstance
	simAdmin(t, s, http.MethodGet, "/admin/instances", "", &all)
	for _, in := range all {
		if !in.LaunchTime.Before(since.Truncate(time.Second)) {
			out = append(out, in)
		}
	}
	return out
}

// freeAddr is a 127.0.0.1 address with a port free right now, for the controller's metrics server.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// scrape reads the controller's /metrics and returns the unlabelled samples by name (labelled ones are skipped). A
// controller that does not answer yet gives an empty map.
func scrape(ctx context.Context, t *testing.T, addr string) map[string]float64 {
	t.Helper()
	all, err := testenv.Scrape(ctx, "http://"+addr+"/metrics")
	if errors.Is(err, testenv.ErrScrapeRequest) {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for series, v := range all {
		// Keep bare names only: a key holding a space is "name value" from a sample written with a timestamp.
		if !strings.ContainsAny(series, "{ ") {
			out[series] = v
		}
	}
	return out
}
