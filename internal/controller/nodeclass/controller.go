package nodeclass

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// ResyncInterval is how often a node class is resolved again without a change: subnets, security groups and AMIs
// change in the cloud without Kubernetes seeing it (a new AMI release, a subnet tagged for discovery).
const ResyncInterval = 5 * time.Minute

// Resolver looks a node class's selectors up in the cloud and writes the result and its conditions into its status.
type Resolver interface {
	ResolveNodeClass(ctx context.Context, nc *apiv1.EC2NodeClass) error
}

// Cleaner removes what the cloud keeps for a node class once the node class is gone (its launch templates). A
// Resolver may implement it; the controller calls it when a reconcile finds the node class deleted. It must do
// nothing for a node class that exists again.
type Cleaner interface {
	DeleteNodeClassLaunchTemplates(ctx context.Context, nodeClass string) error
}

// Controller resolves EC2NodeClasses.
type Controller struct {
	kube     client.Client
	resolver Resolver
}

// New returns the node class controller; both dependencies are required.
func New(kube client.Client, resolver Resolver) (*Controller, error) {
	if kube == nil || resolver == nil {
		return nil, errors.New("nodeclass: client and resolver are required")
	}
	return &Controller{kube: kube, resolver: resolver}, nil
}

// Reconcile resolves one node class and patches its status when it changed.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	nc := &apiv1.EC2NodeClass{}
	if err := c.kube.Get(ctx, req.NamespacedName, nc); err != nil {
		if apierrors.IsNotFound(err) {
			forgetReservations(req.Name)
			return ctrl.Result{}, c.cleanUp(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	if !nc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	logger := log.FromContext(ctx).WithValues("ec2nodeclass", klog.KObj(nc))
	original := nc.DeepCopy()
	if err := c.resolver.ResolveNodeClass(ctx, nc); err != nil {
		return ctrl.Result{}, fmt.Errorf("resolving EC2NodeClass %s: %w", nc.Name, err)
	}
	validate(nc, original)
	recordReservations(nc)
	if !equality.Semantic.DeepEqual(original.Status, nc.Status) {
		if err := c.kube.Status().Patch(ctx, nc, client.MergeFrom(original)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		ready := nc.StatusConditions().Get(apiv1.ConditionTypeReady)
		if ready != nil {
			logger.Info("resolved ec2nodeclass", "ready", ready.Status, "message", ready.Message,
				"subnets", len(nc.Status.Subnets), "securityGroups", len(nc.Status.SecurityGroups), "amis", len(nc.Status.AMIs))
		}
	}
	return ctrl.Result{RequeueAfter: ResyncInterval}, nil
}

// cleanUp lets the cloud drop what it kept for a deleted node class; the provider's periodic collection catches what
// a failed or missed call leaves.
func (c *Controller) cleanUp(ctx context.Context, name string) error {
	cleaner, ok := c.resolver.(Cleaner)
	if !ok {
		return nil
	}
	if err := cleaner.DeleteNodeClassLaunchTemplates(ctx, name); err != nil {
		return fmt.Errorf("cleaning up after EC2NodeClass %s: %w", name, err)
	}
	return nil
}

// Register adds the controller to the manager.
func (c *Controller) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeclass").
		For(&apiv1.EC2NodeClass{}).
		Complete(c)
}

// validate runs the checks the API server could not (apiv1.EC2NodeClass.RuntimeValidate) into ValidationSucceeded,
// and makes Ready False when they fail whatever the cloud resolved: a node class the kubelet would refuse launches
// nodes that never register, so the provider launches nothing from a node class that is not Ready. The resolver has
// just set Ready from the cloud; a Ready that ends as it was before keeps its transition time, so a resync that
// finds nothing new patches nothing.
func validate(nc, original *apiv1.EC2NodeClass) {
	now := metav1.Now() // used only when a condition's status changes (meta.SetStatusCondition)
	conds := nc.StatusConditions()
	errs := nc.RuntimeValidate()
	if len(errs) == 0 {
		conds.Set(now, apiv1.ConditionTypeValidationSucceeded, metav1.ConditionTrue, "Valid", "")
		return
	}
	msg := errs.ToAggregate().Error() + ": fix the EC2NodeClass"
	conds.Set(now, apiv1.ConditionTypeValidationSucceeded, metav1.ConditionFalse, "Invalid", msg)
	conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionFalse, "Invalid", msg)
	if was, is := original.StatusConditions().Get(apiv1.ConditionTypeReady), conds.Get(apiv1.ConditionTypeReady); was != nil && was.Status == is.Status {
		is.LastTransitionTime = was.LastTransitionTime
	}
}
