package nodeclass

import (
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// resolverFunc adapts a function to Resolver.
type resolverFunc func(context.Context, *apiv1.EC2NodeClass) error

func (f resolverFunc) ResolveNodeClass(ctx context.Context, nc *apiv1.EC2NodeClass) error {
	return f(ctx, nc)
}

// createNodeClass creates a node class with one selector of each kind (mutate changes it first).
func createNodeClass(t *testing.T, kube client.Client, name string, mutate func(*apiv1.EC2NodeClass)) *apiv1.EC2NodeClass {
	t.Helper()
	nc := &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			Role:                       "TailorNodeRole",
		},
	}
	if mutate != nil {
		mutate(nc)
	}
	if err := kube.Create(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	return nc
}

func TestReconcileWritesResolvedStatus(t *testing.T) {
	kube := env.DirectClient(t)
	createNodeClass(t, kube, "default", nil)
	calls := 0
	fail := false
	c, err := New(kube, resolverFunc(func(_ context.Context, nc *apiv1.EC2NodeClass) error {
		calls++
		if fail {
			return errors.New("DescribeSubnets: throttled")
		}
		nc.Status.Subnets = []apiv1.Subnet{{ID: "subnet-1", Zone: "us-east-1a"}}
		nc.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Resolved", "")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != ResyncInterval {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, ResyncInterval)
	}
	got := &apiv1.EC2NodeClass{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: "default"}, got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Subnets) != 1 || !got.StatusConditions().IsTrue(apiv1.ConditionTypeReady) {
		t.Errorf("status not written: %+v", got.Status)
	}
	// A cloud error is returned for retry and leaves the status as it was.
	fail = true
	if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "default"}}); err == nil {
		t.Errorf("a resolver error was swallowed")
	}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: "default"}, got); err != nil {
		t.Fatal(err)
	}
	if !got.StatusConditions().IsTrue(apiv1.ConditionTypeReady) || calls != 2 {
		t.Errorf("status changed by a failed resolution (calls %d): %+v", calls, got.Status)
	}
}

// cleaningResolver resolves nothing and records the node classes it was asked to clean up after.
type cleaningResolver struct {
	resolverFunc
	cleaned []string
}

func (r *cleaningResolver) DeleteNodeClassLaunchTemplates(_ context.Context, name string) error {
	r.cleaned = append(r.cleaned, name)
	return nil
}

func TestReconcileCleansUpAfterDeletedNodeClass(t *testing.T) {
	kube := env.DirectClient(t)
	nc := createNodeClass(t, kube, "doomed", nil)
	r := &cleaningResolver{resolverFunc: func(context.Context, *apiv1.EC2NodeClass) error { return nil }}
	c, err := New(kube, r)
	if err != nil {
		t.Fatal(err)
	}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Name: "doomed"}}
	if _, err := c.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(r.cleaned) != 0 {
		t.Fatalf("cleaned up after a node class that exists: %v", r.cleaned)
	}
	if err := kube.Delete(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(r.cleaned) != 1 || r.cleaned[0] != "doomed" {
		t.Errorf("cleaned %v after the deletion, want [doomed]", r.cleaned)
	}
}

// TestInvalidNodeClassNotReady: an EC2NodeClass the API server accepted but the runtime checks refuse (an eviction
// threshold above 100%) is not Ready even when its selectors resolve, so nothing launches from it; the condition
// names the field.
func TestInvalidNodeClassNotReady(t *testing.T) {
	kube := env.DirectClient(t)
	nc := createNodeClass(t, kube, "bad-eviction", func(nc *apiv1.EC2NodeClass) {
		nc.Spec.Kubelet = &apiv1.KubeletConfiguration{EvictionHard: map[string]string{"memory.available": "150%"}}
	})
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), nc) })
	c, err := New(kube, resolverFunc(func(_ context.Context, nc *apiv1.EC2NodeClass) error {
		nc.Status.Subnets = []apiv1.Subnet{{ID: "subnet-1", Zone: "us-east-1a"}}
		nc.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Resolved", "")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: nc.Name}}); err != nil {
		t.Fatal(err)
	}
	got := &apiv1.EC2NodeClass{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: nc.Name}, got); err != nil {
		t.Fatal(err)
	}
	ready := got.StatusConditions().Get(apiv1.ConditionTypeReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, "spec.kubelet.evictionHard[memory.available]") {
		t.Fatalf("Ready = %+v, want False naming spec.kubelet.evictionHard[memory.available]", ready)
	}
	if v := got.StatusConditions().Get(apiv1.ConditionTypeValidationSucceeded); v == nil || v.Status != metav1.ConditionFalse {
		t.Errorf("ValidationSucceeded = %+v, want False", v)
	}
}
