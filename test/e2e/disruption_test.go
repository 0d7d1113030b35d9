package e2e

import (
	"context"
	"fmt"
	"os"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// poolLabel is the NodePool template label the tests' pods select their pool by.
const poolLabel = "example.com/pool"

// disruptionNodeClass creates the EC2NodeClass the tests' NodePools launch with (the reference one, under its own
// name) and deletes it when the test ends.
func disruptionNodeClass(t *testing.T, kube client.Client) {
	t.Helper()
	nc := &apiv1.EC2NodeClass{}
	mustYAML(t, `
metadata: {name: disruption}
spec:
  subnetSelectorTerms: [{tags: {tailor.sh/discovery: demo-cluster}}]
  securityGroupSelectorTerms: [{tags: {tailor.sh/discovery: demo-cluster}}]
  instanceProfile: TailorNodeInstanceProfile-demo-cluster
  amiSelectorTerms: [{alias: al2023@latest}]
`, nc)
	if err := kube.Create(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), nc) })
}

// createNodePool creates a NodePool from YAML (name, template labels, requirements and disruption settings; the
// node class is filled in) and deletes it when the test ends.
func createNodePool(t *testing.T, kube client.Client, manifest string) *apiv1.NodePool {
	t.Helper()
	np := &apiv1.NodePool{}
	mustYAML(t, manifest, np)
	np.Spec.Template.Spec.NodeClassRef = apiv1.NodeClassReference{Group: apiv1.Group, Kind: "EC2NodeClass", Name: "disruption"}
	if err := kube.Create(t.Context(), np); err != nil {
		t.Fatalf("creating nodepool %s: %v", np.Name, err)
	}
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), np) })
	return np
}

func mustYAML(t *testing.T, manifest string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(strings.ReplaceAll(manifest, "\t", "  ")), into); err != nil {
		t.Fatalf("decoding %T: %v", into, err)
	}
}

// workload is a deployment of pause pods requesting cpu, pinned to the NodePool whose template carries pool.
func workload(ns, name, pool string, replicas int32, cpu string) *appsv1.Deployment {
	d := testenv.Inflate(ns, replicas)
	labels := map[string]string{"app": name}
	d.Name = name
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	d.Spec.Template.Labels = labels
	d.Spec.Template.Spec.NodeSelector = map[string]string{poolLabel: pool}
	d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse(cpu)
	return d
}

func createDeployment(t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment) {
	t.Helper()
	if _, err := cs.AppsV1().Deployments(d.Namespace).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating deployment %s: %v", d.Name, err)
	}
}

// livePods are the pods that are not terminating, optionally only those labelled app=name.
func livePods(pods []corev1.Pod, app string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp.IsZero() && (app == "" || p.Labels["app"] == app) {
			out = append(out, p)
		}
	}
	return out
}

func running(p corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" }

func ready(p corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return running(p) && c != nil && c.Status == corev1.ConditionTrue
}

// poolClaims lists the NodeClaims of one NodePool.
func poolClaims(t *testing.T, kube client.Client, pool string) []apiv1.NodeClaim {
	t.Helper()
	list := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), list, client.MatchingLabels{apiv1.NodePoolLabelKey: pool}); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func claimNames(claims []apiv1.NodeClaim) []string {
	var out []string
	for _, c := range claims {
		out = append(out, c.Name)
	}
	return out
}

// disrupting tells whether a NodeClaim is on its way out: marked Disrupting or being deleted.
func disrupting(nc *apiv1.NodeClaim) bool {
	return !nc.DeletionTimestamp.IsZero() || nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting)
}

// follow calls observe with every object state a watch reports until ctx ends, restarting the watch (which starts
// with an ADDED event for every existing object) when the server closes it; reset is called before each start.
// Watching, not polling, sees every transition the API server records, however short it lasted.
func follow(ctx context.Context, t *testing.T, start func(context.Context) (watch.Interface, error), reset func(), observe func(watch.Event)) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			w, err := start(ctx)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("starting a watch: %v", err)
				}
				return
			}
			reset()
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					break
				}
				observe(ev)
			}
			w.Stop()
		}
	}()
	return &wg
}

