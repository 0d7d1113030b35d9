package nodeclaim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/state"
)

// TerminationFinalizer holds a NodeClaim (and its Node) until the instance behind it is terminated.
const TerminationFinalizer = apiv1.TerminationFinalizer

// RegistrationTTL is how long a launched NodeClaim may wait for its Node before it is deleted and replaced.
const RegistrationTTL = 15 * time.Minute

// LaunchTTL is how long a NodeClaim may go unlaunched (the cloud refusing it for reasons other than capacity, or its
// node class not ready) before it is deleted so its pods are planned again.
const LaunchTTL = 5 * time.Minute

// ProviderIDIndex indexes Nodes by spec.providerID and NodeClaims by status.providerID.
const ProviderIDIndex = state.ProviderIDIndex

// Event reasons on NodeClaims.
const (
	ReasonLaunched             = "Launched"
	ReasonLaunchFailed         = "LaunchFailed"
	ReasonInsufficientCapacity = "InsufficientCapacity"
	ReasonRegistered           = "Registered"
	ReasonInitialized          = "Initialized"
	ReasonRegistrationTimeout  = "RegistrationTimeout"
	ReasonNodeClassNotReady    = "NodeClassNotReady"
	ReasonInvalid              = "Invalid"
	ReasonLaunchTimeout        = "LaunchTimeout"
	// ReasonLaunchedIntoReservation says which capacity reservation a NodeClaim's instance runs in.
	ReasonLaunchedIntoReservation = "LaunchedIntoReservation"
)

// Controller reconciles NodeClaims through their lifecycle phases.
type Controller struct {
	clk      clock.Clock
	kube     client.Client
	cloud    cloudprovider.CloudProvider
	recorder events.EventRecorder
	// launched remembers, by NodeClaim UID, what Create returned until the claim's provider ID is visible in the
	// informer cache, so a reconcile on a stale read neither launches again (Create's lookup by tag cannot be trusted
	// to find an instance EC2 does not list yet) nor reports it twice, and a status write that failed (a conflict
	// with a stale read) is made again from it.
	launched sync.Map
	// initialized remembers, by UID, the claims already reported initialized, for the same reason.
	initialized sync.Map
	// publications, when set, holds a registering node until its pods' nominations are published.
	publications Publications
}

// New returns the lifecycle controller; every dependency is required.
func New(clk clock.Clock, kube client.Client, cloud cloudprovider.CloudProvider, recorder events.EventRecorder) (*Controller, error) {
	if clk == nil || kube == nil || cloud == nil || recorder == nil {
		return nil, errors.New("nodeclaim: every dependency (clock, client, cloud provider, recorder) is required")
	}
	return &Controller{clk: clk, kube: kube, cloud: cloud, recorder: recorder}, nil
}

// Publications tells whether the pods planned onto a NodeClaim still wait for their nominations to be published on
// its node (internal/state's Nominations).
type Publications interface {
	PublicationPending(nodeClaim, node string) bool
}

// publicationWait bounds how long a registering node is held for its pods' nominations.
const publicationWait = 10 * time.Second

// HoldForPublications makes registration wait, for at most publicationWait, until the nominations of the pods
// planned onto the NodeClaim are published (nil: never wait).
func (c *Controller) HoldForPublications(p Publications) { c.publications = p }

// scope is one reconcile's working state: the NodeClaim as read and as it is being changed.
type scope struct {
	original *apiv1.NodeClaim
	claim    *apiv1.NodeClaim
	node     *corev1.Node // the registered Node, once found
}

type phase func(ctx context.Context, s *scope) (ctrl.Result, error)

