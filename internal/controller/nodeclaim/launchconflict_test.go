package nodeclaim

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
)

// conflictOnce is a client whose first status patch fails with a conflict, as one computed from a stale read does.
type conflictOnce struct {
	client.Client
	failed atomic.Bool
}

func (c *conflictOnce) Status() client.SubResourceWriter {
	return &conflictOnceStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type conflictOnceStatus struct {
	client.SubResourceWriter
	c *conflictOnce
}

func (s *conflictOnceStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	if s.c.failed.CompareAndSwap(false, true) {
		return apierrors.NewConflict(schema.GroupResource{Group: apiv1.Group, Resource: "nodeclaims"}, obj.GetName(), nil)
	}
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}

// The status write after a successful launch conflicts (the reconcile read a stale claim, as right after a failed
// launch attempt wrote its condition): the next reconcile writes the launch again — it neither launches a second
// time nor waits for ever for a write that never happened.
func TestLaunchWrittenAgainAfterConflict(t *testing.T) {
	f := newFixture(t)
	kube := &conflictOnce{Client: f.kube}
	var err error
	if f.c, err = New(f.clk, kube, f.cloud, &events.FakeRecorder{}); err != nil {
		t.Fatal(err)
	}
	f.claim("conflicted", nil)
	// Reconcile until the claim is in the cache and the launch's status write has failed.
	err = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := f.c.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "conflicted"}})
		return kube.failed.Load(), err
	})
	if err != nil {
		t.Fatalf("the launch's status write never happened: %v", err)
	}
	nc := f.reconcileUntil("conflicted", "launched", func(nc *apiv1.NodeClaim) bool {
		return nc != nil && nc.Status.ProviderID != "" && conditionTrue(nc, apiv1.ConditionTypeLaunched)
	})
	if n := f.cloud.Calls(fake.MethodCreate); n != 1 {
		t.Errorf("Create called %d times, want 1", n)
	}
	if nc.Labels[apiv1.InstanceTypeLabelKey] == "" {
		t.Errorf("the launch written again lacks the instance type label: %v", nc.Labels)
	}
}
