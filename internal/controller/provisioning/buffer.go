package provisioning

import (
	"context"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// buffersByKey indexes the view's buffers by namespace and name.
func buffersByKey(view *state.View) map[types.NamespacedName]*apiv1.CapacityBuffer {
	out := map[types.NamespacedName]*apiv1.CapacityBuffer{}
	for _, b := range view.Buffers {
		out[types.NamespacedName{Namespace: b.Buffer.Namespace, Name: b.Buffer.Name}] = b.Buffer
	}
	return out
}

// countBufferPods counts the virtual pods among pods by their buffer.
func countBufferPods(pods []*corev1.Pod) map[types.NamespacedName]int {
	out := map[types.NamespacedName]int{}
	for _, pod := range pods {
		if key, ok := state.BufferOf(pod); ok {
			out[key]++
		}
	}
	return out
}

// bufferLaunched tells each buffer whose virtual pods the new NodeClaim holds that room was bought for it.
func (p *Provisioner) bufferLaunched(ctx context.Context, view *state.View, planned *scheduling.NodeClaim, nodeClaim string) {
	held := countBufferPods(planned.Pods)
	if len(held) == 0 {
		return
	}
	buffers := buffersByKey(view)
	for key, n := range held {
		cb := buffers[key]
		if cb == nil {
			continue
		}
		bufferLaunches.WithLabelValues(key.Namespace, key.Name).Inc()
		p.recorder.Eventf(cb, nil, corev1.EventTypeNormal, ReasonBufferProvisioned, "Provisioning",
			"nodeclaim %s holds %d of the buffer's %d chunk(s)", nodeClaim, n, len(bufferPodsOf(view, key)))
		log.FromContext(ctx).Info("launching room for a capacity buffer", "capacitybuffer", key.String(),
			"nodeclaim", nodeClaim, "chunks", n)
	}
}

// bufferPodsOf are the virtual pods of one buffer in the view.
func bufferPodsOf(view *state.View, key types.NamespacedName) []*corev1.Pod {
	for _, b := range view.Buffers {
		if b.Buffer.Namespace == key.Namespace && b.Buffer.Name == key.Name {
			return b.Pods
		}
	}
	return nil
}

// recordBuffers sets each buffer's metrics from the plan (chunks, and where they are held) and warns a buffer whose
// chunks fit on no node Tailor can launch.
func (p *Provisioner) recordBuffers(view *state.View, results *scheduling.Results) {
	if len(view.Buffers) == 0 {
		return
	}
	var onNew []*corev1.Pod
	for _, c := range results.NodeClaims {
		onNew = append(onNew, c.Pods...)
	}
	resetBufferGauges()
	launching := countBufferPods(onNew)
	homeless := map[types.NamespacedName][]string{}
	for _, u := range results.Unschedulable {
		if key, ok := state.BufferOf(u.Pod); ok && len(homeless[key]) == 0 {
			homeless[key] = scheduling.ReasonStrings(u.Reasons)
		}
	}
	for _, b := range view.Buffers {
		key := types.NamespacedName{Namespace: b.Buffer.Namespace, Name: b.Buffer.Name}
		bufferPods.WithLabelValues(key.Namespace, key.Name).Set(float64(len(b.Pods)))
		bufferPodsWaiting.WithLabelValues(key.Namespace, key.Name).Set(float64(launching[key] + unschedulableOf(results, key)))
		if reasons, ok := homeless[key]; ok {
			reasons = append([]string(nil), reasons...)
			sort.Strings(reasons)
			p.recorder.Eventf(b.Buffer, nil, corev1.EventTypeWarning, ReasonBufferUnschedulable, "Provisioning",
				"%d chunk(s) fit on no node Tailor can launch: %s", unschedulableOf(results, key), strings.Join(reasons, "; "))
		}
	}
}

// unschedulableOf counts the buffer's virtual pods the plan could not place.
func unschedulableOf(results *scheduling.Results, key types.NamespacedName) int {
	n := 0
	for _, u := range results.Unschedulable {
		if k, ok := state.BufferOf(u.Pod); ok && k == key {
			n++
		}
	}
	return n
}

// bufferKeys names the buffers whose virtual pods are among pods, as sorted namespace/name joined by commas.
func bufferKeys(pods []*corev1.Pod) string {
	var keys []string
	for key := range countBufferPods(pods) {
		keys = append(keys, key.String())
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// resetBufferGauges drops every buffer's gauge series; the batch sets those of the buffers that exist.
func resetBufferGauges() {
	bufferPods.Reset()
	bufferPodsWaiting.Reset()
}
