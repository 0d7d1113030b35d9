package staticpool

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
	"github.com/tailor-sh/tailor/internal/state"
)

type fixture struct {
	t        *testing.T
	kube     client.Client
	recorder *events.FakeRecorder
	c        *Controller
}

func newFixture(t *testing.T, types ...string) *fixture {
	t.Helper()
	kube := env.DirectClient(t)
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	its, err := cat.Named(catalog.Options{}, types...)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	recorder := events.NewFakeRecorder(100)
	c, err := New(clk, kube, kube, state.NewCluster(clk, kube), fake.New(its...), recorder)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		_ = kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
		_ = kube.DeleteAllOf(ctx, &apiv1.NodePool{})
	})
	return &fixture{t: t, kube: kube, recorder: recorder, c: c}
}

func (f *fixture) pool(name string, replicas int64, mutate func(*apiv1.NodePool)) *apiv1.NodePool {
	f.t.Helper()
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.NodePoolSpec{
			Replicas: ptr.To(replicas),
			Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
				NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
			}},
		},
	}
	if mutate != nil {
		mutate(np)
	}
	if err := f.kube.Create(f.t.Context(), np); err != nil {
		f.t.Fatalf("creating nodepool: %v", err)
	}
	return np
}

func (f *fixture) reconcile(name string) ctrl.Result {
	f.t.Helper()
	res, err := f.c.Reconcile(f.t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
	if err != nil {
		f.t.Fatalf("reconcile: %v", err)
	}
	return res
}

// live lists the NodePool's NodeClaims not being deleted.
func (f *fixture) live(pool string) []apiv1.NodeClaim {
	f.t.Helper()
	list := &apiv1.NodeClaimList{}
	if err := f.kube.List(f.t.Context(), list, client.MatchingLabels{apiv1.NodePoolLabelKey: pool}); err != nil {
		f.t.Fatal(err)
	}
	var out []apiv1.NodeClaim
	for _, nc := range list.Items {
		if nc.DeletionTimestamp.IsZero() {
			out = append(out, nc)
		}
	}
	return out
}

func (f *fixture) events() string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func scale(t *testing.T, kube client.Client, name string, replicas int64) {
	t.Helper()
	np := &apiv1.NodePool{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: name}, np); err != nil {
		t.Fatal(err)
	}
	np.Spec.Replicas = ptr.To(replicas)
	if err := kube.Update(t.Context(), np); err != nil {
		t.Fatal(err)
	}
}

func TestStaticPoolKeepsReplicas(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge", "c5.large")
	f.pool("static", 3, func(np *apiv1.NodePool) {
		np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{{
			Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5"}}}
	})
	f.reconcile("static")
	claims := f.live("static")
	if len(claims) != 3 {
		t.Fatalf("%d nodeclaims after the first reconcile, want 3", len(claims))
	}
	for _, nc := range claims {
		var types []string
		for _, r := range nc.Spec.Requirements {
			if r.Key == apiv1.InstanceTypeLabelKey {
				types = r.Values
			}
		}
		if len(types) == 0 || types[0] != "m5.large" {
			t.Errorf("nodeclaim %s may launch %v, want the cheapest m5 first (m5.large)", nc.Name, types)
		}
		if nc.Labels[apiv1.NodePoolLabelKey] != "static" || len(nc.OwnerReferences) != 1 {
			t.Errorf("nodeclaim %s is not the NodePool's: labels %v, owners %v", nc.Name, nc.Labels, nc.OwnerReferences)
		}
	}
	if e := f.events(); !strings.Contains(e, ReasonScaledUp) {
		t.Errorf("no %s event; got:\n%s", ReasonScaledUp, e)
	}
	// A second pass at the count changes nothing (the count is read past any cache).
	f.reconcile("static")
	if n := len(f.live("static")); n != 3 {
		t.Fatalf("%d nodeclaims after a second reconcile, want still 3", n)
	}

	// Scale down to 1: the unlaunched claims go first, the launched one stays.
	launched := claims[1]
	launched.Status.ProviderID = "fake:///zone/1"
	launched.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeLaunched, metav1.ConditionTrue, "Launched", "")
	if err := f.kube.Status().Update(t.Context(), &launched); err != nil {
		t.Fatal(err)
	}
	scale(t, f.kube, "static", 1)
	f.reconcile("static")
	left := f.live("static")
	if len(left) != 1 || left[0].Name != launched.Name {
		var names []string
		for _, nc := range left {
			names = append(names, nc.Name)
		}
		t.Fatalf("after scaling to 1, live claims %v; want only the launched one %s", names, launched.Name)
	}
	if e := f.events(); !strings.Contains(e, ReasonScaledDown) {
		t.Errorf("no %s event; got:\n%s", ReasonScaledDown, e)
	}

	// Scale to 0.
	scale(t, f.kube, "static", 0)
	f.reconcile("static")
	if n := len(f.live("static")); n != 0 {
		t.Fatalf("%d live nodeclaims at replicas 0", n)
	}
}

func TestStaticPoolHonoursLimits(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.pool("capped", 5, func(np *apiv1.NodePool) {
		np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
	})
	res := f.reconcile("capped")
	if n := len(f.live("capped")); n != 2 {
		t.Fatalf("%d nodeclaims under a 4-cpu limit with 2-cpu nodes, want 2", n)
	}
	if res.RequeueAfter == 0 {
		t.Errorf("a static pool short of its count was not requeued")
	}
	if e := f.events(); !strings.Contains(e, ReasonBlocked) || !strings.Contains(e, "only 2 of the 5") {
		t.Errorf("want a %s event saying only 2 of the 5 nodes can launch; got:\n%s", ReasonBlocked, e)
	}
}

func TestDynamicPoolIgnored(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.pool("dynamic", 0, func(np *apiv1.NodePool) { np.Spec.Replicas = nil })
	f.reconcile("dynamic")
	if n := len(f.live("dynamic")); n != 0 {
		t.Fatalf("the static controller created %d nodeclaims for a dynamic NodePool", n)
	}
}
