package termination

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

// DisruptedTaint cordons a node Tailor is taking away: nothing new schedules there while it drains.
var DisruptedTaint = apiv1.DisruptedTaint

// Field indexes this controller looks objects up by.
const (
	// PodNodeNameIndex indexes pods by spec.nodeName.
	PodNodeNameIndex = "spec.nodeName"
	// ProviderIDIndex is the nodeclaim controller's index of NodeClaims by status.providerID.
	ProviderIDIndex = state.ProviderIDIndex
)

// Requeue intervals.
const (
	drainPoll      = time.Second
	pdbBlockedPoll = 5 * time.Second
)

// Event reasons.
const (
	ReasonCordoned        = "Cordoned"
	ReasonEvicted         = "Evicted"
	ReasonEvictionBlocked = "EvictionBlocked"
	ReasonForceDeleted    = "GracePeriodExpired"
	ReasonTerminated      = "Terminated"
	// ReasonDoNotDisruptWait: the drain leaves a pod annotated tailor.sh/do-not-disrupt for now.
	ReasonDoNotDisruptWait = "DoNotDisruptWait"
)

// interruptedReason is the Disrupting condition reason the interruption controller sets: the cloud is taking the
// instance back anyway, so it is kept until its pods run elsewhere (bounded by interruptedHold).
const interruptedReason = apiv1.DisruptingReasonInterrupted

// interruptedHold bounds how long an interrupted instance is kept after the interruption for its pods to come up
// elsewhere: well inside the two minutes' notice EC2 gives before it reclaims a spot instance.
const interruptedHold = 90 * time.Second

// unhealthyReason is the Disrupting condition reason node repair sets.
const unhealthyReason = apiv1.DisruptingReasonUnhealthy

// Controller drains and releases Nodes being deleted that carry Tailor's termination finalizer.
type Controller struct {
	clk      clock.Clock
	kube     client.Client
	cloud    cloudprovider.CloudProvider
	recorder events.EventRecorder

	mu sync.Mutex
	// evictedOwners are, per node, the owners (ReplicaSets, StatefulSets, …) of the pods its drain evicted, with
	// those pods. In memory only: after a restart an interrupted node is not held.
	evictedOwners map[string]map[types.UID]*evicted
	// waitedFor are, per node, the do-not-disrupt pods its drain said it waits for (one event each).
	waitedFor map[string]map[types.UID]bool
}

// evicted are the pods a drain evicted from one owner, and when it first did.
type evicted struct {
	pods map[types.UID]bool
	at   time.Time
}

// New returns the termination controller; every dependency is required.
func New(clk clock.Clock, kube client.Client, cloud cloudprovider.CloudProvider, recorder events.EventRecorder) (*Controller, error) {
	if clk == nil || kube == nil || cloud == nil || recorder == nil {
		return nil, errors.New("termination: every dependency (clock, client, cloud provider, recorder) is required")
	}
	return &Controller{clk: clk, kube: kube, cloud: cloud, recorder: recorder, evictedOwners: map[string]map[types.UID]*evicted{}, waitedFor: map[string]map[types.UID]bool{}}, nil
}

// Reconcile moves a deleted node one step through cordon → drain → volumes detached → instance terminated →
// finalizer removed.
func (c *Controller) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := c.reconcile(ctx, req)
	if apierrors.IsConflict(err) {
		// A Node patch lost an optimistic-lock race (the kubelet and other controllers update Nodes all the time) or
		// worked from a cache a step behind: no error to report, a reason to try again soon on a fresh read.
		log.FromContext(ctx).V(1).Info("conflict; retrying on a fresh read", "node", req.Name, "error", err.Error())
		return ctrl.Result{RequeueAfter: operator.ConflictRetry}, nil
	}
	return res, err
}

