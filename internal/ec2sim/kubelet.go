package ec2sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// KubeletStoppedAnnotation on a Node says its kubelet has stopped (StopKubelet). testenv's KWOK stages leave such a
// Node alone, so nothing sets it Ready again; keep the two in step.
const KubeletStoppedAnnotation = "ec2sim.tailor.sh/kubelet-stopped"

// StopKubelet makes the kubelet of the instance's Node stop, as a wedged or crashed kubelet would: the Node is
// annotated KubeletStoppedAnnotation (KWOK stops keeping it Ready) and its Ready condition becomes Unknown, as the
// node lifecycle controller sets it once heartbeats stop. The instance itself keeps running.
func (s *Sim) StopKubelet(ctx context.Context, id string) error {
	if s.opts.KubeClient == nil {
		return errors.New("the simulator registers no Nodes (no kube client)")
	}
	instances := s.Instances()
	i := slices.IndexFunc(instances, func(i AdminInstance) bool { return i.ID == id })
	if i < 0 {
		return fmt.Errorf("instance %s does not exist", id)
	}
	if !instances[i].NodeCreated || instances[i].NodeDeleted {
		return fmt.Errorf("instance %s has no Node", id)
	}
	name := instances[i].NodeName
	if err := s.stopKubelet(ctx, name, id); err != nil {
		return fmt.Errorf("stopping the kubelet of node %s (instance %s): %w", name, id, err)
	}
	s.opts.Log.Info("stopped kubelet", "node", name, "instance", id)
	return nil
}

// errNotOwnNode: the Node of that name is another instance's (see ownsNode).
var errNotOwnNode = errors.New("the Node of that name is a newer instance's")

// ownsNode tells whether node is instance id's. ec2sim hands a terminated instance's private address, and so its Node
// name, to the next instance: once something else deleted the old Node (Tailor's termination does), the Node found
// by that name may be a newer instance's, which the old instance's shutdown must leave alone.
func ownsNode(node *corev1.Node, id string) bool {
	return strings.HasSuffix(node.Spec.ProviderID, "/"+id)
}