// Reconcile moves one NodeClaim forward and patches it once at the end.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, reterr error) {
	nc := &apiv1.NodeClaim{}
	if err := c.kube.Get(ctx, req.NamespacedName, nc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("nodeclaim", klog.KObj(nc)))
	if !nc.DeletionTimestamp.IsZero() {
		return c.finalize(ctx, nc)
	}
	if !controllerutil.ContainsFinalizer(nc, TerminationFinalizer) {
		patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(nc, TerminationFinalizer)
		if err := c.kube.Patch(ctx, nc, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	s := &scope{original: nc.DeepCopy(), claim: nc}
	defer func() {
		err := c.patch(ctx, s)
		if apierrors.IsConflict(err) {
			// Worked from a stale read: do it again on a fresh one rather than overwrite someone's conditions.
			res, err = ctrl.Result{RequeueAfter: operator.ConflictRetry}, nil
		}
		reterr = kerrors.NewAggregate([]error{reterr, err})
	}()

	var result ctrl.Result
	for _, p := range []phase{c.launch, c.register, c.initialize, c.liveness} {
		r, err := p(ctx, s)
		if apierrors.IsConflict(err) {
			// Lost a race with another writer (the kubelet updates its Node all the time): no error to report, a
			// reason to try again soon on a fresh read. What the phases changed on the claim is still patched.
			log.FromContext(ctx).V(1).Info("conflict; retrying on a fresh read", "error", err.Error())
			return ctrl.Result{RequeueAfter: operator.ConflictRetry}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		result = lowestRequeue(result, r)
		if s.claim.DeletionTimestamp != nil {
			break
		}
	}
	ready := s.claim.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized)
	if ready {
		s.claim.StatusConditions().Set(c.now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Initialized", "")
	} else {
		s.claim.StatusConditions().Set(c.now(), apiv1.ConditionTypeReady, metav1.ConditionFalse, "NotInitialized", "the node is not initialized yet")
	}
	return result, nil
}

// patch writes what the phases changed: metadata (labels), then status, each with an optimistic lock — a merge
// patch replaces the whole conditions list, so a patch computed from a stale read must fail, not win.
func (c *Controller) patch(ctx context.Context, s *scope) error {
	if s.claim.DeletionTimestamp != nil {
		return nil
	}
	if !equality.Semantic.DeepEqual(s.original.Labels, s.claim.Labels) || !equality.Semantic.DeepEqual(s.original.Annotations, s.claim.Annotations) {
		status := s.claim.Status.DeepCopy()
		if err := c.kube.Patch(ctx, s.claim, client.MergeFromWithOptions(s.original, client.MergeFromWithOptimisticLock{})); err != nil {
			return client.IgnoreNotFound(err)
		}
		s.claim.Status = *status
		// The status patch builds on our own metadata write.
		s.original.ResourceVersion = s.claim.ResourceVersion
		s.original.Labels = s.claim.Labels
		s.original.Annotations = s.claim.Annotations
	}
	if equality.Semantic.DeepEqual(s.original.Status, s.claim.Status) {
		return nil
	}
	return client.IgnoreNotFound(c.kube.Status().Patch(ctx, s.claim, client.MergeFromWithOptions(s.original, client.MergeFromWithOptimisticLock{})))
}

// launch asks the cloud for the instance, once.
func (c *Controller) launch(ctx context.Context, s *scope) (ctrl.Result, error) {
	nc := s.claim
	if nc.Status.ProviderID != "" {
		c.launched.Delete(nc.UID)
		return ctrl.Result{}, nil
	}
	if prev, ok := c.launched.Load(nc.UID); ok {
		// Our own status write has not reached the cache yet, or it failed: write it again. On a stale read the
		// write conflicts again, harmlessly.
		c.recordLaunch(ctx, nc, prev.(*apiv1.NodeClaim))
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if errs := nc.RuntimeValidate(); len(errs) > 0 {
		// The kubelet would refuse the node; launching would only end in the registration timeout and a relaunch.
		msg := errs.ToAggregate().Error() + ": fix or delete the NodeClaim (or its NodePool's template)"
		if nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeLaunched, metav1.ConditionFalse, ReasonInvalid, msg) {
			c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonInvalid, "Launch", "not launching: %s", msg)
		}
		return ctrl.Result{}, nil
	}
	if expired, err := c.launchExpired(ctx, nc); expired || err != nil {
		return ctrl.Result{}, err
	}
	launched, err := c.cloud.Create(ctx, nc)
	switch {
	case cloudprovider.IsInsufficientCapacityError(err):
		c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonInsufficientCapacity, "Launch",
			"no allowed offering had capacity; deleting the nodeclaim so its pods are planned again: %v", err)
		log.FromContext(ctx).Error(err, "insufficient capacity; deleting nodeclaim")
		if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		nc.DeletionTimestamp = ptrTime(c.now())
		return ctrl.Result{}, nil
	case cloudprovider.IsNodeClassNotReadyError(err):
		nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeLaunched, metav1.ConditionFalse, ReasonNodeClassNotReady, err.Error())
		c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonNodeClassNotReady, "Launch", "%v", err)
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	case err != nil:
		nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeLaunched, metav1.ConditionFalse, ReasonLaunchFailed, err.Error())
		c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonLaunchFailed, "Launch", "launching: %v", err)
		return ctrl.Result{}, fmt.Errorf("launching nodeclaim: %w", err)
	}
	c.launched.Store(nc.UID, launched)
	price := c.recordLaunch(ctx, nc, launched)
	nodeClaimsLaunched.WithLabelValues(nc.Labels[apiv1.NodePoolLabelKey]).Inc()
	log.FromContext(ctx).Info("launched nodeclaim",
		"instance-type", nc.Labels[apiv1.InstanceTypeLabelKey], "zone", nc.Labels[apiv1.ZoneLabelKey],
		"capacity-type", nc.Labels[apiv1.CapacityTypeLabelKey], "price", price, "provider-id", nc.Status.ProviderID)
	c.recorder.Eventf(nc, nil, corev1.EventTypeNormal, ReasonLaunched, "Launch", "launched %s %s in %s as %s",
		nc.Labels[apiv1.CapacityTypeLabelKey], nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.ZoneLabelKey], nc.Status.ProviderID)
	if id := launched.Labels[apiv1.CapacityReservationIDLabelKey]; id != "" {
		c.recorder.Eventf(nc, nil, corev1.EventTypeNormal, ReasonLaunchedIntoReservation, "Launch", "launched into capacity reservation %s (%s in %s)",
			id, nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.ZoneLabelKey])
	}
	return ctrl.Result{}, nil
}