func (c *Controller) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	node := &corev1.Node{}
	if err := c.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if node.DeletionTimestamp.IsZero() || !controllerutil.ContainsFinalizer(node, apiv1.TerminationFinalizer) {
		return ctrl.Result{}, nil
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("node", klog.KObj(node)))
	claim, err := c.claimFor(ctx, node)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := c.cordon(ctx, node); err != nil {
		return ctrl.Result{}, err
	}
	graceExpired := c.graceExpired(node, claim) || kubeletGone(node, claim)
	remaining, blocked, err := c.drain(ctx, node, graceExpired, c.holdsDoNotDisrupt(claim))
	if err != nil {
		return ctrl.Result{}, err
	}
	if remaining > 0 {
		if blocked {
			return ctrl.Result{RequeueAfter: pdbBlockedPoll}, nil
		}
		return ctrl.Result{RequeueAfter: drainPoll}, nil
	}
	if !graceExpired {
		attached, err := c.volumesAttached(ctx, node)
		if err != nil {
			return ctrl.Result{}, err
		}
		if attached > 0 {
			log.FromContext(ctx).V(1).Info("waiting for volumes to detach", "volumeAttachments", attached)
			return ctrl.Result{RequeueAfter: drainPoll}, nil
		}
	}
	if wait, err := c.holdInterrupted(ctx, node, claim); err != nil || wait {
		return ctrl.Result{RequeueAfter: drainPoll}, err
	}
	if claim != nil {
		if err := c.cloud.Delete(ctx, claim); cloudprovider.IgnoreNodeClaimNotFoundError(err) != nil {
			return ctrl.Result{}, fmt.Errorf("terminating instance %s: %w", claim.Status.ProviderID, err)
		}
	}
	patch := client.MergeFromWithOptions(node.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(node, apiv1.TerminationFinalizer)
	if err := c.kube.Patch(ctx, node, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c.mu.Lock()
	delete(c.evictedOwners, node.Name)
	delete(c.waitedFor, node.Name)
	c.mu.Unlock()
	nodesTerminated.WithLabelValues(node.Labels[apiv1.NodePoolLabelKey]).Inc()
	log.FromContext(ctx).Info("deleted node")
	if claim != nil {
		c.recorder.Eventf(claim, node, corev1.EventTypeNormal, ReasonTerminated, "Terminate", "node %s drained and its instance terminated", node.Name)
	}
	return ctrl.Result{}, nil
}

// claimFor finds the node's NodeClaim by provider ID (nil if there is none).
func (c *Controller) claimFor(ctx context.Context, node *corev1.Node) (*apiv1.NodeClaim, error) {
	if node.Spec.ProviderID == "" {
		return nil, nil
	}
	claims := &apiv1.NodeClaimList{}
	if err := c.kube.List(ctx, claims, client.MatchingFields{ProviderIDIndex: node.Spec.ProviderID}); err != nil {
		return nil, fmt.Errorf("finding the nodeclaim of node %s: %w", node.Name, err)
	}
	if len(claims.Items) == 0 {
		return nil, nil
	}
	return &claims.Items[0], nil
}

// cordon puts the disrupted taint on the node.
func (c *Controller) cordon(ctx context.Context, node *corev1.Node) error {
	for _, t := range node.Spec.Taints {
		if t.Key == DisruptedTaint.Key && t.Effect == DisruptedTaint.Effect {
			return nil
		}
	}
	patch := client.MergeFromWithOptions(node.DeepCopy(), client.MergeFromWithOptimisticLock{})
	node.Spec.Taints = append(node.Spec.Taints, DisruptedTaint)
	if err := c.kube.Patch(ctx, node, patch); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	log.FromContext(ctx).Info("cordoned node")
	c.recorder.Eventf(node, nil, corev1.EventTypeNormal, ReasonCordoned, "Cordon", "tainted %s:%s; draining", DisruptedTaint.Key, DisruptedTaint.Effect)
	return nil
}

// kubeletGone tells whether the node is being repaired (its NodeClaim is Disrupting for reason Unhealthy) and its
// kubelet is not Ready: no kubelet will run the pods' graceful termination, so waiting for it (or for do-not-disrupt
// pods, or PodDisruptionBudgets that count those pods as healthy) would hold the broken node for nothing. Its pods
// are deleted at once, as at the end of a terminationGracePeriod.
func kubeletGone(node *corev1.Node, claim *apiv1.NodeClaim) bool {
	if claim == nil {
		return false
	}
	cond := claim.StatusConditions().Get(apiv1.ConditionTypeDisrupting)
	if cond == nil || cond.Reason != unhealthyReason {
		return false
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status != corev1.ConditionTrue
		}
	}
	return true
}

