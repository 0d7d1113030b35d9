package nodeclaim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
)

type fixture struct {
	t      *testing.T
	kube   client.Client // reads from the informer cache, as in the controller
	direct client.Client // reads from the API server
	clk    *clocktesting.FakeClock
	cloud  *fake.CloudProvider
	c      *Controller
	gc     *GarbageCollector
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cached, direct := env.Clients(t, IndexFields)
	c, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	its, err := c.Named(catalog.Options{}, "m5.large", "m5.xlarge")
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Now())
	cloud := fake.New(its...)
	f := &fixture{t: t, kube: cached, direct: direct, clk: clk, cloud: cloud}
	f.c, err = New(clk, f.kube, cloud, &events.FakeRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	f.gc, err = NewGarbageCollector(clk, f.kube, cloud)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) claim(name string, mutate func(*apiv1.NodeClaim)) *apiv1.NodeClaim {
	f.t.Helper()
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
		Spec: apiv1.NodeClaimSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
			Requirements: []apiv1.NodeSelectorRequirementWithMinValues{{Key: apiv1.InstanceTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5.large", "m5.xlarge"}}},
			Resources:    apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		},
	}
	if mutate != nil {
		mutate(nc)
	}
	if err := f.direct.Create(f.t.Context(), nc); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { f.forceDelete(nc.Name) })
	return nc
}

// forceDelete removes a claim and its node whatever their finalizers, so tests leave nothing behind.
func (f *fixture) forceDelete(name string) {
	ctx := context.WithoutCancel(f.t.Context())
	nc := &apiv1.NodeClaim{}
	if err := f.direct.Get(ctx, client.ObjectKey{Name: name}, nc); err == nil {
		nc.Finalizers = nil
		_ = f.direct.Update(ctx, nc)
		_ = f.direct.Delete(ctx, nc)
	}
	node := &corev1.Node{}
	if err := f.direct.Get(ctx, client.ObjectKey{Name: name + "-node"}, node); err == nil {
		node.Finalizers = nil
		_ = f.direct.Update(ctx, node)
		_ = f.direct.Delete(ctx, node)
	}
}

// reconcileUntil reconciles the claim until cond holds on the claim as the API server has it.
func (f *fixture) reconcileUntil(name, what string, cond func(*apiv1.NodeClaim) bool) *apiv1.NodeClaim {
	f.t.Helper()
	var last *apiv1.NodeClaim
	var lastErr error
	err := wait.PollUntilContextTimeout(f.t.Context(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, lastErr = f.c.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		nc := &apiv1.NodeClaim{}
		if err := f.direct.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
			if apierrors.IsNotFound(err) {
				last = nil
				return cond(nil), nil
			}
			return false, err
		}
		last = nc
		return cond(nc), nil
	})
	if err != nil {
		f.t.Fatalf("waiting for nodeclaim %s %s: %v (last reconcile error: %v; claim: %+v)", name, what, err, lastErr, last)
	}
	return last
}

func (f *fixture) registerNode(nc *apiv1.NodeClaim, ready bool, taints ...corev1.Taint) *corev1.Node {
	f.t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: nc.Name + "-node", Labels: map[string]string{corev1.LabelHostname: nc.Name + "-node"}},
		Spec:       corev1.NodeSpec{ProviderID: nc.Status.ProviderID, Taints: taints},
	}
	if err := f.direct.Create(f.t.Context(), node); err != nil {
		f.t.Fatal(err)
	}
	f.setNodeReady(node, ready)
	return node
}

func (f *fixture) setNodeReady(node *corev1.Node, ready bool) {
	f.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	err := wait.PollUntilContextTimeout(f.t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := f.direct.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return false, err
		}
		node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("29")}
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		err := f.direct.Status().Update(ctx, node)
		return err == nil, client.IgnoreAlreadyExists(ignoreConflict(err))
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func conditionTrue(nc *apiv1.NodeClaim, t string) bool {
	return nc != nil && nc.StatusConditions().IsTrue(t)
}

