package scheduling

import (
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// IsBufferPod tells whether a pod is a virtual pod of a CapacityBuffer (it carries apiv1.CapacityBufferLabelKey).
// Such a pod holds room in a plan but exists nowhere else: callers must not nominate, publish or evict it.
func IsBufferPod(p *corev1.Pod) bool {
	_, ok := p.Labels[apiv1.CapacityBufferLabelKey]
	return ok
}

// splitBufferPods separates real pods from buffer pods, keeping each side's order.
func splitBufferPods(infos []*podInfo) (real, buffer []*podInfo) {
	for _, p := range infos {
		if IsBufferPod(p.pod) {
			buffer = append(buffer, p)
		} else {
			real = append(real, p)
		}
	}
	return real, buffer
}

// WithoutBufferPods returns pods without the buffer pods among them.
func WithoutBufferPods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if !IsBufferPod(p) {
			out = append(out, p)
		}
	}
	return out
}

// BufferRoom places buffer pods on the snapshot's nodes and in-flight NodeClaims only, never on new capacity, and
// returns the names of the nodes that hold some of that room and the buffer pods that fit nowhere. Consolidation
// keeps the nodes it names: their free room is what the buffers asked for.
func BufferRoom(snap *Snapshot, bufferPods []*corev1.Pod) (map[string][]*corev1.Pod, []*corev1.Pod, error) {
	if len(bufferPods) == 0 {
		return nil, nil, nil
	}
	existing := *snap
	existing.NodePools = nil
	res, err := Solve(&existing, bufferPods, Options{})
	if err != nil {
		return nil, nil, err
	}
	held := map[string][]*corev1.Pod{}
	for _, e := range res.ExistingNodes {
		held[e.Node] = append(held[e.Node], e.Pods...)
	}
	var homeless []*corev1.Pod
	for _, u := range res.Unschedulable {
		homeless = append(homeless, u.Pod)
	}
	return held, homeless, nil
}