// graceExpired tells whether the claim's terminationGracePeriod has passed since the node's deletion began.
func (c *Controller) graceExpired(node *corev1.Node, claim *apiv1.NodeClaim) bool {
	if claim == nil || claim.Spec.TerminationGracePeriod == nil {
		return false
	}
	return c.clk.Since(node.DeletionTimestamp.Time) >= claim.Spec.TerminationGracePeriod.Duration
}

// holdsDoNotDisrupt tells whether the drain waits for pods annotated tailor.sh/do-not-disrupt rather than evicting
// them: always, except for an interrupted instance (the cloud takes it back within minutes whatever the drain does).
// The wait ends when the pod's protection runs out (a duration), when it finishes, or when the NodeClaim's
// terminationGracePeriod is over (then it is deleted as every other pod); without a terminationGracePeriod, a pod
// annotated "true" holds the node until it goes by itself, as in Karpenter.
func (c *Controller) holdsDoNotDisrupt(claim *apiv1.NodeClaim) bool {
	if claim == nil {
		return true
	}
	cond := claim.StatusConditions().Get(apiv1.ConditionTypeDisrupting)
	return cond == nil || cond.Reason != interruptedReason
}

// drain evicts (or, past the grace period, deletes) the pods that must leave the node; with holdProtected it leaves
// pods that tailor.sh/do-not-disrupt protects now. It returns how many are still there and whether a
// PodDisruptionBudget refused an eviction or a protected pod was waited for.
func (c *Controller) drain(ctx context.Context, node *corev1.Node, graceExpired, holdProtected bool) (remaining int, blocked bool, err error) {
	pods := &corev1.PodList{}
	if err := c.kube.List(ctx, pods, client.MatchingFields{PodNodeNameIndex: node.Name}); err != nil {
		return 0, false, fmt.Errorf("listing pods on node %s: %w", node.Name, err)
	}
	evictable := Evictable(pods.Items)
	if len(evictable) == 0 {
		return 0, false, nil
	}
	// Critical pods (cluster and node critical priority classes) go only once everything else has left.
	var ordinary, critical []*corev1.Pod
	for _, p := range evictable {
		if isCritical(p) {
			critical = append(critical, p)
		} else {
			ordinary = append(ordinary, p)
		}
	}
	batch := ordinary
	if len(ordinary) == 0 {
		batch = critical
	}
	c.rememberOwners(node.Name, batch)
	var errs []error
	for _, p := range batch {
		if !p.DeletionTimestamp.IsZero() && !graceExpired {
			continue // already going
		}
		if graceExpired {
			errs = append(errs, c.forceDelete(ctx, node, p))
			continue
		}
		if holdProtected && c.protected(ctx, node, p) {
			blocked = true
			continue
		}
		ok, err := c.evict(ctx, node, p)
		if err != nil {
			errs = append(errs, err)
		}
		blocked = blocked || !ok
	}
	return len(evictable), blocked, errors.Join(errs...)
}

