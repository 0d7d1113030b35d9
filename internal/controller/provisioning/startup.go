package provisioning

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// StartupRecorder observes tailor_pods_startup_duration_seconds: for each pod that starts Running on a node Tailor
// launched (a Node labelled with its NodePool), the time from the pod's creation to Running. Only the transition to
// Running is watched, so a controller restart does not count already-running pods again.
type StartupRecorder struct {
	clk  clock.Clock
	kube client.Client
}

// NewStartupRecorder returns the recorder; both dependencies are required.
func NewStartupRecorder(clk clock.Clock, kube client.Client) (*StartupRecorder, error) {
	if clk == nil || kube == nil {
		return nil, errors.New("provisioning: the startup recorder needs a clock and a client")
	}
	return &StartupRecorder{clk: clk, kube: kube}, nil
}

// Register watches pods for their move to Running.
func (r *StartupRecorder) Register(mgr manager.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("provisioning.podstartup").
		For(&corev1.Pod{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				old, okOld := e.ObjectOld.(*corev1.Pod)
				pod, okNew := e.ObjectNew.(*corev1.Pod)
				return okOld && okNew && old.Status.Phase != corev1.PodRunning && pod.Status.Phase == corev1.PodRunning
			},
		})).
		Complete(r)
}

// Reconcile records the startup duration of a Running pod on a Tailor node.
func (r *StartupRecorder) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.kube.Get(ctx, req.NamespacedName, pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName == "" {
		return ctrl.Result{}, nil
	}
	node := &corev1.Node{}
	if err := r.kube.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, node); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if node.Labels[apiv1.NodePoolLabelKey] == "" {
		return ctrl.Result{}, nil
	}
	podStartupDuration.Observe(r.runningSince(pod).Sub(pod.CreationTimestamp.Time).Seconds())
	return ctrl.Result{}, nil
}

// runningSince is when the pod became Running: its Ready condition's transition if Ready, else the latest container
// start, else now (we are told just after the fact).
func (r *StartupRecorder) runningSince(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	var latest time.Time
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil && cs.State.Running.StartedAt.After(latest) {
			latest = cs.State.Running.StartedAt.Time
		}
	}
	if latest.IsZero() {
		return r.clk.Now()
	}
	return latest
}
