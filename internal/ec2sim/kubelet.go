package ec2sim

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
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
	nodes := s.opts.KubeClient.CoreV1().Nodes()
	name := instances[i].NodeName
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
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
	if err != nil {
		return fmt.Errorf("stopping the kubelet of node %s (instance %s): %w", name, id, err)
	}
	s.opts.Log.Info("stopped kubelet", "node", name, "instance", id)
	return nil
}
