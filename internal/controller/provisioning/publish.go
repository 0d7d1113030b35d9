package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// publishWorkers bounds the concurrent pod status patches of one NodeClaim's publication: a planned node holds up to
// a few hundred pods, and their nominations should be written before the node becomes Ready (seconds after launch).
const publishWorkers = 16

// Publisher tells the kube-scheduler where the plan put each pod. Once a NodeClaim's node name is known — announced
// by the cloud provider at launch (AWS: the private DNS name), or the registered node's — every pending pod nominated
// to that NodeClaim gets status.nominatedNodeName set to it (KEP-5278, "nominated node name for an expected pod
// placement", beta and on since Kubernetes 1.35). The kube-scheduler then keeps those pods' requests reserved on the
// node against pods of equal or lower priority and tries the node first for them, so the first node to become Ready
// is not filled with pods the plan meant for other nodes (which would leave, say, arm64-only pods without the room
// bought for them, and buy another node). Written before the node exists, the reservation is in place the moment
// the node is added; the nodeclaim lifecycle controller keeps the node's tailor.sh/unregistered taint on until it is
// (state.Nominations.PublicationPending).
//
// A nomination another component wrote (the kube-scheduler's, for preemption) is never overwritten; a nomination
// Tailor wrote and no longer stands by is cleared (ClearStale), only while it still says what Tailor wrote. A pod
// with a hard topology spread constraint has its nomination taken back spreadRelease after the node is initialized
// (releaseSpread): it held the room while the other pods bound, and kept longer it would stop the pod from binding.
type Publisher struct {
	clk         clock.Clock
	kube        client.Client
	nominations *state.Nominations
	notify      chan event.TypedGenericEvent[*apiv1.NodeClaim]
}

// NewPublisher returns the publisher of the nominations.
func NewPublisher(clk clock.Clock, kube client.Client, nominations *state.Nominations) *Publisher {
	return &Publisher{clk: clk, kube: kube, nominations: nominations, notify: make(chan event.TypedGenericEvent[*apiv1.NodeClaim], 1024)}
}

// Notify asks for the NodeClaims' nominations to be published again: the provisioner nominated more pods to them.
// It never blocks; a NodeClaim dropped from a full queue is published on its next change.
func (p *Publisher) Notify(nodeClaims ...string) {
	for _, name := range nodeClaims {
		nc := &apiv1.NodeClaim{}
		nc.Name = name
		select {
		case p.notify <- event.TypedGenericEvent[*apiv1.NodeClaim]{Object: nc}:
		default:
		}
	}
}

// Register watches NodeClaims whose node name is known, and the provisioner's notifications.
func (p *Publisher) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("provisioning.publish").
		For(&apiv1.NodeClaim{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			nc, ok := o.(*apiv1.NodeClaim)
			return ok && state.NodeNameOf(nc) != ""
		}))).
		WatchesRawSource(source.Channel(p.notify, &handler.TypedEnqueueRequestForObject[*apiv1.NodeClaim]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(p)
}

// Reconcile publishes the nominations to the NodeClaim named in the request.
func (p *Publisher) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	nc := &apiv1.NodeClaim{}
	if err := p.kube.Get(ctx, req.NamespacedName, nc); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	node := state.NodeNameOf(nc)
	if node == "" || !nc.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	todo, round := p.nominations.ToPublish(nc.Name, node)
	if len(todo) == 0 {
		p.nominations.MarkPublished(nc.Name, node, round)
		return p.releaseSpread(ctx, nc, node)
	}
	var (
		mu        sync.Mutex
		errs      []error
		published int
		wg        sync.WaitGroup
		work      = make(chan state.Publication)
	)
	for range min(publishWorkers, len(todo)) {
		wg.Go(func() {
			for pub := range work {
				ok, err := p.publish(ctx, pub)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					published++
				}
				mu.Unlock()
			}
		})
	}
	for _, pub := range todo {
		work <- pub
	}
	close(work)
	wg.Wait()
	if published > 0 {
		log.FromContext(ctx).V(1).Info("published nominations to the kube-scheduler", "nodeclaim", nc.Name, "node", node, "pods", published)
	}
	if len(errs) == 0 {
		p.nominations.MarkPublished(nc.Name, node, round)
	}
	res, err := p.releaseSpread(ctx, nc, node)
	return res, errors.Join(append(errs, err)...)
}

// spreadRelease is how long after its node is initialized a zone-spread pod keeps the nomination Tailor published.
const spreadRelease = 2 * time.Second

// releaseSpread takes back the published nominations of the pods with a hard topology spread constraint once the
// NodeClaim's node has been initialized for spreadRelease; until then it asks to be called again. The kube-scheduler
// counts the pods nominated to the node it evaluates in that node's topology domain but only bound pods in the other
// domains, so a node's own spread nominees make the skew there look exceeded and none of them would be bound. Kept
// until the node is usable, their nominations hold the room the plan made for them while the other pods bind.
func (p *Publisher) releaseSpread(ctx context.Context, nc *apiv1.NodeClaim, node string) (reconcile.Result, error) {
	cond := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized)
	if cond == nil || cond.Status != metav1.ConditionTrue {
		return reconcile.Result{}, nil
	}
	nominated := p.nominations.Nominated(nc.Name)
	if len(nominated) == 0 {
		return reconcile.Result{}, nil
	}
	if wait := spreadRelease - p.clk.Since(cond.LastTransitionTime.Time); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	var errs []error
	released := 0
	for _, pub := range nominated {
		pod, err := unboundPod(ctx, p.kube, pub)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pod == nil || !hardSpread(pod) || pod.Status.NominatedNodeName != pub.Node {
			continue
		}
		err = patchNominatedNodeName(ctx, p.kube, pod, pub.Node, "")
		switch {
		case err == nil, changedMeanwhile(err):
			if err := p.nominations.Release(pod.UID); err != nil {
				// The nomination ended meanwhile (provisioning pruned it): the value is cleared all the same.
				log.FromContext(ctx).V(1).Info("released a nomination that had ended", "pod", pub.Pod, "reason", err.Error())
			}
			released++
		default:
			errs = append(errs, fmt.Errorf("releasing status.nominatedNodeName of pod %s: %w", pub.Pod, err))
		}
	}
	if released > 0 {
		log.FromContext(ctx).V(1).Info("released the nominations of zone-spread pods", "nodeclaim", nc.Name, "node", node, "pods", released)
	}
	return reconcile.Result{}, errors.Join(errs...)
}

