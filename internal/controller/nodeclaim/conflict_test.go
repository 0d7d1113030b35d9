package nodeclaim

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestNodeConflictRequeuesQuietly: syncing a registering Node loses the optimistic-lock race with the kubelet's own
// updates (at 500 new nodes, almost once a node). That is no error to report — controller-runtime logs a returned
// error with a stack trace and counts it in controller_runtime_reconcile_errors_total — but a reason to try again
// soon on a fresh read.
func TestNodeConflictRequeuesQuietly(t *testing.T) {
	f := newFixture(t)
	f.claim("racy", nil)
	nc := f.reconcileUntil("racy", "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) })
	f.registerNode(nc, true)
	var conflicts atomic.Int32
	f.c.kube = testenv.Intercept(f.kube, interceptor.Funcs{
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*corev1.Node); ok && conflicts.Add(1) == 1 {
				return apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return cl.Patch(ctx, obj, patch, opts...)
		},
	})
	var res ctrl.Result
	var err error
	// The cache may not show the Node at once: reconcile until the Node patch was tried.
	poll := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		res, err = f.c.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "racy"}})
		return conflicts.Load() > 0, nil
	})
	if poll != nil {
		t.Fatalf("the reconcile never patched the Node: %v (last error %v)", poll, err)
	}
	if err != nil {
		t.Errorf("a conflict syncing the Node was returned as an error: %v", err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("after a conflict syncing the Node the reconcile asked for %+v, want a requeue within a second", res)
	}
	f.reconcileUntil("racy", "initialized", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeInitialized) })
}
