package nodeclaim

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// IndexFields registers the provider ID indexes the controllers look Nodes and NodeClaims up by
// (state.IndexProviderIDs).
func IndexFields(ctx context.Context, indexer client.FieldIndexer) error {
	return state.IndexProviderIDs(ctx, indexer)
}

// Register adds the lifecycle controller: NodeClaims, and Nodes mapped to their NodeClaim by provider ID (a node
// joining, becoming Ready or losing a startup taint moves its claim forward; a node deleted by hand deletes its
// claim, whose finalizer terminates the instance).
func (c *Controller) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeclaim.lifecycle").
		For(&apiv1.NodeClaim{}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(c.claimsForNode)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		Complete(c)
}

func (c *Controller) claimsForNode(ctx context.Context, o client.Object) []reconcile.Request {
	node := o.(*corev1.Node)
	if node.Spec.ProviderID == "" {
		return nil
	}
	claims := &apiv1.NodeClaimList{}
	if err := c.kube.List(ctx, claims, client.MatchingFields{ProviderIDIndex: node.Spec.ProviderID}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(claims.Items))
	for i := range claims.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&claims.Items[i])})
	}
	return reqs
}
