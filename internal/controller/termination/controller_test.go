package termination

import (
	"context"
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
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
	"github.com/tailor-sh/tailor/internal/testenv"
)

type fixture struct {
	t      *testing.T
	direct client.Client
	cached client.Client // what the controller reads
	clk    *clocktesting.FakeClock
	cloud  *fake.CloudProvider
	c      *Controller
	ns     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cached, direct := env.Clients(t, IndexFields, testenv.NodeClaimProviderIDIndex)
	clk := clocktesting.NewFakeClock(time.Now())
	cloud := fake.New()
	c, err := New(clk, cached, cloud, &events.FakeRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "term-"}}
	if err := direct.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default service account", func(ctx context.Context) bool {
		return direct.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "default"}, &corev1.ServiceAccount{}) == nil
	})
	return &fixture{t: t, direct: direct, cached: cached, clk: clk, cloud: cloud, c: c, ns: ns.Name}
}

func waitFor(t *testing.T, what string, cond func(context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return cond(ctx), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// node creates a KWOK node of Tailor's (finalizer, provider ID) with a NodeClaim and a machine in the fake cloud.
func (f *fixture) node(name string, grace *time.Duration) (*corev1.Node, *apiv1.NodeClaim) {
	f.t.Helper()
	providerID := "fake:///us-east-1a/" + name
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       apiv1.NodeClaimSpec{NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}},
	}
	if grace != nil {
		nc.Spec.TerminationGracePeriod = &metav1.Duration{Duration: *grace}
	}
	if err := f.direct.Create(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
	nc.Status.ProviderID = providerID
	if err := f.direct.Status().Update(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
	f.cloud.AddMachine(nc)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Finalizers: []string{apiv1.TerminationFinalizer},
			Labels:      map[string]string{corev1.LabelHostname: name},
			Annotations: map[string]string{testenv.KWOKAnnotation: "fake"},
		},
		Spec: corev1.NodeSpec{ProviderID: providerID},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110"),
		}},
	}
	node.Status.Capacity = node.Status.Allocatable
	if err := f.direct.Create(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		ctx := context.WithoutCancel(f.t.Context())
		n := &corev1.Node{}
		if err := f.direct.Get(ctx, client.ObjectKey{Name: name}, n); err == nil {
			n.Finalizers = nil
			_ = f.direct.Update(ctx, n)
			_ = f.direct.Delete(ctx, n)
		}
		_ = f.direct.Delete(ctx, nc)
	})
	return node, nc
}

// pod binds a running pod to the node.
func (f *fixture) pod(name, node string, labels map[string]string, mutate func(*corev1.Pod)) *corev1.Pod {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "pause", Image: testenv.PauseImage}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	if err := f.direct.Create(f.t.Context(), p); err != nil {
		f.t.Fatal(err)
	}
	waitFor(f.t, "pod "+name+" running", func(ctx context.Context) bool {
		err := f.direct.Get(ctx, client.ObjectKeyFromObject(p), p)
		return err == nil && p.Status.Phase == corev1.PodRunning
	})
	return p
}

// daemonSetPod makes a real DaemonSet that runs on the node only and returns its pod once Running.
func (f *fixture) daemonSetPod(name, node string) *corev1.Pod {
	f.t.Helper()
	labels := map[string]string{"ds": name}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{corev1.LabelHostname: node},
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers:                    []corev1.Container{{Name: "agent", Image: testenv.PauseImage}},
				},
			},
		},
	}
	if err := f.direct.Create(f.t.Context(), ds); err != nil {
		f.t.Fatal(err)
	}
	var pod corev1.Pod
	waitFor(f.t, "daemonset pod running", func(ctx context.Context) bool {
		pods := &corev1.PodList{}
		if err := f.direct.List(ctx, pods, client.InNamespace(f.ns), client.MatchingLabels(labels)); err != nil || len(pods.Items) != 1 {
			return false
		}
		pod = pods.Items[0]
		return pod.Status.Phase == corev1.PodRunning
	})
	return &pod
}