// TestLifecycle walks a NodeClaim through launch, registration, initialization and deletion.
func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	startup := corev1.Taint{Key: "example.com/agent-not-ready", Effect: corev1.TaintEffectNoSchedule}
	f.claim("life", func(nc *apiv1.NodeClaim) {
		nc.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}
		nc.Spec.StartupTaints = []corev1.Taint{startup}
	})

	nc := f.reconcileUntil("life", "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
	if nc.Status.ProviderID == "" || nc.Labels[apiv1.InstanceTypeLabelKey] != "m5.large" || nc.Labels[apiv1.ZoneLabelKey] == "" {
		t.Fatalf("launched claim lacks provider ID or the launched type's labels: %+v", nc)
	}
	if !controllerutil.ContainsFinalizer(nc, TerminationFinalizer) {
		t.Errorf("claim has no termination finalizer")
	}
	if conditionTrue(nc, apiv1.ConditionTypeRegistered) {
		t.Errorf("registered before any node exists")
	}
	if f.cloud.Calls(fake.MethodCreate) != 1 {
		t.Errorf("Create called %d times, want 1", f.cloud.Calls(fake.MethodCreate))
	}

	node := f.registerNode(nc, false)
	nc = f.reconcileUntil("life", "registered", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeRegistered) })
	if nc.Status.NodeName != node.Name {
		t.Errorf("status.nodeName = %q, want %q", nc.Status.NodeName, node.Name)
	}
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
		t.Fatal(err)
	}
	if node.Labels[apiv1.NodePoolLabelKey] != "default" || node.Labels[apiv1.RegisteredLabelKey] != "true" || node.Labels[apiv1.InstanceTypeLabelKey] != "m5.large" {
		t.Errorf("node labels not synced: %v", node.Labels)
	}
	if !hasTaint(node.Spec.Taints, nc.Spec.Taints[0]) || !hasTaint(node.Spec.Taints, startup) {
		t.Errorf("node taints %v lack the claim's taint or startup taint", node.Spec.Taints)
	}
	if len(node.OwnerReferences) != 1 || node.OwnerReferences[0].Name != "life" {
		t.Errorf("node owner references = %v, want the nodeclaim", node.OwnerReferences)
	}
	if !controllerutil.ContainsFinalizer(node, TerminationFinalizer) {
		t.Errorf("node has no termination finalizer")
	}
	if conditionTrue(nc, apiv1.ConditionTypeInitialized) {
		t.Errorf("initialized while the node is not Ready")
	}

	// Ready, but the startup taint is still there: not initialized.
	f.setNodeReady(node, true)
	for range 3 {
		_, _ = f.c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "life"}})
	}
	if err := f.direct.Get(t.Context(), client.ObjectKey{Name: "life"}, nc); err != nil {
		t.Fatal(err)
	}
	if conditionTrue(nc, apiv1.ConditionTypeInitialized) {
		t.Fatalf("initialized while the startup taint is on the node")
	}
	// Whatever owns the startup taint removes it.
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
		t.Fatal(err)
	}
	var kept []corev1.Taint
	for _, tn := range node.Spec.Taints {
		if tn.Key != startup.Key {
			kept = append(kept, tn)
		}
	}
	node.Spec.Taints = kept
	if err := f.direct.Update(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	nc = f.reconcileUntil("life", "initialized", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeReady) })
	// Every phase's condition survives the later ones (a merge patch from a stale read once dropped Launched).
	for _, c := range []string{apiv1.ConditionTypeLaunched, apiv1.ConditionTypeRegistered, apiv1.ConditionTypeInitialized} {
		if !conditionTrue(nc, c) {
			t.Errorf("condition %s not True on the initialized claim: %+v", c, nc.Status.Conditions)
		}
	}
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
		t.Fatal(err)
	}
	if hasTaint(node.Spec.Taints, startup) {
		t.Errorf("the startup taint came back after initialization")
	}
	if node.Labels[apiv1.InitializedLabelKey] != "true" {
		t.Errorf("node not labelled initialized: %v", node.Labels)
	}

	// Deletion: the node goes first (it is drained by the termination controller, which is not running here), and
	// the claim waits for it.
	if err := f.direct.Delete(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	f.reconcileUntil("life", "waiting for its node", func(*apiv1.NodeClaim) bool {
		err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node)
		return err == nil && !node.DeletionTimestamp.IsZero()
	})
	if f.cloud.Calls(fake.MethodDelete) != 0 {
		t.Errorf("instance terminated before its node was drained")
	}
	// What the termination controller does once drained: release the node.
	node.Finalizers = nil
	if err := f.direct.Update(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	f.reconcileUntil("life", "gone", func(nc *apiv1.NodeClaim) bool { return nc == nil })
	if f.cloud.Calls(fake.MethodDelete) < 1 {
		t.Errorf("the instance was never terminated")
	}
	if _, err := f.cloud.Get(t.Context(), nc.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("instance %s still exists after the claim is gone (%v)", nc.Status.ProviderID, err)
	}
}

