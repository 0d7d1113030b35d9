package termination

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestNodeConflictRequeuesQuietly: the Node patches of a termination (the cordon taint, the finalizer's removal) use
// optimistic locking and so lose races with the kubelet's and other controllers' updates, or act on a cache a step
// behind. Such a conflict is no error to report (controller-runtime would log it with a stack trace and count it in
// controller_runtime_reconcile_errors_total) but a reason to try again soon on a fresh read; the node still goes.
func TestNodeConflictRequeuesQuietly(t *testing.T) {
	for _, patchNo := range []int32{1, 2} { // 1: the cordon; 2: the finalizer's removal
		t.Run([]string{"", "cordon", "finalizer"}[patchNo], func(t *testing.T) {
			f := newFixture(t)
			node, _ := f.node("racy", nil)
			f.deleteNode(node)
			var patches int32
			kube := f.c.kube
			f.c.kube = testenv.Intercept(kube, interceptor.Funcs{
				Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					if _, ok := obj.(*corev1.Node); ok {
						if patches++; patches == patchNo {
							return apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, obj.GetName(), errors.New("the object has been modified"))
						}
					}
					return cl.Patch(ctx, obj, patch, opts...)
				},
			})
			var conflicted bool
			waitFor(t, "the node gone", func(ctx context.Context) bool {
				res, err := f.c.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: node.Name}})
				if err != nil {
					t.Fatalf("reconcile returned an error (Node patch number %d conflicted): %v", patchNo, err)
				}
				if patches == patchNo && !conflicted {
					conflicted = true
					if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
						t.Errorf("after a conflicting Node patch the reconcile asked for %+v, want a requeue within a second", res)
					}
				}
				return f.gone(node)
			})
			if !conflicted {
				t.Fatalf("Node patch number %d was never tried (%d patches)", patchNo, patches)
			}
		})
	}
}