func (f *fixture) reconcile(name string) ctrl.Result {
	f.t.Helper()
	res, err := f.c.Reconcile(f.t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return res
}

// deleteNode deletes the node and waits until the controller's cache sees it being deleted: a reconcile on the old
// cached copy does nothing.
func (f *fixture) deleteNode(node *corev1.Node) {
	f.t.Helper()
	if err := f.direct.Delete(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
	waitFor(f.t, "the cache to see node "+node.Name+" deleted", func(ctx context.Context) bool {
		cached := &corev1.Node{}
		return f.cached.Get(ctx, client.ObjectKeyFromObject(node), cached) == nil && !cached.DeletionTimestamp.IsZero()
	})
}

func (f *fixture) gone(obj client.Object) bool {
	err := f.direct.Get(f.t.Context(), client.ObjectKeyFromObject(obj), obj)
	return apierrors.IsNotFound(err) || (err == nil && !obj.GetDeletionTimestamp().IsZero() && len(obj.GetFinalizers()) == 0)
}

// TestDrainCordonsEvictsAndTerminates: cordon, evict ordinary pods, keep daemonset and tolerating pods, then
// terminate the instance and release the node.
func TestDrainCordonsEvictsAndTerminates(t *testing.T) {
	f := newFixture(t)
	node, nc := f.node("drain-1", nil)
	app := f.pod("app", node.Name, map[string]string{"app": "web"}, nil)
	ds := f.daemonSetPod("agent", node.Name)
	f.deleteNode(node)
	waitFor(t, "node cordoned and app pod gone", func(context.Context) bool {
		f.reconcile(node.Name)
		return f.gone(app)
	})
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
		t.Fatalf("node released before drain finished: %v", err)
	}
	tainted := false
	for _, tn := range node.Spec.Taints {
		tainted = tainted || (tn.Key == DisruptedTaint.Key && tn.Effect == DisruptedTaint.Effect)
	}
	if !tainted {
		t.Errorf("node not cordoned: taints %v", node.Spec.Taints)
	}
	waitFor(t, "node released", func(context.Context) bool {
		f.reconcile(node.Name)
		return f.gone(node)
	})
	if f.cloud.Calls(fake.MethodDelete) != 1 {
		t.Errorf("cloud Delete called %d times, want 1", f.cloud.Calls(fake.MethodDelete))
	}
	if _, err := f.cloud.Get(t.Context(), nc.Status.ProviderID); err == nil {
		t.Errorf("instance still exists after the node was released")
	}
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(ds), ds); err != nil || !ds.DeletionTimestamp.IsZero() {
		t.Errorf("daemonset pod was evicted (err %v)", err)
	}
}

// TestPDBBlocksDrainUntilGracePeriod: a PodDisruptionBudget allowing no disruption holds the drain (and the
// instance) until the NodeClaim's terminationGracePeriod, after which the pods are deleted.
func TestPDBBlocksDrainUntilGracePeriod(t *testing.T) {
	f := newFixture(t)
	grace := 10 * time.Minute
	node, _ := f.node("drain-2", &grace)
	labels := map[string]string{"app": "guarded"}
	pods := []*corev1.Pod{f.pod("guarded-1", node.Name, labels, nil), f.pod("guarded-2", node.Name, labels, nil)}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guarded", Namespace: f.ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: labels},
		},
	}
	if err := f.direct.Create(t.Context(), pdb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "PDB status observed", func(ctx context.Context) bool {
		err := f.direct.Get(ctx, client.ObjectKeyFromObject(pdb), pdb)
		return err == nil && pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.ExpectedPods == 2
	})
	f.deleteNode(node)
	for range 5 {
		res := f.reconcile(node.Name)
		if res.RequeueAfter != pdbBlockedPoll {
			t.Errorf("requeue after %s, want the PDB backoff %s", res.RequeueAfter, pdbBlockedPoll)
		}
	}
	for _, p := range pods {
		if f.gone(p) {
			t.Fatalf("pod %s was removed despite the PodDisruptionBudget", p.Name)
		}
	}
	if f.cloud.Calls(fake.MethodDelete) != 0 || f.gone(node) {
		t.Fatalf("instance terminated or node released while its pods were still there")
	}
	// The grace period runs out: the pods are deleted regardless, then the node goes. (The grace counts from the
	// node's deletionTimestamp, set by the API server some seconds after the fake clock's start: step past it.)
	f.clk.Step(grace + time.Minute)
	waitFor(t, "node released after the grace period", func(context.Context) bool {
		f.reconcile(node.Name)
		return f.gone(node)
	})
	for _, p := range pods {
		if !f.gone(p) {
			t.Errorf("pod %s still there after the grace period", p.Name)
		}
	}
	if f.cloud.Calls(fake.MethodDelete) != 1 {
		t.Errorf("cloud Delete called %d times, want 1", f.cloud.Calls(fake.MethodDelete))
	}
}

