package nodepool

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestStatusConflictRequeuesQuietly: the status patch loses its optimistic-lock race when the NodePool changed
// since the cache read it (71 times in a scale-up to 500 nodes). That is no error to log with a stack trace, but a
// reason to recompute soon on a fresh read.
func TestStatusConflictRequeuesQuietly(t *testing.T) {
	kube := env.DirectClient(t)
	ref := apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}
	np := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "racy"}, Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{NodeClassRef: ref}}}}
	if err := kube.Create(t.Context(), np); err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	racy := testenv.Intercept(kube, interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			conflicts++
			return apierrors.NewConflict(schema.GroupResource{Group: apiv1.Group, Resource: "nodepools"}, obj.GetName(), errors.New("the object has been modified"))
		},
	})
	c, err := New(clocktesting.NewFakeClock(time.Now()), racy)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "racy"}})
	if conflicts != 1 {
		t.Fatalf("the reconcile patched the status %d times, want 1", conflicts)
	}
	if err != nil {
		t.Errorf("a conflict patching the NodePool's status was returned as an error: %v", err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("after a conflict the reconcile asked for %+v, want a requeue within a second", res)
	}
}
