package scheduling

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// TestPodRequestsPodLevelResources: pod-level spec.resources (PodLevelResources) replace the containers' sum for the
// resources they name (cpu, memory, hugepages), as the kube-scheduler counts them; the rest still comes from the
// containers; the overhead is added on top; pod-level limits stand in for missing pod-level requests.
func TestPodRequestsPodLevelResources(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	for _, tt := range []struct {
		name string
		pod  corev1.PodSpec
		want Resources
	}{
		{
			name: "pod-level requests override the containers",
			pod: corev1.PodSpec{
				Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "6", "memory", "8Gi")},
				Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "128Mi", "ephemeral-storage", "1Gi")}}},
			},
			want: Resources{CPU: 6000, Memory: 8 << 30, Storage: 1 << 30, Pods: 1},
		},
		{
			name: "only cpu at pod level: memory from the containers",
			pod: corev1.PodSpec{
				Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "2")},
				Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m", "memory", "1Gi")}}, {Resources: corev1.ResourceRequirements{Requests: rl("memory", "1Gi")}}},
			},
			want: Resources{CPU: 2000, Memory: 2 << 30, Pods: 1},
		},
		{
			name: "pod-level limits without requests count as requests",
			pod: corev1.PodSpec{
				Resources:  &corev1.ResourceRequirements{Limits: rl("cpu", "4", "memory", "4Gi")},
				Containers: []corev1.Container{{}},
			},
			want: Resources{CPU: 4000, Memory: 4 << 30, Pods: 1},
		},
		{
			name: "pod level over init containers and sidecars, plus overhead",
			pod: corev1.PodSpec{
				Resources:      &corev1.ResourceRequirements{Requests: rl("cpu", "3", "memory", "1Gi")},
				InitContainers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: rl("cpu", "8")}}, {RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}},
				Containers:     []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}},
				Overhead:       rl("cpu", "250m", "memory", "128Mi"),
			},
			want: Resources{CPU: 3250, Memory: 1<<30 + 128<<20, Pods: 1},
		},
		{
			name: "extended resources are not pod-level resources",
			pod: corev1.PodSpec{
				Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "1", "hugepages-2Mi", "1Gi")},
				Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: rl("nvidia.com/gpu", "1"), Limits: rl("nvidia.com/gpu", "1")}}},
			},
			want: Resources{CPU: 1000, Pods: 1, Extended: map[corev1.ResourceName]int64{"nvidia.com/gpu": 1, "hugepages-2Mi": 1 << 30}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := PodRequests(&corev1.Pod{Spec: tt.pod})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PodRequests (-want +got):\n%s", diff)
			}
		})
	}
}
