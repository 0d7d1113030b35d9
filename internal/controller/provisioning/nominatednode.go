package provisioning

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// NominationPublisher tells the kube-scheduler where the plan put each pod: once the node of a NodeClaim exists, every
// pod still pending that was nominated to that NodeClaim gets status.nominatedNodeName set to the node (KEP-5278,
// "nominated node name for an expected pod placement"). The scheduler tries that node first for the pod, and keeps
// the pod's requests reserved there against pods of equal or lower priority, so the first node to become Ready is not
// filled with pods the plan meant for other nodes (which would leave, say, arm64-only pods without room on the arm64
// node bought for them). A field another component set is never overwritten; when Tailor drops a nomination it
// published, the provisioner clears it (ClearStale).
type NominationPublisher struct {
	kube    client.Client
	cluster *state.Cluster
}

// NewNominationPublisher returns the publisher.
func NewNominationPublisher(kube client.Client, cluster *state.Cluster) *NominationPublisher {
	return &NominationPublisher{kube: kube, cluster: cluster}
}

// Register watches the nodes of Tailor's NodePools.
func (n *NominationPublisher) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("provisioning.nominatednode").
		For(&corev1.Node{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetLabels()[apiv1.NodePoolLabelKey] != ""
		}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(n)
}

// Reconcile publishes the nominations to the NodeClaim of the node named in the request.
func (n *NominationPublisher) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := n.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if node.Spec.ProviderID == "" || !node.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	claims := &apiv1.NodeClaimList{}
	if err := n.kube.List(ctx, claims); err != nil {
		return reconcile.Result{}, err
	}
	var errs []error
	for i := range claims.Items {
		nc := &claims.Items[i]
		if nc.Status.ProviderID != node.Spec.ProviderID {
			continue
		}
		published := 0
		for _, np := range n.cluster.NominatedPods(nc.Name, node.Name) {
			ok, err := n.publish(ctx, np, node.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				published++
			}
		}
		if published > 0 {
			log.FromContext(ctx).V(1).Info("published nominations to the kube-scheduler", "nodeclaim", nc.Name, "node", node.Name, "pods", published)
		}
	}
	return reconcile.Result{}, errors.Join(errs...)
}

// publish sets the pod's status.nominatedNodeName to node unless the pod is bound, gone, or nominated elsewhere by
// someone else. It reports whether it wrote the field.
func (n *NominationPublisher) publish(ctx context.Context, np state.NominatedPod, node string) (bool, error) {
	pod := &corev1.Pod{}
	if err := n.kube.Get(ctx, np.Pod, pod); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if pod.UID != np.UID || pod.Spec.NodeName != "" || !pod.DeletionTimestamp.IsZero() {
		return false, nil
	}
	if pod.Status.NominatedNodeName == node {
		n.cluster.Published(np.UID, node)
		return false, nil
	}
	if pod.Status.NominatedNodeName != "" {
		return false, nil // the kube-scheduler's (preemption) or another component's: not ours to overwrite
	}
	orig := pod.DeepCopy()
	pod.Status.NominatedNodeName = node
	if err := n.kube.Status().Patch(ctx, pod, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return false, nil // changed meanwhile (bound, most likely); the next node event looks again
		}
		return false, fmt.Errorf("setting status.nominatedNodeName of pod %s: %w", np.Pod, err)
	}
	n.cluster.Published(np.UID, node)
	return true, nil
}

// ClearStale clears status.nominatedNodeName on pods whose published nomination Tailor dropped (the plan changed:
// the node was filled by others, the NodeClaim went away), when it still names that node and the pod is unbound, so
// the scheduler stops holding room there for them.
func ClearStale(ctx context.Context, kube client.Client, cluster *state.Cluster) error {
	var errs []error
	for _, s := range cluster.TakeStale() {
		pod := &corev1.Pod{}
		if err := kube.Get(ctx, s.Pod, pod); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		if pod.Spec.NodeName != "" || pod.Status.NominatedNodeName != s.Node {
			continue
		}
		orig := pod.DeepCopy()
		pod.Status.NominatedNodeName = ""
		if err := kube.Status().Patch(ctx, pod, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil &&
			!apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("clearing status.nominatedNodeName of pod %s: %w", s.Pod, err))
		}
	}
	return errors.Join(errs...)
}