// claimWatch records, across every NodeClaim state the API server reports, the most NodeClaims of one NodePool
// disrupting at once.
type claimWatch struct {
	mu      sync.Mutex
	state   map[string]bool // name → disrupting
	max     int
	atMax   []string
	deleted map[string]bool
}

func watchClaims(t *testing.T, pool string) *claimWatch {
	t.Helper()
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cw := &claimWatch{deleted: map[string]bool{}}
	ctx, cancel := context.WithCancel(t.Context())
	wg := follow(ctx, t, func(ctx context.Context) (watch.Interface, error) {
		return wc.Watch(ctx, &apiv1.NodeClaimList{}, client.MatchingLabels{apiv1.NodePoolLabelKey: pool})
	}, func() {
		cw.mu.Lock()
		cw.state = map[string]bool{}
		cw.mu.Unlock()
	}, func(ev watch.Event) {
		nc, ok := ev.Object.(*apiv1.NodeClaim)
		if !ok {
			return
		}
		cw.mu.Lock()
		defer cw.mu.Unlock()
		if ev.Type == watch.Deleted {
			delete(cw.state, nc.Name)
			cw.deleted[nc.Name] = true
		} else {
			cw.state[nc.Name] = disrupting(nc)
		}
		var now []string
		for name, d := range cw.state {
			if d {
				now = append(now, name)
			}
		}
		if len(now) > cw.max {
			cw.max, cw.atMax = len(now), now
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return cw
}

func (cw *claimWatch) result() (int, []string, map[string]bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	deleted := map[string]bool{}
	for k := range cw.deleted {
		deleted[k] = true
	}
	return cw.max, cw.atMax, deleted
}

// availabilityWatch records, across every pod state the API server reports, the fewest pods of an app that were
// available as a PodDisruptionBudget counts them: Running, Ready and not terminating.
type availabilityWatch struct {
	mu    sync.Mutex
	pods  map[string]corev1.Pod
	min   int
	at    string
	count int // events seen
}

func watchAvailability(t *testing.T, cs kubernetes.Interface, ns, app string) *availabilityWatch {
	t.Helper()
	aw := &availabilityWatch{min: -1}
	ctx, cancel := context.WithCancel(t.Context())
	wg := follow(ctx, t, func(ctx context.Context) (watch.Interface, error) {
		return cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	}, func() {
		aw.mu.Lock()
		aw.pods = map[string]corev1.Pod{}
		aw.mu.Unlock()
	}, func(ev watch.Event) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return
		}
		aw.mu.Lock()
		defer aw.mu.Unlock()
		aw.count++
		if ev.Type == watch.Deleted {
			delete(aw.pods, p.Name)
		} else {
			aw.pods[p.Name] = *p
		}
		available := 0
		var desc []string
		for _, q := range aw.pods {
			if q.DeletionTimestamp.IsZero() && ready(q) {
				available++
			}
			desc = append(desc, fmt.Sprintf("%s(%s,node=%s,terminating=%t,ready=%t)", q.Name, q.Status.Phase, q.Spec.NodeName, !q.DeletionTimestamp.IsZero(), ready(q)))
		}
		if aw.min < 0 || available < aw.min {
			aw.min, aw.at = available, fmt.Sprintf("after %s %s: %s", ev.Type, p.Name, strings.Join(desc, " "))
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return aw
}

func (aw *availabilityWatch) result() (int, string, int) {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	return aw.min, aw.at, aw.count
}

// TestDisruptionDrift: a NodePool (WhenEmpty, consolidateAfter Never, budget of one node) runs three replicas that
// must each have a node of their own; changing a label of its template drifts all three nodes, which are replaced
// one at a time — watched on every NodeClaim change, never two disrupting at once — and every replica ends Running on
// a node with the new label.
func TestDisruptionDrift(t *testing.T) {
	kube := tailorClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	stack := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	disruptionNodeClass(t, kube)
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	np := createNodePool(t, kube, `
metadata: {name: drift}
spec:
  template:
    metadata: {labels: {example.com/pool: drift, example.com/generation: "1"}}
    spec:
      expireAfter: Never
      requirements: [{key: tailor.sh/capacity-type, operator: In, values: [spot]}]
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: Never
    budgets: [{nodes: "1"}]
`)
	ns := createNamespace(t, cs, "drift")
	d := workload(ns, "spread", "drift", 3, "1")
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: d.Spec.Selector,
			TopologyKey:   corev1.LabelHostname,
		}},
	}}
	createDeployment(t, cs, d)
	waitForPods(t, cs, ns, "3 replicas Running on 3 nodes", func(pods []corev1.Pod) bool {
		live := livePods(pods, "")
		nodes := map[string]bool{}
		for _, p := range live {
			nodes[p.Spec.NodeName] = true
		}
		return len(live) == 3 && len(nodes) == 3 && all(live, running)
	})
	original := poolClaims(t, kube, "drift")
	if len(original) != 3 {
		t.Fatalf("%d nodeclaims in the drift pool, want 3: %v", len(original), claimNames(original))
	}

	cw := watchClaims(t, "drift")
	start := time.Now()
	patch := client.MergeFrom(np.DeepCopy())
	np.Spec.Template.ObjectMeta.Labels["example.com/generation"] = "2"
	if err := kube.Patch(t.Context(), np, patch); err != nil {
		t.Fatal(err)
	}
	var lastPods []corev1.Pod
	waitFor(t, 3*time.Minute, "the 3 original nodeclaims gone and 3 replicas Running on generation-2 nodes", func(ctx context.Context) bool {
		for _, nc := range original {
			if err := kube.Get(ctx, client.ObjectKeyFromObject(&nc), &apiv1.NodeClaim{}); !apierrors.IsNotFound(err) {
				return false
			}
		}
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		lastPods = livePods(list.Items, "")
		return len(lastPods) == 3 && all(lastPods, func(p corev1.Pod) bool {
			if !running(p) {
				return false
			}
			node, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			return err == nil && node.Labels["example.com/generation"] == "2"
		})
	})
	t.Logf("template label changed → 3 nodes replaced, replicas Running on new nodes after %s", time.Since(start).Round(time.Millisecond))
	most, atMost, deleted := cw.result()
	t.Logf("most drift nodeclaims disrupting at once: %d %v", most, atMost)
	if most != 1 {
		t.Errorf("at most %d nodeclaims were disrupting at once (%v), want exactly 1 (budget nodes: \"1\")", most, atMost)
	}
	for _, nc := range original {
		if !deleted[nc.Name] {
			t.Errorf("the watch never saw original nodeclaim %s deleted", nc.Name)
		}
	}
	claims := poolClaims(t, kube, "drift")
	for _, nc := range claims {
		if nc.StatusConditions().IsTrue(apiv1.ConditionTypeDrifted) {
			t.Errorf("replacement nodeclaim %s is Drifted", nc.Name)
		}
	}
	if len(claims) != 3 {
		t.Errorf("%d nodeclaims in the drift pool after the replacement, want 3: %v", len(claims), claimNames(claims))
	}
	checkLog(t, stack, "disrupting node(s) via delete, reason: drifted")
}

// checkLog fails the test if the running controller's log lacks any of lines.
func checkLog(t *testing.T, stack *testenv.Stack, lines ...string) {
	t.Helper()
	b, err := os.ReadFile(stack.Controller.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range lines {
		if !strings.Contains(string(b), line) {
			t.Errorf("controller log lacks %q", line)
		}
	}
}

var _ = types.MergePatchType
var _ = policyv1.PodDisruptionBudget{}
var _ = intstr.FromInt32
var _ = ptr.To[int]