// TestInsufficientCapacityDeletesClaim: no offering has capacity → the claim goes, so its pods are planned again.
func TestInsufficientCapacityDeletesClaim(t *testing.T) {
	f := newFixture(t)
	f.cloud.QueueError(fake.MethodCreate, cloudprovider.NewInsufficientCapacityError(errors.New("all offerings out")))
	f.claim("ice", nil)
	f.reconcileUntil("ice", "deleted", func(nc *apiv1.NodeClaim) bool { return nc == nil })
}

// TestNodeClassNotReadyWaits: a claim whose node class is not ready says so and is not launched.
func TestNodeClassNotReadyWaits(t *testing.T) {
	f := newFixture(t)
	f.cloud.SetNodeClassReady(false)
	f.claim("waiting", nil)
	nc := f.reconcileUntil("waiting", "not launched", func(nc *apiv1.NodeClaim) bool {
		c := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		return c != nil && c.Reason == ReasonNodeClassNotReady
	})
	if nc.Status.ProviderID != "" {
		t.Errorf("launched with a node class that is not ready")
	}
}

// TestRegistrationTimeout: a launched claim whose node never joins is deleted after RegistrationTTL.
func TestRegistrationTimeout(t *testing.T) {
	f := newFixture(t)
	f.claim("lost", nil)
	f.reconcileUntil("lost", "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
	res, err := f.c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "lost"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > RegistrationTTL {
		t.Errorf("requeue after %s, want a wake-up within the registration TTL", res.RequeueAfter)
	}
	f.clk.Step(RegistrationTTL + time.Second)
	f.reconcileUntil("lost", "deleted after the registration TTL", func(nc *apiv1.NodeClaim) bool { return nc == nil })
}

// TestGarbageCollection: an owned instance with no claim is terminated after the grace period; a launched claim whose
// instance vanished is deleted.
func TestGarbageCollection(t *testing.T) {
	f := newFixture(t)
	orphan := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "orphan", CreationTimestamp: metav1.NewTime(f.clk.Now())}}
	orphan.Status.ProviderID = "fake:///us-east-1a/fake-9999"
	f.cloud.AddMachine(orphan)

	f.claim("vanishing", nil)
	nc := f.reconcileUntil("vanishing", "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
	// Young orphans and fresh claims are left alone.
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cloud.Get(t.Context(), orphan.Status.ProviderID); err != nil {
		t.Fatalf("a young orphan was collected: %v", err)
	}
	// The claim's instance disappears behind Tailor's back; time passes.
	if err := f.cloud.Delete(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	f.clk.Step(GCGracePeriod + time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cloud.Get(t.Context(), orphan.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("orphan instance not terminated: %v", err)
	}
	// Collection reads claims from the informer cache, which may not hold the claim's launch yet: run it as the
	// periodic collector would, until the claim goes.
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := f.gc.Collect(ctx); err != nil {
			return false, err
		}
		got := &apiv1.NodeClaim{}
		err := f.direct.Get(ctx, client.ObjectKey{Name: "vanishing"}, got)
		return apierrors.IsNotFound(err) || !got.DeletionTimestamp.IsZero(), nil
	})
	if err != nil {
		t.Errorf("claim whose instance vanished was not deleted: %v", fmt.Sprint(err))
	}
}

// TestLaunchRecordsPrice checks that the launch phase writes the hourly price of the launched offering into the
// claim's price annotation, which the NodePool controller sums into tailor_cluster_price_per_hour.
func TestLaunchRecordsPrice(t *testing.T) {
	f := newFixture(t)
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "priced"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		}}},
	}
	if err := f.direct.Create(t.Context(), np); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.direct.Delete(context.WithoutCancel(t.Context()), np) })
	f.claim("priced-claim", func(nc *apiv1.NodeClaim) { nc.Labels[apiv1.NodePoolLabelKey] = "priced" })
	// The cache must see the NodePool before the launch looks its instance types up.
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		return f.kube.Get(ctx, client.ObjectKey{Name: "priced"}, &apiv1.NodePool{}) == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	nc := f.reconcileUntil("priced-claim", "launched with a price", func(nc *apiv1.NodeClaim) bool {
		return conditionTrue(nc, apiv1.ConditionTypeLaunched) && nc.Annotations[apiv1.PricePerHourAnnotationKey] != ""
	})
	its, err := f.cloud.GetInstanceTypes(t.Context(), np)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, it := range its {
		for _, o := range it.Offerings {
			if it.Name == nc.Labels[apiv1.InstanceTypeLabelKey] && o.Zone == nc.Labels[apiv1.ZoneLabelKey] && o.CapacityType == nc.Labels[apiv1.CapacityTypeLabelKey] {
				want = fmt.Sprintf("%.4f", o.PricePerHour)
			}
		}
	}
	if got := nc.Annotations[apiv1.PricePerHourAnnotationKey]; want == "" || got != want {
		t.Errorf("price annotation = %q, want %q (the launched offering %s %s %s)", got, want,
			nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.ZoneLabelKey], nc.Labels[apiv1.CapacityTypeLabelKey])
	}
}

