package state

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadFromInformers has the Cluster list pods straight from the informers' store (Pods), instead of through its
// reader; the controller gives it the manager's cache.
func (c *Cluster) ReadFromInformers(informers cache.Informers) { c.informers = informers }

// Pods lists every pod: the cache's own objects, not copies, so the caller must not change them (the simulator
// copies a pod before changing it; writes go through fresh reads).
//
// From the informers' store it is a slice of pointers. A List through a client, even without deep copies, fills a
// slice of pod values: 1.2 KiB a pod, about 12 MiB at 10,000 pods for every read, and a disruption pass reads twice
// (docs/performance.md).
func (c *Cluster) Pods(ctx context.Context) ([]*corev1.Pod, error) {
	if c.informers != nil {
		inf, err := c.informers.GetInformer(ctx, &corev1.Pod{})
		if err != nil {
			return nil, fmt.Errorf("listing pods: %w", err)
		}
		if store, ok := inf.(toolscache.SharedIndexInformer); ok {
			items := store.GetIndexer().List()
			out := make([]*corev1.Pod, 0, len(items))
			for _, o := range items {
				if p, ok := o.(*corev1.Pod); ok {
					out = append(out, p)
				}
			}
			return out, nil
		}
	}
	var l corev1.PodList
	if err := c.kube.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	return PodPointers(l.Items), nil
}

// PodPointers points at each pod of a listed slice, in order.
func PodPointers(pods []corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i := range pods {
		out[i] = &pods[i]
	}
	return out
}
