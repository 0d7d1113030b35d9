package capacitybuffer

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// resync re-resolves every buffer this often: a percentage follows its workload's replicas.
const resync = 30 * time.Second

// Controller writes CapacityBuffer status.
type Controller struct {
	clk  clock.Clock
	kube client.Client
}

// New returns the CapacityBuffer status controller; both dependencies are required.
func New(clk clock.Clock, kube client.Client) (*Controller, error) {
	if clk == nil || kube == nil {
		return nil, errors.New("capacitybuffer: clock and client are required")
	}
	return &Controller{clk: clk, kube: kube}, nil
}

// Reconcile resolves one buffer and patches its status when it changed.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cb := &apiv1.CapacityBuffer{}
	if err := c.kube.Get(ctx, req.NamespacedName, cb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !cb.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	original := cb.DeepCopy()
	b, err := state.ResolveBuffer(ctx, c.kube, cb)
	if err != nil {
		return ctrl.Result{}, err
	}
	c.setStatus(cb, b)
	if equality.Semantic.DeepEqual(original.Status, cb.Status) {
		return ctrl.Result{RequeueAfter: resync}, nil
	}
	err = c.kube.Status().Patch(ctx, cb, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	return ctrl.Result{RequeueAfter: resync}, client.IgnoreNotFound(err)
}

// setStatus writes the resolution into the buffer's status.
func (c *Controller) setStatus(cb *apiv1.CapacityBuffer, b *state.Buffer) {
	now := metav1.NewTime(c.clk.Now())
	strategy := cb.Spec.ProvisioningStrategy
	if strategy == nil {
		strategy = ptr.To(apiv1.ProvisioningStrategyActiveCapacity)
	}
	cb.Status.ProvisioningStrategy = strategy
	cb.Status.PodTemplateRef = nil
	if cb.Spec.PodTemplateRef != nil && b.Ready() {
		cb.Status.PodTemplateRef = cb.Spec.PodTemplateRef.DeepCopy()
	}
	cb.Status.PodTemplateGeneration = b.TemplateGeneration
	if !b.Ready() {
		cb.Status.Replicas = nil
		cb.StatusConditions().Set(now, apiv1.ConditionTypeReady, metav1.ConditionFalse, b.Reason, b.Problem.Error())
		return
	}
	cb.Status.Replicas = ptr.To(b.Replicas)
	cb.StatusConditions().Set(now, apiv1.ConditionTypeReady, metav1.ConditionTrue, apiv1.CapacityBufferReasonResolved,
		"Tailor keeps room for every chunk")
}

// Register watches CapacityBuffers, and the PodTemplates and workloads they may name (mapped to the buffers of their
// namespace).
func (c *Controller) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("capacitybuffer.status").
		For(&apiv1.CapacityBuffer{}).
		Watches(&corev1.PodTemplate{}, handler.EnqueueRequestsFromMapFunc(c.buffersIn)).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(c.buffersIn)).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(c.buffersIn)).
		Complete(c)
}

// buffersIn maps an object to the buffers of its namespace (there are few; each resolves cheaply from the cache).
func (c *Controller) buffersIn(ctx context.Context, o client.Object) []reconcile.Request {
	var list apiv1.CapacityBufferList
	if err := c.kube.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
