package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// podEventDedupe skips writing lastPodEventTime again within this long, so a burst of pods costs one patch. It is
// short because a stamp it defers is late by up to that much, and consolidateAfter counts from the stamp (the reference
// scale-down, 4 pods up then at once down, deleted the node 35 s after the last pod left with 5 s here, 31-32 s with 2 s).
const podEventDedupe = 2 * time.Second

// PodEvents records on each NodeClaim when a pod last arrived on or left its node (status.lastPodEventTime), which
// consolidateAfter counts from.
type PodEvents struct {
	clk  clock.Clock
	kube client.Client
}

// NewPodEvents returns the pod events controller.
func NewPodEvents(clk clock.Clock, kube client.Client) *PodEvents {
	return &PodEvents{clk: clk, kube: kube}
}

// Reconcile stamps the NodeClaim of the node named in the request.
func (p *PodEvents) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := p.kube.Get(ctx, client.ObjectKey{Name: req.Name}, node); err != nil || node.Spec.ProviderID == "" {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	claims := &apiv1.NodeClaimList{}
	if err := p.kube.List(ctx, claims, client.MatchingFields{ProviderIDIndex: node.Spec.ProviderID}); err != nil {
		return reconcile.Result{}, err
	}
	now := p.clk.Now()
	var result reconcile.Result
	for i := range claims.Items {
		nc := &claims.Items[i]
		if since := now.Sub(nc.Status.LastPodEventTime.Time); since < podEventDedupe {
			// Stamped moments ago: stamp again when the window is over, so a later event is never lost (the time
			// recorded is then a little late, which only delays consolidation, never hastens it).
			result.RequeueAfter = podEventDedupe - since
			continue
		}
		patch := client.MergeFrom(nc.DeepCopy())
		nc.Status.LastPodEventTime = metav1.NewTime(now)
		if err := p.kube.Status().Patch(ctx, nc, patch); client.IgnoreNotFound(err) != nil {
			return reconcile.Result{}, err
		}
	}
	return result, nil
}

// Register watches pods: a pod bound to a node, finished, or deleted counts as an event on that node.
func (p *PodEvents) Register(mgr manager.Manager) error {
	enqueue := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], node string) {
		if node != "" {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: node}})
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("disruption.podevents").
		Watches(&corev1.Pod{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueue(q, e.Object.(*corev1.Pod).Spec.NodeName)
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				oldPod, newPod := e.ObjectOld.(*corev1.Pod), e.ObjectNew.(*corev1.Pod)
				if oldPod.Spec.NodeName != newPod.Spec.NodeName || terminal(oldPod) != terminal(newPod) {
					enqueue(q, newPod.Spec.NodeName)
				}
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if pod, ok := e.Object.(*corev1.Pod); ok {
					enqueue(q, pod.Spec.NodeName)
				}
			},
		}).
		Complete(p)
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