// recordLaunch writes what Create returned into the claim: labels, provider ID, image, capacity, Launched, the node
// name and price annotations. It returns the price.
func (c *Controller) recordLaunch(ctx context.Context, nc, launched *apiv1.NodeClaim) string {
	if nc.Labels == nil {
		nc.Labels = map[string]string{}
	}
	for k, v := range launched.Labels {
		nc.Labels[k] = v
	}
	nc.Status.ProviderID = launched.Status.ProviderID
	nc.Status.ImageID = launched.Status.ImageID
	nc.Status.Capacity = launched.Status.Capacity
	nc.Status.Allocatable = launched.Status.Allocatable
	nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeLaunched, metav1.ConditionTrue, ReasonLaunched, "")
	price := c.price(ctx, nc)
	for key, value := range map[string]string{
		apiv1.NodeNameAnnotationKey:     launched.Annotations[apiv1.NodeNameAnnotationKey],
		apiv1.PricePerHourAnnotationKey: price,
	} {
		if value == "" {
			continue
		}
		if nc.Annotations == nil {
			nc.Annotations = map[string]string{}
		}
		nc.Annotations[key] = value
	}
	return price
}

// launchExpired deletes a claim still unlaunched LaunchTTL after its creation — the cloud kept refusing it for reasons
// other than capacity (an insufficient-capacity error deletes it at once), or its node class was never ready — so the
// provisioner plans its pods again, perhaps onto another NodePool. It is checked before every launch attempt, so a
// claim retried with backoff goes on the first attempt after the TTL. A claim refused by its own runtime checks
// (Invalid) never gets here: it is kept for its owner to fix or delete, since deleting what may be a hand-made claim
// would lose it silently, and the planner does not make claims from a NodePool failing those checks.
func (c *Controller) launchExpired(ctx context.Context, nc *apiv1.NodeClaim) (bool, error) {
	waited := c.clk.Since(nc.CreationTimestamp.Time)
	if nc.CreationTimestamp.IsZero() || waited < LaunchTTL {
		return false, nil
	}
	why := "not launched"
	if cond := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched); cond != nil && cond.Status == metav1.ConditionFalse {
		why = cond.Reason + ": " + cond.Message
	}
	log.FromContext(ctx).Info("deleting nodeclaim not launched within the launch TTL", "waited", waited.String(), "last", why)
	c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonLaunchTimeout, "Launch",
		"not launched within %s (%s); deleting the nodeclaim so its pods are planned again", LaunchTTL, why)
	if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
		return false, err
	}
	nc.DeletionTimestamp = ptrTime(c.now())
	return true, nil
}

