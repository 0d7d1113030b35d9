package scheduling

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// staticSlotLabel marks the placeholder pods PlanStatic plans, one per node to launch.
const staticSlotLabel = "tailor.sh/static-slot"

// PlanStatic plans count new nodes for a static NodePool (one with spec.replicas): the cheapest nodes its
// requirements, limits and DaemonSets allow, one placeholder pod each (no requests, tolerating every taint, kept
// apart by a required hostname anti-affinity). Nodes the plan cannot launch (a limit reached, no instance type that
// holds the DaemonSets) are missing from the result and explained in its Unschedulable entries. Pure, as Solve.
func PlanStatic(pool *NodePool, daemonSetPods []*corev1.Pod, count int, opts Options) (*Results, error) {
	if pool == nil {
		return nil, errors.New("planning static nodes: no NodePool")
	}
	if count <= 0 {
		return &Results{}, nil
	}
	snap := &Snapshot{NodePools: []*NodePool{pool}, DaemonSetPods: daemonSetPods}
	slot := map[string]string{staticSlotLabel: pool.Name}
	pods := make([]*corev1.Pod, count)
	for i := range pods {
		name := fmt.Sprintf("%s-static-%d", pool.Name, i)
		pods[i] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tailor-static", Labels: slot, UID: types.UID(name)},
			Spec: corev1.PodSpec{
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
						LabelSelector: &metav1.LabelSelector{MatchLabels: slot},
						TopologyKey:   corev1.LabelHostname,
					}},
				}},
				Containers: []corev1.Container{{Name: "slot"}},
			},
		}
	}
	results, err := Solve(snap, pods, opts)
	if err != nil {
		return nil, fmt.Errorf("planning %d static node(s) for nodepool %q: %w", count, pool.Name, err)
	}
	return results, nil
}
