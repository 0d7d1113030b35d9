package nodepool

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
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
	"github.com/tailor-sh/tailor/internal/operator"
)

// Controller writes NodePool status and the cluster's hourly price.
type Controller struct {
	clk  clock.Clock
	kube client.Client
	// prices holds each NodePool's summed claim prices; their total is tailor_cluster_price_per_hour.
	mu     sync.Mutex
	prices map[string]float64
}

// New returns the NodePool status controller; both dependencies are required.
func New(clk clock.Clock, kube client.Client) (*Controller, error) {
	if clk == nil || kube == nil {
		return nil, errors.New("nodepool: clock and client are required")
	}
	return &Controller{clk: clk, kube: kube, prices: map[string]float64{}}, nil
}

// Reconcile recomputes one NodePool's status and patches it when it changed.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	np := &apiv1.NodePool{}
	if err := c.kube.Get(ctx, req.NamespacedName, np); err != nil {
		if apierrors.IsNotFound(err) {
			c.setPoolPrice(req.Name, 0)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	original := np.DeepCopy()
	claims := &apiv1.NodeClaimList{}
	// Every change of every NodeClaim of the pool comes here: read the cache's own objects, not copies (at 1,000
	// claims the copies were half of what the controller allocated during a scale-up; docs/performance.md). Nothing
	// here writes to a claim.
	if err := c.kube.List(ctx, claims, client.MatchingLabels{apiv1.NodePoolLabelKey: np.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	usage := corev1.ResourceList{}
	for _, nc := range claims.Items {
		capacity := nc.Status.Capacity
		if len(capacity) == 0 {
			capacity = nc.Spec.Resources.Requests
		}
		for name, q := range capacity {
			sum := usage[name]
			sum.Add(q)
			usage[name] = sum
		}
	}
	np.Status.Resources = usage
	np.Status.Nodes = int64(len(claims.Items))
	c.setPoolPrice(np.Name, claimsPrice(claims.Items))
	c.setConditions(ctx, np)
	recordMetrics(np)
	if equality.Semantic.DeepEqual(original.Status, np.Status) {
		return ctrl.Result{}, nil
	}
	err := c.kube.Status().Patch(ctx, np, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsConflict(err) {
		// The NodePool changed since the cache read it (a user's edit, or another claim's status): recompute soon
		// on a fresh read; no error to log.
		return ctrl.Result{RequeueAfter: operator.ConflictRetry}, nil
	}
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

func (c *Controller) setConditions(ctx context.Context, np *apiv1.NodePool) {
	now := metav1.NewTime(c.clk.Now())
	conds := np.StatusConditions()
	valid := true
	if errs := np.RuntimeValidate(); len(errs) > 0 {
		valid = false
		conds.Set(now, apiv1.ConditionTypeValidationSucceeded, metav1.ConditionFalse, "Invalid", errs.ToAggregate().Error())
	} else {
		conds.Set(now, apiv1.ConditionTypeValidationSucceeded, metav1.ConditionTrue, "Valid", "")
	}
	classReady, why := c.nodeClassReady(ctx, np)
	if classReady {
		conds.Set(now, apiv1.ConditionTypeNodeClassReady, metav1.ConditionTrue, "Ready", "")
	} else {
		conds.Set(now, apiv1.ConditionTypeNodeClassReady, metav1.ConditionFalse, "NotReady", why)
	}
	switch {
	case !valid:
		conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionFalse, "Invalid", "see ValidationSucceeded")
	case !classReady:
		conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionFalse, "NodeClassNotReady", why)
	default:
		conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionTrue, "Ready", "")
	}
}

func (c *Controller) nodeClassReady(ctx context.Context, np *apiv1.NodePool) (bool, string) {
	ref := np.Spec.Template.Spec.NodeClassRef
	nc := &apiv1.EC2NodeClass{}
	if err := c.kube.Get(ctx, client.ObjectKey{Name: ref.Name}, nc); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("EC2NodeClass %q does not exist: create it or change spec.template.spec.nodeClassRef.name", ref.Name)
		}
		return false, fmt.Sprintf("EC2NodeClass %q: %v", ref.Name, err)
	}
	ready := nc.StatusConditions().Get(apiv1.ConditionTypeReady)
	if ready == nil {
		return false, fmt.Sprintf("EC2NodeClass %q has not been resolved yet", ref.Name)
	}
	if ready.Status != metav1.ConditionTrue {
		return false, fmt.Sprintf("EC2NodeClass %q: %s", ref.Name, ready.Message)
	}
	return true, ""
}

// Register watches NodePools, and NodeClaims and EC2NodeClasses mapped to the NodePools they concern.
func (c *Controller) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodepool.status").
		For(&apiv1.NodePool{}).
		Watches(&apiv1.NodeClaim{}, claimEvents()).
		Watches(&apiv1.EC2NodeClass{}, handler.EnqueueRequestsFromMapFunc(c.poolsOfClass)).
		Complete(c)
}

// statusDebounce is how long after a claim's change its NodePool's status is recounted: the changes of a scale-up's
// claims within it make one recount instead of one each (each lists all the pool's claims).
const statusDebounce = time.Second

// claimEvents asks for a recount of the NodePool of a claim that changed, statusDebounce later.
func claimEvents() handler.EventHandler {
	enqueue := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, o := range objs {
			if pool := o.GetLabels()[apiv1.NodePoolLabelKey]; pool != "" {
				q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: pool}}, statusDebounce)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(q, e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(q, e.Object)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(q, e.Object)
		},
	}
}

func (c *Controller) poolsOfClass(ctx context.Context, o client.Object) []reconcile.Request {
	pools := &apiv1.NodePoolList{}
	if err := c.kube.List(ctx, pools); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, np := range pools.Items {
		if np.Spec.Template.Spec.NodeClassRef.Name == o.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: np.Name}})
		}
	}
	return reqs
}

func recordMetrics(np *apiv1.NodePool) {
	for name, q := range np.Status.Resources {
		usageGauge.WithLabelValues(np.Name, string(name)).Set(asFloat(q))
	}
	usageGauge.WithLabelValues(np.Name, "nodes").Set(float64(np.Status.Nodes))
	for name, q := range np.Spec.Limits {
		limitGauge.WithLabelValues(np.Name, strings.ToLower(string(name))).Set(asFloat(q))
	}
}

// claimsPrice sums the hourly prices recorded on claims at launch; a claim not launched yet (or with an unreadable
// price) adds nothing.
func claimsPrice(claims []apiv1.NodeClaim) float64 {
	var sum float64
	for _, nc := range claims {
		if p, err := strconv.ParseFloat(nc.Annotations[apiv1.PricePerHourAnnotationKey], 64); err == nil && p > 0 {
			sum += p
		}
	}
	return sum
}

// setPoolPrice records one NodePool's price (0 drops it) and publishes the cluster's total.
func (c *Controller) setPoolPrice(pool string, price float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if price == 0 {
		delete(c.prices, pool)
	} else {
		c.prices[pool] = price
	}
	var total float64
	for _, p := range c.prices {
		total += p
	}
	clusterPriceGauge.Set(total)
}

func asFloat(q resource.Quantity) float64 { return q.AsApproximateFloat64() }