// price is the hourly price of the launched offering, from the provider's instance types ("" if unknown).
func (c *Controller) price(ctx context.Context, nc *apiv1.NodeClaim) string {
	np := &apiv1.NodePool{}
	if err := c.kube.Get(ctx, client.ObjectKey{Name: nc.Labels[apiv1.NodePoolLabelKey]}, np); err != nil {
		return ""
	}
	its, err := c.cloud.GetInstanceTypes(ctx, np)
	if err != nil {
		return ""
	}
	// The price Tailor planned with: NodeOverlays (a Savings Plan, say) replace the provider's list price.
	overlays := &apiv1.NodeOverlayList{}
	if err := c.kube.List(ctx, overlays); err == nil {
		if its, _, err = cloudprovider.ApplyOverlays(its, np.Name, overlays.Items); err != nil {
			return ""
		}
	}
	for _, it := range its {
		if it.Name != nc.Labels[apiv1.InstanceTypeLabelKey] {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone == nc.Labels[apiv1.ZoneLabelKey] && o.CapacityType == nc.Labels[apiv1.CapacityTypeLabelKey] {
				return fmt.Sprintf("%.4f", o.PricePerHour)
			}
		}
	}
	return ""
}

// register finds the Node with the claim's provider ID and makes it the claim's: labels, taints, owner, finalizer.
func (c *Controller) register(ctx context.Context, s *scope) (ctrl.Result, error) {
	nc := s.claim
	if nc.Status.ProviderID == "" {
		return ctrl.Result{}, nil
	}
	node, err := c.nodeFor(ctx, nc.Status.ProviderID)
	if err != nil || node == nil {
		if err == nil && !nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) {
			nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeRegistered, metav1.ConditionFalse, "AwaitingNode", "waiting for the node to join the cluster")
		}
		return ctrl.Result{}, err
	}
	s.node = node
	if !node.DeletionTimestamp.IsZero() {
		// The node is being deleted by hand: the claim goes too, and its finalizer terminates the instance.
		log.FromContext(ctx).Info("node is being deleted; deleting its nodeclaim", "node", klog.KObj(node))
		if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		nc.DeletionTimestamp = ptrTime(c.now())
		return ctrl.Result{}, nil
	}
	if wait := c.awaitPublication(ctx, nc, node); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err := c.syncNode(ctx, nc, node); err != nil {
		return ctrl.Result{}, err
	}
	if nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) {
		return ctrl.Result{}, nil
	}
	nc.Status.NodeName = node.Name
	nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeRegistered, metav1.ConditionTrue, ReasonRegistered, "")
	nodeClaimsRegistered.WithLabelValues(nc.Labels[apiv1.NodePoolLabelKey]).Inc()
	log.FromContext(ctx).Info("registered nodeclaim", "node", klog.KObj(node), "provider-id", nc.Status.ProviderID)
	c.recorder.Eventf(nc, node, corev1.EventTypeNormal, ReasonRegistered, "Register", "node %s registered", node.Name)
	return ctrl.Result{}, nil
}

