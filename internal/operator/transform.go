package operator

import (
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// The informers keep every pod and node of the cluster for as long as the controller runs: at 10,000 pods the pods
// alone were about a quarter of the controller's heap (docs/performance.md). Tailor writes pods and nodes only by
// patches of the fields it changes (a pod's status.nominatedNodeName, a node's taints and labels), never by an
// update of a cached object, so what the cache drops is never written back as empty.
//
// Of a pod it keeps what scheduling, disruption and termination read: metadata, and the spec's constraints, requests
// and ports; its status with little of the containers' statuses. Of a node it drops only the image list.

// stripForCache is the cache's transform for every object: managedFields go (no Tailor code reads them, and on a pod
// they are often as large as the rest of its metadata), pods and nodes are stripped further.
func stripForCache() toolscache.TransformFunc {
	managed := cache.TransformStripManagedFields()
	return func(obj any) (any, error) {
		obj, err := managed(obj)
		if err != nil {
			return obj, err
		}
		switch o := obj.(type) {
		case *corev1.Pod:
			stripPod(o)
		case *corev1.Node:
			o.Status.Images = nil
		}
		return obj, nil
	}
}

// stripPod drops in place what no Tailor code reads of a pod: how its containers run (command, environment, probes,
// mounts), the volumes that put nothing on a node's scheduling (projected, secret, config map, downward API), the
// ephemeral debug containers, and most of the containers' statuses.
func stripPod(p *corev1.Pod) {
	for i := range p.Spec.InitContainers {
		stripContainer(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		stripContainer(&p.Spec.Containers[i])
	}
	p.Spec.EphemeralContainers = nil
	kept := p.Spec.Volumes[:0]
	for _, v := range p.Spec.Volumes {
		if v.Projected != nil || v.Secret != nil || v.ConfigMap != nil || v.DownwardAPI != nil {
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		kept = nil
	}
	p.Spec.Volumes = kept
	stripStatuses(p.Status.InitContainerStatuses)
	stripStatuses(p.Status.ContainerStatuses)
	p.Status.EphemeralContainerStatuses = nil
}

// stripStatuses keeps of each container's status its state (when it started running: the startup recorder's
// fallback), readiness and restarts, and drops the images, IDs, resources and mounts.
func stripStatuses(statuses []corev1.ContainerStatus) {
	for i, s := range statuses {
		statuses[i] = corev1.ContainerStatus{Name: s.Name, State: s.State, Ready: s.Ready, Started: s.Started, RestartCount: s.RestartCount}
	}
}

// stripContainer keeps a container's name, image, ports, requests and limits, resize policy and restart policy (an
// init container that always restarts is a sidecar, whose requests count alongside the app containers').
func stripContainer(c *corev1.Container) {
	*c = corev1.Container{
		Name:          c.Name,
		Image:         c.Image,
		Ports:         c.Ports,
		Resources:     c.Resources,
		ResizePolicy:  c.ResizePolicy,
		RestartPolicy: c.RestartPolicy,
	}
}