// TestEvictable keeps daemonset, mirror, finished and disrupted-tolerating pods out of the drain.
func TestEvictable(t *testing.T) {
	mk := func(name string, mutate func(*corev1.Pod)) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
		mutate(&p)
		return p
	}
	pods := []corev1.Pod{
		mk("plain", func(*corev1.Pod) {}),
		mk("daemon", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet"}} }),
		mk("mirror", func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} }),
		mk("done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		mk("stays", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: DisruptedTaint.Key, Operator: corev1.TolerationOpExists}}
		}),
		mk("replicaset", func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet"}} }),
	}
	var got []string
	for _, p := range Evictable(pods) {
		got = append(got, p.Name)
	}
	if len(got) != 2 || got[0] != "plain" || got[1] != "replicaset" {
		t.Errorf("Evictable = %v, want [plain replicaset]", got)
	}
}

// TestInterruptedNodeHeldUntilPodsRunElsewhere: an interrupted node's instance is kept while a workload it drained
// has a pod that is not Running yet, up to interruptedHold.
func TestInterruptedNodeHeldUntilPodsRunElsewhere(t *testing.T) {
	f := newFixture(t)
	node, nc := f.node("interrupted-1", nil)
	nc.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, interruptedReason, "spot interruption warning")
	if err := f.direct.Status().Update(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "moving"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "moving", Namespace: f.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{corev1.LabelHostname: node.Name},
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers:                    []corev1.Container{{Name: "pause", Image: testenv.PauseImage}},
				},
			},
		},
	}
	if err := f.direct.Create(t.Context(), deploy); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deployment's pod running on the node", func(ctx context.Context) bool {
		pods := &corev1.PodList{}
		_ = f.direct.List(ctx, pods, client.InNamespace(f.ns), client.MatchingLabels(labels))
		return len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning
	})
	f.deleteNode(node)
	// Right after the eviction, before the ReplicaSet has made the new pod, there is nothing pending to see: the
	// instance is held all the same (the workload has no Running replacement).
	waitFor(t, "the drain to evict the pod", func(ctx context.Context) bool {
		f.reconcile(node.Name)
		pods := &corev1.PodList{}
		_ = f.direct.List(ctx, pods, client.InNamespace(f.ns), client.MatchingLabels(labels))
		return len(pods.Items) == 0 || !pods.Items[0].DeletionTimestamp.IsZero() || pods.Items[0].Status.Phase == corev1.PodPending
	})
	f.reconcile(node.Name)
	if f.cloud.Calls(fake.MethodDelete) != 0 || f.gone(node) {
		t.Fatalf("interrupted instance terminated right after the eviction, before its workload had a replacement")
	}
	// The replacement pod can go nowhere (its only node is cordoned): the instance is held. The controller reads a
	// cache, so wait until that sees the pending replacement too (under load it lags the API server).
	waitFor(t, "the old pod evicted and its replacement pending", func(ctx context.Context) bool {
		f.reconcile(node.Name)
		for _, r := range []client.Reader{f.direct, f.cached} {
			pods := &corev1.PodList{}
			_ = r.List(ctx, pods, client.InNamespace(f.ns), client.MatchingLabels(labels))
			if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodPending || !pods.Items[0].DeletionTimestamp.IsZero() {
				return false
			}
		}
		return true
	})
	for range 3 {
		f.reconcile(node.Name)
	}
	if f.cloud.Calls(fake.MethodDelete) != 0 || f.gone(node) {
		t.Fatalf("interrupted instance terminated while its workload's pod is still pending")
	}
	// The hold is bounded.
	f.clk.Step(interruptedHold)
	waitFor(t, "node released after the hold", func(context.Context) bool {
		f.reconcile(node.Name)
		return f.gone(node)
	})
	if f.cloud.Calls(fake.MethodDelete) != 1 {
		t.Errorf("cloud Delete called %d times, want 1", f.cloud.Calls(fake.MethodDelete))
	}
}