// awaitPublication holds the registration of a node that still carries apiv1.UnregisteredTaint while the pods the
// plan put on its NodeClaim wait for their status.nominatedNodeName (see provisioning.Publisher), for at most
// publicationWait after the node appeared: once the taint is gone the kube-scheduler binds whatever pending pods come
// first, and only published nominations keep the room for the pods the node was bought for. It returns how long to
// wait before looking again, or 0 to register now. Only a node whose name was announced at launch is held: the
// nominations are published to that name.
func (c *Controller) awaitPublication(ctx context.Context, nc *apiv1.NodeClaim, node *corev1.Node) time.Duration {
	if c.publications == nil || nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) ||
		nc.Annotations[apiv1.NodeNameAnnotationKey] != node.Name ||
		!slices.ContainsFunc(node.Spec.Taints, apiv1.IsUnregistered) ||
		!c.publications.PublicationPending(nc.Name, node.Name) {
		return 0
	}
	if waited := c.clk.Since(node.CreationTimestamp.Time); waited >= publicationWait {
		log.FromContext(ctx).Info("registering before every nomination was published", "node", klog.KObj(node), "waited", waited.String())
		return 0
	}
	return 100 * time.Millisecond
}

// syncNode puts the claim's labels and taints on the node, makes the claim its owner, holds it with the termination
// finalizer, and marks it registered.
func (c *Controller) syncNode(ctx context.Context, nc *apiv1.NodeClaim, node *corev1.Node) error {
	original := node.DeepCopy()
	patch := client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	for k, v := range nc.Labels {
		node.Labels[k] = v
	}
	node.Labels[apiv1.RegisteredLabelKey] = "true"
	node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, apiv1.IsUnregistered)
	for _, t := range nc.Spec.Taints {
		if !hasTaint(node.Spec.Taints, t) {
			node.Spec.Taints = append(node.Spec.Taints, t)
		}
	}
	if !nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) {
		// Startup taints go on once, at registration; whatever removes them later must not see them come back.
		for _, t := range nc.Spec.StartupTaints {
			if !hasTaint(node.Spec.Taints, t) {
				node.Spec.Taints = append(node.Spec.Taints, t)
			}
		}
	}
	controllerutil.AddFinalizer(node, TerminationFinalizer)
	if err := controllerutil.SetOwnerReference(nc, node, c.kube.Scheme()); err != nil {
		return fmt.Errorf("owning node %s: %w", node.Name, err)
	}
	// Every reconcile of a registered claim comes here (each Node update and each condition another controller
	// records triggers one), and an optimistic-lock patch is sent even when it changes nothing, where it also
	// conflicts with the kubelet's updates: write only when something differs.
	if equality.Semantic.DeepEqual(original, node) {
		return nil
	}
	if err := c.kube.Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("syncing node %s: %w", node.Name, err)
	}
	return nil
}

// initialize marks the claim Initialized once its node is Ready, without startup taints, with every requested
// resource registered.
func (c *Controller) initialize(ctx context.Context, s *scope) (ctrl.Result, error) {
	nc, node := s.claim, s.node
	if node == nil || nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized) {
		return ctrl.Result{}, nil
	}
	if why := notInitialized(nc, node); why != "" {
		nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeInitialized, metav1.ConditionFalse, "NotReady", why)
		return ctrl.Result{}, nil
	}
	// A label alone: a plain merge patch cannot clobber anyone else's change, so no optimistic lock (the kubelet and
	// KWOK update nodes all the time).
	patch := client.MergeFrom(node.DeepCopy())
	node.Labels[apiv1.InitializedLabelKey] = "true"
	if err := c.kube.Patch(ctx, node, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("labelling node %s initialized: %w", node.Name, err)
	}
	nc.StatusConditions().Set(c.now(), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, ReasonInitialized, "")
	if _, reported := c.initialized.LoadOrStore(nc.UID, true); !reported {
		log.FromContext(ctx).Info("initialized nodeclaim", "node", klog.KObj(node), "allocatable", node.Status.Allocatable)
		c.recorder.Eventf(nc, node, corev1.EventTypeNormal, ReasonInitialized, "Initialize", "node %s is ready for pods", node.Name)
	}
	return ctrl.Result{}, nil
}

func notInitialized(nc *apiv1.NodeClaim, node *corev1.Node) string {
	if !isReady(node) {
		return "node is not Ready"
	}
	for _, t := range nc.Spec.StartupTaints {
		if hasTaint(node.Spec.Taints, t) {
			return fmt.Sprintf("startup taint %s=%s:%s is still on the node", t.Key, t.Value, t.Effect)
		}
	}
	for name, q := range nc.Spec.Resources.Requests {
		if q.IsZero() {
			continue
		}
		if alloc, ok := node.Status.Allocatable[name]; !ok || alloc.IsZero() {
			return fmt.Sprintf("resource %s is not registered on the node yet", name)
		}
	}
	return ""
}