// evict asks the Eviction API to remove the pod; false when a PodDisruptionBudget does not allow it now.
func (c *Controller) evict(ctx context.Context, node *corev1.Node, p *corev1.Pod) (bool, error) {
	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}}
	err := c.kube.SubResource("eviction").Create(ctx, p, eviction)
	switch {
	case err == nil:
		podsEvicted.Inc()
		log.FromContext(ctx).Info("evicted pod", "pod", klog.KObj(p))
		c.recorder.Eventf(p, node, corev1.EventTypeNormal, ReasonEvicted, "Drain", "evicted from node %s, which Tailor is removing", node.Name)
		return true, nil
	case apierrors.IsNotFound(err):
		return true, nil
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "being terminated"):
		// The pod's namespace is being deleted, which refuses evictions; the pod goes with its namespace anyway.
		return true, c.forceDelete(ctx, node, p)
	case apierrors.IsTooManyRequests(err):
		log.FromContext(ctx).V(1).Info("eviction refused by a PodDisruptionBudget; will retry", "pod", klog.KObj(p))
		c.recorder.Eventf(p, node, corev1.EventTypeWarning, ReasonEvictionBlocked, "Drain", "eviction refused by a PodDisruptionBudget: %v", err)
		return false, nil
	case apierrors.IsInternalError(err) && strings.Contains(err.Error(), "more than one PodDisruptionBudget"):
		// The Eviction API never evicts a pod that several budgets select; only someone changing the budgets, or
		// the grace period, ends this wait.
		names := c.pdbNames(ctx, p)
		log.FromContext(ctx).Info("eviction refused: the pod has more than one PodDisruptionBudget; will retry", "pod", klog.KObj(p), "pdbs", names)
		c.recorder.Eventf(p, node, corev1.EventTypeWarning, ReasonEvictionBlocked, "Drain",
			"eviction refused: the pod has more than one PodDisruptionBudget (%s), which the Eviction API does not support; make one budget select it", names)
		return false, nil
	default:
		return false, fmt.Errorf("evicting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
}

// pdbNames lists the PodDisruptionBudgets that select the pod, for messages ("" when they cannot be read).
func (c *Controller) pdbNames(ctx context.Context, p *corev1.Pod) string {
	pdbs := &policyv1.PodDisruptionBudgetList{}
	if err := c.kube.List(ctx, pdbs, client.InNamespace(p.Namespace)); err != nil {
		return ""
	}
	var names []string
	for _, pdb := range state.PDBsFor(p, pdbs.Items) {
		names = append(names, pdb.Name)
	}
	return strings.Join(names, ", ")
}

