package staticpool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// Event reasons on the NodePool.
const (
	ReasonScaledUp   = "StaticScaledUp"
	ReasonScaledDown = "StaticScaledDown"
	// ReasonBlocked: the NodePool wants more nodes than it can have (a limit, no instance type, a NodePool problem).
	ReasonBlocked = "StaticScaleBlocked"
)

// retryBlocked is how soon a static NodePool that could not reach its count is looked at again without a trigger.
const retryBlocked = 30 * time.Second

// Controller keeps each static NodePool at spec.replicas NodeClaims.
type Controller struct {
	clk      clock.Clock
	kube     client.Client
	fresh    client.Reader // uncached: a count read from a lagging cache would launch the same nodes twice
	cluster  *state.Cluster
	cloud    cloudprovider.CloudProvider
	recorder events.EventRecorder
}

// New returns the static NodePool controller; every dependency is required.
// fresh reads the NodeClaims past the cache (the manager's API reader).
func New(clk clock.Clock, kube client.Client, fresh client.Reader, cluster *state.Cluster, cloud cloudprovider.CloudProvider, recorder events.EventRecorder) (*Controller, error) {
	if clk == nil || kube == nil || fresh == nil || cluster == nil || cloud == nil || recorder == nil {
		return nil, errors.New("staticpool: clock, client, API reader, cluster state, cloud provider and recorder are required")
	}
	return &Controller{clk: clk, kube: kube, fresh: fresh, cluster: cluster, cloud: cloud, recorder: recorder}, nil
}

