package scheduling

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestRequestsOutOfRange: requests too large to count (1e16 cores overflow millicores; two 5Ei containers overflow
// a byte sum) wrapped into small or negative numbers and were planned as needing nothing. Such a pod is refused
// with a reason naming the resource, and the rest of the batch is planned as usual.
func TestRequestsOutOfRange(t *testing.T) {
	huge := pod("huge-cpu").req("1e16", "1Gi").obj()
	wide := pod("wide-memory").req("1", "1Gi").obj()
	second := wide.Spec.Containers[0].DeepCopy()
	second.Name = "second"
	wide.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("5Ei")
	second.Resources.Requests[corev1.ResourceMemory] = resource.MustParse("5Ei")
	wide.Spec.Containers = append(wide.Spec.Containers, *second)
	normal := pod("normal").req("1", "1Gi").obj()
	r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, []*corev1.Pod{huge, wide, normal}, Options{})
	if n := r.PodCount(); n != 1 {
		t.Errorf("planned %d pods, want only the normal one: %v", n, summary(r))
	}
	reasons := map[string]string{}
	for _, u := range r.Unschedulable {
		reasons[u.Pod.Name] = strings.Join(ReasonStrings(u.Reasons), "; ")
	}
	for name, resource := range map[string]string{"huge-cpu": "cpu", "wide-memory": "memory"} {
		got, ok := reasons[name]
		if !ok {
			t.Errorf("pod %s was planned", name)
			continue
		}
		if !strings.Contains(got, "requests more "+resource) {
			t.Errorf("pod %s: reason %q does not name %s as out of range", name, got, resource)
		}
	}
}