// publications is a Publications whose answer the test sets.
type publications struct{ pending atomic.Bool }

func (p *publications) PublicationPending(string, string) bool { return p.pending.Load() }

// TestRegistrationAwaitsPublication: a node that registers with the unregistered taint, under the name announced at
// launch, stays unregistered (taint on, no pod can land) while its pods' nominations are unpublished, and is
// registered with the taint removed once they are; after publicationWait it is registered regardless.
func TestRegistrationAwaitsPublication(t *testing.T) {
	for _, tt := range []struct {
		name    string
		publish bool // the nominations get published; otherwise the wait runs out
	}{{name: "published", publish: true}, {name: "wait runs out"}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			pubs := &publications{}
			pubs.pending.Store(true)
			f.c.HoldForPublications(pubs)
			name := "hold-" + strings.ReplaceAll(tt.name, " ", "-")
			f.claim(name, nil)
			nc := f.reconcileUntil(name, "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
			// The name the cloud announced at launch (the fake provider announces none).
			if nc.Annotations == nil {
				nc.Annotations = map[string]string{}
			}
			nc.Annotations[apiv1.NodeNameAnnotationKey] = name + "-node"
			if err := f.direct.Update(t.Context(), nc); err != nil {
				t.Fatal(err)
			}
			node := f.registerNode(nc, true, apiv1.UnregisteredTaint)
			f.clk.SetTime(node.CreationTimestamp.Time)
			// The controller reads through the cache: let it see the node and the announced name first.
			if err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
				cached := &apiv1.NodeClaim{}
				if err := f.kube.Get(ctx, client.ObjectKey{Name: name}, cached); err != nil {
					return false, nil
				}
				return cached.Annotations[apiv1.NodeNameAnnotationKey] != "" && f.kube.Get(ctx, client.ObjectKeyFromObject(node), &corev1.Node{}) == nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := f.c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: name}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.direct.Get(t.Context(), client.ObjectKey{Name: name}, nc); err != nil {
				t.Fatal(err)
			}
			if conditionTrue(nc, apiv1.ConditionTypeRegistered) {
				t.Fatal("registered while the nominations were unpublished")
			}
			if tt.publish {
				pubs.pending.Store(false)
			} else {
				f.clk.Step(publicationWait)
			}
			f.reconcileUntil(name, "registered", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeRegistered) })
			if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == apiv1.UnregisteredTaintKey }) {
				t.Errorf("node still carries %s after registration: %v", apiv1.UnregisteredTaintKey, node.Spec.Taints)
			}
		})
	}
}

// TestLaunchRecordsOverlaidPrice: the price recorded at launch (and so tailor_cluster_price_per_hour and
// consolidation's savings) is the NodeOverlay's, not the provider's list price.
func TestLaunchRecordsOverlaidPrice(t *testing.T) {
	f := newFixture(t)
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "overlaid"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		}}},
	}
	ov := &apiv1.NodeOverlay{ObjectMeta: metav1.ObjectMeta{Name: "flat-rate"}, Spec: apiv1.NodeOverlaySpec{Price: ptr.To("0.0123")}}
	for _, o := range []client.Object{np, ov} {
		if err := f.direct.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.direct.Delete(context.WithoutCancel(t.Context()), o) })
	}
	f.claim("overlaid-claim", func(nc *apiv1.NodeClaim) { nc.Labels[apiv1.NodePoolLabelKey] = "overlaid" })
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		return f.kube.Get(ctx, client.ObjectKey{Name: "overlaid"}, &apiv1.NodePool{}) == nil &&
			f.kube.Get(ctx, client.ObjectKey{Name: "flat-rate"}, &apiv1.NodeOverlay{}) == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nc := f.reconcileUntil("overlaid-claim", "launched with a price", func(nc *apiv1.NodeClaim) bool {
		return conditionTrue(nc, apiv1.ConditionTypeLaunched) && nc.Annotations[apiv1.PricePerHourAnnotationKey] != ""
	})
	if got := nc.Annotations[apiv1.PricePerHourAnnotationKey]; got != "0.0123" {
		t.Errorf("price annotation = %q, want the NodeOverlay's 0.0123", got)
	}
}
