package scheduling

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxCountable is the largest request, in a resource's integer unit (millicores for cpu, bytes, counts), the planner
// counts. Resources holds int64s: a quantity beyond it (1e16 cores is 1e19 millicores) would wrap when converted or
// summed over containers and pods, and a pod needing everything would be planned as needing nothing. 2^53 leaves
// room for sums over a thousand pods at the limit and is still 9 PiB of memory or 9 billion cores.
const maxCountable = int64(1) << 53

// requestsOutOfRange says why a pod's requests cannot be counted, naming the resource, or "" when they can. It adds
// every container's, init container's and the overhead's quantity exactly (resource.Quantity does not wrap): an
// upper bound of PodRequests, so when it is in range no int64 sum in PodRequests can wrap.
func requestsOutOfRange(pod *corev1.Pod) string {
	sums := map[corev1.ResourceName]*resource.Quantity{}
	add := func(rl corev1.ResourceList) {
		for name, q := range rl {
			if sums[name] == nil {
				sums[name] = resource.NewQuantity(0, q.Format)
			}
			sums[name].Add(q)
		}
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			add(cs[i].Resources.Requests)
			limits := corev1.ResourceList{}
			for name, q := range cs[i].Resources.Limits {
				if _, ok := cs[i].Resources.Requests[name]; !ok {
					limits[name] = q
				}
			}
			add(limits)
		}
	}
	add(pod.Spec.Overhead)
	limit := resource.NewQuantity(maxCountable, resource.DecimalSI)
	milliLimit := resource.NewMilliQuantity(maxCountable, resource.DecimalSI)
	names := make([]corev1.ResourceName, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		q, bound := sums[name], limit
		if name == corev1.ResourceCPU {
			bound = milliLimit
		}
		if q.Cmp(*bound) > 0 {
			return fmt.Sprintf("pod requests more %s than Tailor can count (%s over its containers, at most %s): fix the pod's resources.requests",
				name, q.String(), bound.String())
		}
	}
	return ""
}