// hardSpread tells whether the pod has a topology spread constraint the kube-scheduler must not violate.
func hardSpread(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			return true
		}
	}
	return false
}

// publish sets the pod's status.nominatedNodeName to pub.Node unless the pod is bound, gone, or nominated elsewhere by
// someone else. It reports whether it wrote the field.
func (p *Publisher) publish(ctx context.Context, pub state.Publication) (bool, error) {
	pod, err := unboundPod(ctx, p.kube, pub)
	if err != nil || pod == nil || !pod.DeletionTimestamp.IsZero() {
		return false, err
	}
	current := pod.Status.NominatedNodeName
	if current == pub.Node {
		p.record(ctx, pub)
		return false, nil
	}
	if current != "" && !p.nominations.PublishedBy(pod.UID, current) {
		return false, nil // the kube-scheduler's (preemption) or another component's: not ours to overwrite
	}
	if err := patchNominatedNodeName(ctx, p.kube, pod, current, pub.Node); err != nil {
		if changedMeanwhile(err) {
			return false, nil // the next notification looks again
		}
		return false, fmt.Errorf("setting status.nominatedNodeName of pod %s: %w", pub.Pod, err)
	}
	p.record(ctx, pub)
	return true, nil
}

// record notes that the pod's status.nominatedNodeName says what pub says. A nomination that ended while it was
// being published keeps the value recorded, so the next ClearStale takes it back.
func (p *Publisher) record(ctx context.Context, pub state.Publication) {
	if err := p.nominations.Publish(pub); err != nil {
		log.FromContext(ctx).V(1).Info("published a nomination that had ended; it is cleared with the next plan", "pod", pub.Pod, "reason", err.Error())
	}
}

// clearWorkers bounds the pods ClearStale patches at once. The patches are independent; one after another they cost a
// round trip each, which at thousands of dropped nominations on a busy API server took minutes (`make scale`,
// docs/performance.md); the client's QPS limit still paces them.
const clearWorkers = 16

// ClearStale clears status.nominatedNodeName on the pods whose published nomination Tailor dropped, while the field
// still names what Tailor wrote and the pod is unbound, so the kube-scheduler stops holding room there for them.
func ClearStale(ctx context.Context, kube client.Client, nominations *state.Nominations) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, clearWorkers)
	for _, s := range nominations.Stale() {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := clearOne(ctx, kube, nominations, s); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// clearOne clears one stale publication.
func clearOne(ctx context.Context, kube client.Client, nominations *state.Nominations, s state.Publication) error {
	pod, err := unboundPod(ctx, kube, s)
	if err != nil {
		return err
	}
	if pod == nil || pod.Status.NominatedNodeName != s.Node {
		nominations.Unpublished(s.UID)
		return nil
	}
	err = patchNominatedNodeName(ctx, kube, pod, s.Node, "")
	switch {
	case err == nil, changedMeanwhile(err):
		// Cleared, or no longer what Tailor wrote: nothing left to undo.
		nominations.Unpublished(s.UID)
		return nil
	default:
		return fmt.Errorf("clearing status.nominatedNodeName of pod %s: %w", s.Pod, err)
	}
}

// unboundPod reads the pod a publication is about: nil when it is gone, was replaced by a pod of the same name, or is
// bound (binding cleared its status.nominatedNodeName).
func unboundPod(ctx context.Context, kube client.Client, pub state.Publication) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := kube.Get(ctx, pub.Pod, pod); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if pod.UID != pub.UID || pod.Spec.NodeName != "" {
		return nil, nil
	}
	return pod, nil
}

// changedMeanwhile tells whether a patchNominatedNodeName error means the pod changed under it: it is gone, or its
// nomination is no longer the one expected (a failed test operation is Invalid; a bound pod's status may conflict).
func changedMeanwhile(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsInvalid(err) || apierrors.IsConflict(err)
}

// patchNominatedNodeName changes the pod's status.nominatedNodeName from, which must still be its value on the server,
// to to ("" removes it). It is a JSON patch with a test operation: it fails rather than overwrite a nomination the
// kube-scheduler wrote meanwhile, and does not conflict with the scheduler's condition updates the way an update
// with a resourceVersion would.
func patchNominatedNodeName(ctx context.Context, kube client.Client, pod *corev1.Pod, from, to string) error {
	const path = "/status/nominatedNodeName"
	var ops []map[string]string
	switch {
	case from == "":
		// A JSON patch cannot test that a field is absent: a nomination the kube-scheduler writes in this very
		// instant (for preemption or a long binding) would be overwritten, and it writes it again on its next try.
		ops = append(ops, map[string]string{"op": "add", "path": path, "value": to})
	case to == "":
		ops = append(ops, map[string]string{"op": "test", "path": path, "value": from}, map[string]string{"op": "remove", "path": path})
	default:
		ops = append(ops, map[string]string{"op": "test", "path": path, "value": from}, map[string]string{"op": "replace", "path": path, "value": to})
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	return kube.Status().Patch(ctx, pod, client.RawPatch(types.JSONPatchType, data))
}
