package disruption

import (
	"context"
	"fmt"

	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// keepBufferRoom keeps CapacityBuffers' room out of consolidation. When some Empty or Underutilized candidate exists
// and some buffer has chunks, it reads the cluster view, places the chunks on existing and in-flight nodes
// (scheduling.BufferRoom), drops the candidates whose nodes hold some of that room, and counts the chunks as bound
// pods of those nodes in the view, so a consolidation that moves pods elsewhere does not fill the room either. It
// returns the view it read, or nil when it read none.
func (c *Controller) keepBufferRoom(ctx context.Context, candidates map[string][]*candidate) (*state.View, error) {
	if len(candidates[ReasonEmpty]) == 0 && len(candidates[ReasonUnderutilized]) == 0 {
		return nil, nil
	}
	buffers, err := state.ReadBuffers(ctx, c.kube)
	if err != nil {
		return nil, err
	}
	if len(state.BufferPods(buffers)) == 0 {
		return nil, nil
	}
	view, err := c.cluster.Read(ctx, c.cloud.GetInstanceTypes)
	if err != nil {
		return nil, err
	}
	held, _, err := scheduling.BufferRoom(view.Snapshot, state.BufferPods(view.Buffers))
	if err != nil {
		return nil, fmt.Errorf("placing capacity buffers: %w", err)
	}
	for _, n := range view.Snapshot.Nodes {
		n.Pods = append(n.Pods, held[n.Name]...)
	}
	for _, reason := range []string{ReasonEmpty, ReasonUnderutilized} {
		kept := candidates[reason][:0]
		for _, cand := range candidates[reason] {
			if pods := held[cand.node.Name]; len(pods) > 0 {
				log.FromContext(ctx).V(1).Info("not disrupting node: it holds capacity buffer room", "node", klog.KObj(cand.node),
					"reason", reason, "bufferPods", len(pods))
				continue
			}
			kept = append(kept, cand)
		}
		candidates[reason] = kept
	}
	return view, nil
}
