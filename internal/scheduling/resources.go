package scheduling

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources is a compact resource vector: the simulator adds and compares these millions of times, which
// corev1.ResourceList (a map of Quantity) is too slow for. CPU is in millicores, Memory and Storage in bytes, Pods a
// count, extended resources in their integer unit.
type Resources struct {
	CPU      int64
	Memory   int64
	Pods     int64
	Storage  int64
	Extended map[corev1.ResourceName]int64
}

// ResourcesFrom converts a ResourceList. Unknown names are kept as extended resources.
func ResourcesFrom(rl corev1.ResourceList) Resources {
	var r Resources
	for name, q := range rl {
		r.set(name, q)
	}
	return r
}

func (r *Resources) set(name corev1.ResourceName, q resource.Quantity) {
	switch name {
	case corev1.ResourceCPU:
		r.CPU = q.MilliValue()
	case corev1.ResourceMemory:
		r.Memory = q.Value()
	case corev1.ResourcePods:
		r.Pods = q.Value()
	case corev1.ResourceEphemeralStorage:
		r.Storage = q.Value()
	default:
		if r.Extended == nil {
			r.Extended = map[corev1.ResourceName]int64{}
		}
		r.Extended[name] = q.Value()
	}
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	out := Resources{CPU: r.CPU + o.CPU, Memory: r.Memory + o.Memory, Pods: r.Pods + o.Pods, Storage: r.Storage + o.Storage}
	if len(r.Extended) > 0 || len(o.Extended) > 0 {
		out.Extended = maps.Clone(r.Extended)
		if out.Extended == nil {
			out.Extended = map[corev1.ResourceName]int64{}
		}
		for k, v := range o.Extended {
			out.Extended[k] += v
		}
	}
	return out
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	neg := Resources{CPU: -o.CPU, Memory: -o.Memory, Pods: -o.Pods, Storage: -o.Storage}
	if len(o.Extended) > 0 {
		neg.Extended = make(map[corev1.ResourceName]int64, len(o.Extended))
		for k, v := range o.Extended {
			neg.Extended[k] = -v
		}
	}
	return r.Add(neg)
}

// Max returns the per-resource maximum of r and o.
func (r Resources) Max(o Resources) Resources {
	out := Resources{CPU: max(r.CPU, o.CPU), Memory: max(r.Memory, o.Memory), Pods: max(r.Pods, o.Pods), Storage: max(r.Storage, o.Storage)}
	if len(r.Extended) > 0 || len(o.Extended) > 0 {
		out.Extended = map[corev1.ResourceName]int64{}
		for k, v := range r.Extended {
			out.Extended[k] = v
		}
		for k, v := range o.Extended {
			out.Extended[k] = max(out.Extended[k], v)
		}
	}
	return out
}

// Fits reports whether r ≤ alloc in every resource r requests. A resource alloc lacks counts as zero.
func (r Resources) Fits(alloc Resources) bool {
	if r.CPU > alloc.CPU || r.Memory > alloc.Memory || r.Pods > alloc.Pods || r.Storage > alloc.Storage {
		return false
	}
	for k, v := range r.Extended {
		if v > 0 && v > alloc.Extended[k] {
			return false
		}
	}
	return true
}

// FirstShortfall names the first resource (in a fixed order) where r exceeds alloc, or "".
func (r Resources) FirstShortfall(alloc Resources) corev1.ResourceName {
	switch {
	case r.CPU > alloc.CPU:
		return corev1.ResourceCPU
	case r.Memory > alloc.Memory:
		return corev1.ResourceMemory
	case r.Pods > alloc.Pods:
		return corev1.ResourcePods
	case r.Storage > alloc.Storage:
		return corev1.ResourceEphemeralStorage
	}
	for _, k := range slices.Sorted(maps.Keys(r.Extended)) {
		if r.Extended[k] > 0 && r.Extended[k] > alloc.Extended[k] {
			return k
		}
	}
	return ""
}