// stopKubelet marks instance id's Node as having a stopped kubelet: annotated KubeletStoppedAnnotation (KWOK stops
// keeping it Ready) and Ready Unknown, as the node lifecycle controller sets it once heartbeats stop. A Node already
// gone is fine; a Node of that name that is another instance's is errNotOwnNode.
func (s *Sim) stopKubelet(ctx context.Context, name, id string) error {
	nodes := s.opts.KubeClient.CoreV1().Nodes()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !ownsNode(node, id) {
			return errNotOwnNode
		}
		if node.Annotations[KubeletStoppedAnnotation] != "true" {
			if node.Annotations == nil {
				node.Annotations = map[string]string{}
			}
			node.Annotations[KubeletStoppedAnnotation] = "true"
			if node, err = nodes.Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		now := metav1.Now()
		ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown",
			Message: "Kubelet stopped posting node status.", LastHeartbeatTime: now, LastTransitionTime: now}
		found := false
		for j := range node.Status.Conditions {
			if node.Status.Conditions[j].Type == corev1.NodeReady {
				if node.Status.Conditions[j].Status == corev1.ConditionUnknown {
					return nil
				}
				node.Status.Conditions[j], found = ready, true
			}
		}
		if !found {
			node.Status.Conditions = append(node.Status.Conditions, ready)
		}
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PodReclaimedReason is the status reason of a pod that was still running on its Node when ec2sim took the
// instance away (shutting-down, by TerminateInstances or a spot interruption): the pod did not get to finish, as it
// would not on EC2. A pod drained before the termination (evicted, deleted) never gets it.
const PodReclaimedReason = "InstanceReclaimed"

// reclaimNode models what EC2 taking an instance away does to its Node: the kubelet dies with the instance, so the
// Node's kubelet stops (stopKubelet) and every pod still running there stops running: phase Failed, Ready False,
// reason PodReclaimedReason. Without this, KWOK would keep the pods Running and Ready until the Node is deleted and
// the pod garbage collector comes (40 s later or more), and a termination before the drain would go unseen. Pods
// already terminating or finished, and DaemonSet pods (expected on every node until the end), are left alone.
func (s *Sim) reclaimNode(ctx context.Context, i *instance) error {
	return s.reclaim(ctx, i.ID, i.PrivateDNSName, i.State)
}

// reclaimBeforeTerminate reclaims the Nodes of the instances a TerminateInstances call is about to shut down, before
// the call changes their state and the state-change events reach the queues: on EC2 the kubelet dies with the
// shutdown, so a consumer of those events (Tailor's interruption handling) must not get to evict pods that were
// still running when the call came. A call naming an unknown instance fails as a whole, so it reclaims nothing.
// The marks are saved with the call's own state write (or, should the call fail, the next tick's).
func (s *Sim) reclaimBeforeTerminate(ctx context.Context, ids []string) {
	if s.opts.KubeClient == nil {
		return
	}
	byID := map[string]AdminInstance{}
	for _, in := range s.Instances() {
		byID[in.ID] = in
	}
	var todo []AdminInstance
	for _, id := range ids {
		in, ok := byID[id]
		if !ok {
			return
		}
		if (in.State == statePending || in.State == stateRunning) && in.NodeCreated && !in.NodeDeleted {
			todo = append(todo, in)
		}
	}
	for _, in := range todo {
		if err := s.reclaim(ctx, in.ID, in.NodeName, stateShuttingDown); err != nil {
			s.opts.Log.Error(err, "reclaiming the node of a terminating instance", "instance", in.ID)
			continue
		}
		s.cloud.markReclaimed(in.ID)
	}
}

// reclaim does reclaimNode's work for the instance id whose Node is name and whose state is (or is about to be)
// state.
func (s *Sim) reclaim(ctx context.Context, id, name, state string) error {
	i := &instance{ID: id, PrivateDNSName: name, State: state}
	switch err := s.stopKubelet(ctx, name, id); {
	case errors.Is(err, errNotOwnNode):
		// The instance's own Node is gone (its pods with it); the name is a newer instance's now.
		s.opts.Log.Info("instance reclaimed: its Node is gone and the name is a newer instance's", "node", name, "instance", i.ID, "state", i.State)
		return nil
	case err != nil:
		return fmt.Errorf("stopping the kubelet of node %s (instance %s, %s): %w", name, i.ID, i.State, err)
	}
	list, err := s.opts.KubeClient.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return fmt.Errorf("listing the pods of node %s (instance %s): %w", name, i.ID, err)
	}
	var failed []string
	for j := range list.Items {
		p := &list.Items[j]
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
			slices.ContainsFunc(p.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "DaemonSet" }) {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := s.opts.KubeClient.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.DeletionTimestamp != nil || cur.Status.Phase == corev1.PodSucceeded || cur.Status.Phase == corev1.PodFailed {
				return nil
			}
			failPod(cur, i)
			_, err = s.opts.KubeClient.CoreV1().Pods(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failing pod %s/%s on node %s (instance %s): %w", p.Namespace, p.Name, name, i.ID, err)
		}
		failed = append(failed, p.Namespace+"/"+p.Name)
	}
	s.opts.Log.Info("instance reclaimed: kubelet stopped, pods no longer running", "node", name, "instance", i.ID, "state", i.State, "pods", failed)
	return nil
}

// failPod sets a pod's status to what a pod whose instance was reclaimed under it shows.
func failPod(p *corev1.Pod, i *instance) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodFailed
	p.Status.Reason = PodReclaimedReason
	p.Status.Message = fmt.Sprintf("instance %s running node %s was %s while the pod was running on it", i.ID, i.PrivateDNSName, i.State)
	for j := range p.Status.Conditions {
		c := &p.Status.Conditions[j]
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			if c.Status != corev1.ConditionFalse {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = corev1.ConditionFalse, PodReclaimedReason
		}
	}
	for j := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[j]
		cs.Ready = false
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: PodReclaimedReason, StartedAt: started, FinishedAt: now,
		}}
	}
}

// deleteReclaimedPods deletes the pods reclaimNode failed on a Node that is now deleted, as the pod garbage
// collector deletes the pods of a Node that no longer exists. ec2sim does it at once because it may hand the same
// private address, and so the same Node name, to the next instance within a second: the garbage collector would
// then never see the old pods as orphans, and the scheduler would count them on the new Node.
func (s *Sim) deleteReclaimedPods(ctx context.Context, node string) error {
	list, err := s.opts.KubeClient.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return fmt.Errorf("listing the pods of deleted node %s: %w", node, err)
	}
	var errs []error
	for _, p := range list.Items {
		if p.Status.Phase != corev1.PodFailed || p.Status.Reason != PodReclaimedReason {
			continue
		}
		err := s.opts.KubeClient.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &p.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting pod %s/%s of deleted node %s: %w", p.Namespace, p.Name, node, err))
		}
	}
	return errors.Join(errs...)
}