// forceDelete deletes a pod once the grace period is over, whatever its PodDisruptionBudget says, with no further
// grace: the instance is about to go, and a kubelet on a node being removed may never confirm a graceful deletion.
func (c *Controller) forceDelete(ctx context.Context, node *corev1.Node, p *corev1.Pod) error {
	if err := c.kube.Delete(ctx, p, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	log.FromContext(ctx).Info("deleted pod past the termination grace period", "pod", klog.KObj(p))
	c.recorder.Eventf(p, node, corev1.EventTypeWarning, ReasonForceDeleted, "Drain", "deleted: node %s's terminationGracePeriod is over", node.Name)
	return nil
}

// protected tells whether tailor.sh/do-not-disrupt protects the pod now (apiv1.DoNotDisrupt, from the pod's start),
// and says once per pod that the drain waits for it.
func (c *Controller) protected(ctx context.Context, node *corev1.Node, p *corev1.Pod) bool {
	value := p.Annotations[apiv1.DoNotDisruptAnnotationKey]
	if value == "" {
		return false
	}
	start := p.CreationTimestamp.Time
	if p.Status.StartTime != nil {
		start = p.Status.StartTime.Time
	}
	protected, until, perr := apiv1.DoNotDisrupt(value, start, c.clk.Now())
	if !protected {
		return false
	}
	c.mu.Lock()
	if c.waitedFor[node.Name] == nil {
		c.waitedFor[node.Name] = map[types.UID]bool{}
	}
	first := !c.waitedFor[node.Name][p.UID]
	c.waitedFor[node.Name][p.UID] = true
	c.mu.Unlock()
	if first {
		why := "until it finishes or the NodeClaim's terminationGracePeriod ends"
		if !until.IsZero() {
			why = "until " + until.UTC().Format(time.RFC3339) + " (or the NodeClaim's terminationGracePeriod ends)"
		}
		if perr != nil {
			why += "; " + perr.Error()
		}
		log.FromContext(ctx).Info("drain waits for a do-not-disrupt pod", "pod", klog.KObj(p), "value", value)
		c.recorder.Eventf(p, node, corev1.EventTypeNormal, ReasonDoNotDisruptWait, "Drain",
			"not evicted from node %s: annotated %s=%s; the drain waits %s", node.Name, apiv1.DoNotDisruptAnnotationKey, value, why)
	}
	return true
}

func (c *Controller) rememberOwners(node string, pods []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	owners := c.evictedOwners[node]
	if owners == nil {
		owners = map[types.UID]*evicted{}
		c.evictedOwners[node] = owners
	}
	for _, p := range pods {
		for _, o := range p.OwnerReferences {
			if o.Controller != nil && *o.Controller {
				e := owners[o.UID]
				if e == nil {
					e = &evicted{pods: map[types.UID]bool{}, at: c.clk.Now()}
					owners[o.UID] = e
				}
				e.pods[p.UID] = true
			}
		}
	}
}

// holdInterrupted tells whether an interrupted node's instance should be kept a little longer: some workload its
// drain evicted pods of has fewer Running replacements (pods created since the eviction) than pods evicted, and the
// hold has not run out. Counting replacements, not pending pods, also holds the instance in the moment between the
// eviction and the owner creating the new pod, when there is nothing pending to see yet.
func (c *Controller) holdInterrupted(ctx context.Context, node *corev1.Node, claim *apiv1.NodeClaim) (bool, error) {
	if claim == nil {
		return false, nil
	}
	cond := claim.StatusConditions().Get(apiv1.ConditionTypeDisrupting)
	if cond == nil || cond.Reason != interruptedReason || c.clk.Since(cond.LastTransitionTime.Time) >= interruptedHold {
		return false, nil
	}
	c.mu.Lock()
	owners := map[types.UID]evicted{}
	for uid, e := range c.evictedOwners[node.Name] {
		owners[uid] = evicted{pods: maps.Clone(e.pods), at: e.at}
	}
	c.mu.Unlock()
	if len(owners) == 0 {
		return false, nil
	}
	// Every pod, read only: the cache's objects, not copies.
	pods := &corev1.PodList{}
	if err := c.kube.List(ctx, pods, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("listing pods: %w", err)
	}
	running := map[types.UID]int{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, o := range p.OwnerReferences {
			// The API server keeps creation times to the second.
			if e, ok := owners[o.UID]; ok && !e.pods[p.UID] && !p.CreationTimestamp.Time.Before(e.at.Truncate(time.Second)) {
				running[o.UID]++
			}
		}
	}
	for uid, e := range owners {
		if running[uid] < len(e.pods) {
			log.FromContext(ctx).V(1).Info("holding interrupted instance until its workloads run elsewhere",
				"owner", uid, "evicted", len(e.pods), "runningReplacements", running[uid])
			return true, nil
		}
	}
	return false, nil
}

// volumesAttached counts VolumeAttachments still on the node.
func (c *Controller) volumesAttached(ctx context.Context, node *corev1.Node) (int, error) {
	vas := &storagev1.VolumeAttachmentList{}
	if err := c.kube.List(ctx, vas); err != nil {
		return 0, fmt.Errorf("listing volume attachments: %w", err)
	}
	n := 0
	for _, va := range vas.Items {
		if va.Spec.NodeName == node.Name {
			n++
		}
	}
	return n, nil
}

// Evictable are the pods a drain must remove: not terminal, not owned by a DaemonSet (it would come straight back),
// not mirror pods (the kubelet owns them), and not tolerating the disrupted taint (they chose to stay).
func Evictable(pods []corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		if ownedByDaemonSet(p) || toleratesDisrupted(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func ownedByDaemonSet(p *corev1.Pod) bool {
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return true
		}
	}
	return false
}

func toleratesDisrupted(p *corev1.Pod) bool {
	for _, t := range p.Spec.Tolerations {
		if t.ToleratesTaint(klog.Background(), &DisruptedTaint, true) {
			return true
		}
	}
	return false
}

func isCritical(p *corev1.Pod) bool {
	return p.Spec.PriorityClassName == "system-cluster-critical" || p.Spec.PriorityClassName == "system-node-critical"
}