// Get returns one resource in its integer unit (millicores for cpu).
func (r Resources) Get(name corev1.ResourceName) int64 {
	switch name {
	case corev1.ResourceCPU:
		return r.CPU
	case corev1.ResourceMemory:
		return r.Memory
	case corev1.ResourcePods:
		return r.Pods
	case corev1.ResourceEphemeralStorage:
		return r.Storage
	}
	return r.Extended[name]
}

// Quantity returns one resource as a Quantity in its usual format.
func (r Resources) Quantity(name corev1.ResourceName) resource.Quantity {
	switch name {
	case corev1.ResourceCPU:
		return *resource.NewMilliQuantity(r.CPU, resource.DecimalSI)
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return *resource.NewQuantity(r.Get(name), resource.BinarySI)
	}
	return *resource.NewQuantity(r.Get(name), resource.DecimalSI)
}

// List converts back to a ResourceList, leaving out zero entries.
func (r Resources) List() corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if r.Get(name) != 0 {
			out[name] = r.Quantity(name)
		}
	}
	for k, v := range r.Extended {
		if v != 0 {
			out[k] = *resource.NewQuantity(v, resource.DecimalSI)
		}
	}
	return out
}

// String renders the vector compactly for messages and tests.
func (r Resources) String() string {
	s := fmt.Sprintf("cpu=%dm memory=%d pods=%d", r.CPU, r.Memory, r.Pods)
	if r.Storage != 0 {
		s += fmt.Sprintf(" ephemeral-storage=%d", r.Storage)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Extended)) {
		s += fmt.Sprintf(" %s=%d", k, r.Extended[k])
	}
	return s
}

func containerRequests(c *corev1.Container) Resources {
	var r Resources
	// The API server defaults a missing request to the limit; manifests read from files have not been defaulted.
	for name, q := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			r.set(name, q)
		}
	}
	for name, q := range c.Resources.Requests {
		r.set(name, q)
	}
	return r
}

// PodRequests is what a pod needs from a node, as the kube-scheduler computes it: the sum of its containers and
// sidecars (init containers with restartPolicy Always), or the largest init container step if that is more (each
// plain init container runs alongside the sidecars started before it), except for the resources the pod's own
// spec.resources requests (PodLevelResources: cpu, memory, hugepages), which replace that figure; plus the pod
// overhead, plus one pod slot.
func PodRequests(pod *corev1.Pod) Resources {
	var sum Resources
	for i := range pod.Spec.Containers {
		sum = sum.Add(containerRequests(&pod.Spec.Containers[i]))
	}
	var sidecars, initMax Resources
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		req := containerRequests(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = sidecars.Add(req)
			initMax = initMax.Max(sidecars)
			continue
		}
		initMax = initMax.Max(sidecars.Add(req))
	}
	total := sum.Add(sidecars).Max(initMax)
	total = withPodLevelRequests(total, pod.Spec.Resources)
	if pod.Spec.Overhead != nil {
		total = total.Add(ResourcesFrom(pod.Spec.Overhead))
	}
	total.Pods = 1
	return total
}

// withPodLevelRequests replaces, in the containers' total, each resource the pod-level spec.resources requests, as
// k8s.io/component-helpers/resource.PodRequests does with PodLevelResources on. Only cpu, memory and hugepages may be
// set at pod level; a pod-level limit with no request stands in for it (the API server's defaulting; manifests read
// from files have not been defaulted).
func withPodLevelRequests(total Resources, pod *corev1.ResourceRequirements) Resources {
	if pod == nil || (len(pod.Requests) == 0 && len(pod.Limits) == 0) {
		return total
	}
	level := corev1.ResourceList{}
	for name, q := range pod.Limits {
		level[name] = q
	}
	for name, q := range pod.Requests {
		level[name] = q
	}
	total.Extended = maps.Clone(total.Extended)
	for name, q := range level {
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			total.set(name, q)
		}
	}
	return total
}