// Reconcile brings one static NodePool to its count.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	np := &apiv1.NodePool{}
	if err := c.kube.Get(ctx, req.NamespacedName, np); err != nil {
		if apierrors.IsNotFound(err) {
			desiredGauge.DeleteLabelValues(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !np.IsStatic() || !np.DeletionTimestamp.IsZero() {
		desiredGauge.DeleteLabelValues(np.Name)
		return ctrl.Result{}, nil // dynamic: provisioning's; deleting: its NodeClaims go with it
	}
	desired := int(*np.Spec.Replicas)
	desiredGauge.WithLabelValues(np.Name).Set(float64(desired))
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("nodepool", klog.KObj(np)))
	claims := &apiv1.NodeClaimList{}
	if err := c.fresh.List(ctx, claims, client.MatchingLabels{apiv1.NodePoolLabelKey: np.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing nodeclaims of nodepool %s: %w", np.Name, err)
	}
	var live []*apiv1.NodeClaim
	for i := range claims.Items {
		if claims.Items[i].DeletionTimestamp.IsZero() {
			live = append(live, &claims.Items[i])
		}
	}
	switch {
	case len(live) < desired:
		return c.scaleUp(ctx, np, desired-len(live))
	case len(live) > desired:
		return ctrl.Result{}, c.scaleDown(ctx, np, live, len(live)-desired)
	}
	return ctrl.Result{}, nil
}

// scaleUp creates n NodeClaims from the NodePool's template, each the cheapest node it allows.
func (c *Controller) scaleUp(ctx context.Context, np *apiv1.NodePool, n int) (ctrl.Result, error) {
	view, err := c.cluster.Read(ctx, c.cloud.GetInstanceTypes)
	if err != nil {
		return ctrl.Result{}, err
	}
	pool := view.StaticNodePools[np.Name]
	if pool == nil {
		why := "it is not usable yet"
		if problem := view.NodePoolProblems[np.Name]; problem != nil {
			why = problem.Error()
		}
		c.recorder.Eventf(np, nil, corev1.EventTypeWarning, ReasonBlocked, "Scaling",
			"static nodepool %q needs %d more node(s) but cannot launch: %s", np.Name, n, why)
		return ctrl.Result{RequeueAfter: retryBlocked}, nil
	}
	results, err := scheduling.PlanStatic(pool, view.Snapshot.DaemonSetPods, n, scheduling.Options{})
	if err != nil {
		return ctrl.Result{}, err
	}
	var errs []error
	created := 0
	for _, planned := range results.NodeClaims {
		nc := state.NodeClaimFor(np, planned)
		if err := c.kube.Create(ctx, nc); err != nil {
			errs = append(errs, fmt.Errorf("creating nodeclaim for static nodepool %s: %w", np.Name, err))
			continue
		}
		created++
		scaledTotal.WithLabelValues(np.Name, "created").Inc()
		cheapest := planned.Cheapest()
		log.FromContext(ctx).Info("created nodeclaim for static nodepool", "nodeclaim", klog.KObj(nc),
			"cheapest", cheapest.InstanceType.Name, "capacityType", cheapest.Offering.CapacityType,
			"pricePerHour", cheapest.Offering.PricePerHour)
	}
	if created > 0 {
		c.recorder.Eventf(np, nil, corev1.EventTypeNormal, ReasonScaledUp, "Scaling",
			"created %d nodeclaim(s) to keep %d node(s)", created, *np.Spec.Replicas)
	}
	if len(results.Unschedulable) > 0 {
		c.recorder.Eventf(np, nil, corev1.EventTypeWarning, ReasonBlocked, "Scaling",
			"static nodepool %q can launch only %d of the %d node(s) it lacks: %s", np.Name, len(results.NodeClaims), n,
			firstReason(scheduling.ReasonStrings(results.Unschedulable[0].Reasons)))
		return ctrl.Result{RequeueAfter: retryBlocked}, errors.Join(errs...)
	}
	return ctrl.Result{}, errors.Join(errs...)
}

func firstReason(reasons []string) string {
	if len(reasons) == 0 {
		return "no reason given"
	}
	return reasons[len(reasons)-1]
}

// scaleDown deletes the n least useful NodeClaims: first those not launched, then not registered, not initialized,
// then the ones with the fewest pods, newest first. Their deletion drains them as any other (termination).
func (c *Controller) scaleDown(ctx context.Context, np *apiv1.NodePool, live []*apiv1.NodeClaim, n int) error {
	// Every pod, read only: the cache's objects, not copies.
	pods := &corev1.PodList{}
	if err := c.kube.List(ctx, pods, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	perNode := map[string]int{}
	for i := range pods.Items {
		if p := &pods.Items[i]; p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			perNode[p.Spec.NodeName]++
		}
	}
	stage := func(nc *apiv1.NodeClaim) int {
		conds := nc.StatusConditions()
		switch {
		case !conds.IsTrue(apiv1.ConditionTypeLaunched):
			return 0
		case !conds.IsTrue(apiv1.ConditionTypeRegistered):
			return 1
		case !conds.IsTrue(apiv1.ConditionTypeInitialized):
			return 2
		}
		return 3
	}
	sort.SliceStable(live, func(i, j int) bool {
		a, b := live[i], live[j]
		if sa, sb := stage(a), stage(b); sa != sb {
			return sa < sb
		}
		if pa, pb := perNode[a.Status.NodeName], perNode[b.Status.NodeName]; pa != pb {
			return pa < pb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	var errs []error
	deleted := 0
	for _, nc := range live[:n] {
		if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting nodeclaim %s of static nodepool %s: %w", nc.Name, np.Name, err))
			continue
		}
		deleted++
		scaledTotal.WithLabelValues(np.Name, "deleted").Inc()
		log.FromContext(ctx).Info("deleted nodeclaim of static nodepool", "nodeclaim", klog.KObj(nc),
			"node", nc.Status.NodeName, "pods", perNode[nc.Status.NodeName])
	}
	if deleted > 0 {
		c.recorder.Eventf(np, nil, corev1.EventTypeNormal, ReasonScaledDown, "Scaling",
			"deleted %d nodeclaim(s) to keep %d node(s)", deleted, *np.Spec.Replicas)
	}
	return errors.Join(errs...)
}

// Register watches NodePools and the NodeClaims of each.
func (c *Controller) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodepool.static").
		For(&apiv1.NodePool{}).
		Watches(&apiv1.NodeClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if pool := o.GetLabels()[apiv1.NodePoolLabelKey]; pool != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: pool}}}
			}
			return nil
		})).
		Complete(c)
}
