package provisioning

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// Register adds the Provisioner to the manager (leader only) with a pod watch that opens batches: a pod that became
// provisionable, or a NodeClaim that went away with pods waiting for it, a CapacityBuffer or NodePool that changed, or
// a pod bound while buffers exist (it may have taken buffer room).
func (p *Provisioner) Register(mgr manager.Manager) error {
	if err := mgr.Add(p); err != nil {
		return err
	}
	if err := p.publisher.Register(mgr); err != nil {
		return fmt.Errorf("registering the nomination publisher: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("provisioning.trigger").
		For(&corev1.Pod{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			pod, ok := o.(*corev1.Pod)
			return ok && state.Provisionable(pod)
		}))).
		// A pod bound elsewhere can take the room a nominated pod was waiting for: look again, since the
		// kube-scheduler's retries of that pod may not change its Unschedulable condition (and so send no event).
		Watches(&corev1.Pod{}, handler.Funcs{
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				old, okOld := e.ObjectOld.(*corev1.Pod)
				pod, okNew := e.ObjectNew.(*corev1.Pod)
				// A pod bound while a buffer exists may have taken the buffer's room: buy it again now.
				if okOld && okNew && old.Spec.NodeName == "" && pod.Spec.NodeName != "" && (p.cluster.Nominations().Any() || p.buffers.Load()) {
					p.Trigger()
				}
			},
		}).
		// A buffer created, changed or deleted changes the room to keep.
		Watches(&apiv1.CapacityBuffer{}, handler.Funcs{
			CreateFunc: func(context.Context, event.CreateEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				p.Trigger()
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
					p.Trigger()
				}
			},
			DeleteFunc: func(context.Context, event.DeleteEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				p.Trigger()
			},
		}).
		// A NodePool created or changed (a limit raised, requirements widened) may take pods no pool could: plan
		// them now rather than at the next poll.
		Watches(&apiv1.NodePool{}, handler.Funcs{
			CreateFunc: func(context.Context, event.CreateEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				p.Trigger()
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() {
					p.Trigger()
				}
			},
		}).
		Watches(&apiv1.NodeClaim{}, handler.Funcs{
			DeleteFunc: func(context.Context, event.DeleteEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				p.Trigger()
			},
		}).
		Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			p.Trigger()
			return reconcile.Result{}, nil
		}))
}