// liveness deletes a launched claim whose node has not registered within RegistrationTTL, so its pods get capacity
// that works.
func (c *Controller) liveness(ctx context.Context, s *scope) (ctrl.Result, error) {
	nc := s.claim
	launched := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
	if s.node != nil || launched == nil || launched.Status != metav1.ConditionTrue || nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) {
		return ctrl.Result{}, nil
	}
	waited := c.clk.Since(launched.LastTransitionTime.Time)
	if waited < RegistrationTTL {
		return ctrl.Result{RequeueAfter: RegistrationTTL - waited}, nil
	}
	log.FromContext(ctx).Info("deleting nodeclaim whose node never registered", "waited", waited.String())
	c.recorder.Eventf(nc, nil, corev1.EventTypeWarning, ReasonRegistrationTimeout, "Liveness",
		"node did not register within %s; deleting the nodeclaim so its pods get a new node", RegistrationTTL)
	if err := c.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	nc.DeletionTimestamp = ptrTime(c.now())
	return ctrl.Result{}, nil
}

// finalize takes the claim's node away first (the termination controller cordons and drains it, then releases it),
// then makes sure the instance is terminated, then releases the claim.
func (c *Controller) finalize(ctx context.Context, nc *apiv1.NodeClaim) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(nc, TerminationFinalizer) {
		return ctrl.Result{}, nil
	}
	if nc.Status.ProviderID != "" {
		node, err := c.nodeFor(ctx, nc.Status.ProviderID)
		if err != nil {
			return ctrl.Result{}, err
		}
		if node != nil {
			if node.DeletionTimestamp.IsZero() {
				if err := c.kube.Delete(ctx, node); client.IgnoreNotFound(err) != nil {
					return ctrl.Result{}, fmt.Errorf("deleting node %s: %w", node.Name, err)
				}
				log.FromContext(ctx).Info("deleting node of deleted nodeclaim", "node", klog.KObj(node))
			}
			// The node goes once drained; its deletion and pod evictions wake this claim through the node watch.
			return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
		}
		err = c.cloud.Delete(ctx, nc)
		if err == nil {
			// Termination started; come back until the provider reports the instance gone.
			return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
		}
		if !cloudprovider.IsNodeClaimNotFoundError(err) {
			return ctrl.Result{}, fmt.Errorf("terminating instance %s: %w", nc.Status.ProviderID, err)
		}
		log.FromContext(ctx).Info("terminated instance", "provider-id", nc.Status.ProviderID)
	}
	patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(nc, TerminationFinalizer)
	if err := c.kube.Patch(ctx, nc, patch); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	c.launched.Delete(nc.UID)
	c.initialized.Delete(nc.UID)
	log.FromContext(ctx).Info("deleted nodeclaim")
	return ctrl.Result{}, nil
}

// nodeFor returns the Node with the provider ID, or nil.
func (c *Controller) nodeFor(ctx context.Context, providerID string) (*corev1.Node, error) {
	nodes := &corev1.NodeList{}
	if err := c.kube.List(ctx, nodes, client.MatchingFields{ProviderIDIndex: providerID}); err != nil {
		return nil, fmt.Errorf("finding the node of %s: %w", providerID, err)
	}
	if len(nodes.Items) == 0 {
		return nil, nil
	}
	return &nodes.Items[0], nil
}

func (c *Controller) now() metav1.Time { return metav1.NewTime(c.clk.Now()) }

// isReady tells whether the node's Ready condition is True (its last entry, should the list repeat it).
func isReady(node *corev1.Node) bool {
	ready := false
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = cond.Status == corev1.ConditionTrue
		}
	}
	return ready
}

func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	for _, have := range taints {
		if have.Key == t.Key && have.Effect == t.Effect && have.Value == t.Value {
			return true
		}
	}
	return false
}

func lowestRequeue(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter > 0 && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }
