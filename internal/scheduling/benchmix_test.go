package scheduling

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/benchmix"
)

// mixKey is what makes two pods of a mix plan alike: their labels (but the Deployment's own app label) and their
// spec with container names and images cleared.
func mixKey(t *testing.T, labels map[string]string, spec corev1.PodSpec) string {
	t.Helper()
	l := maps.Clone(labels)
	delete(l, "app")
	spec = *spec.DeepCopy()
	for i := range spec.Containers {
		spec.Containers[i].Name, spec.Containers[i].Image = "", ""
	}
	b, err := json.Marshal(struct {
		Labels map[string]string
		Spec   corev1.PodSpec
	}{l, spec})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBenchmixMatchesBenchmark: the Deployments internal/benchmix writes for tailor simulate (hack/gen-mix) expand
// into exactly the pods the benchmarks' diverse generators make, counted by kind of pod.
func TestBenchmixMatchesBenchmark(t *testing.T) {
	if !slices.Equal(benchmix.CPU, benchCPU) || !slices.Equal(benchmix.Memory, benchMem) {
		t.Fatalf("benchmix shapes %v %v differ from the benchmark's %v %v", benchmix.CPU, benchmix.Memory, benchCPU, benchMem)
	}
	for _, tc := range []struct {
		mix  string
		pods func(int) []*corev1.Pod
	}{{benchmix.MixDiverse, diversePods}, {benchmix.MixDiversePreferred, preferredDiversePods}} {
		for _, n := range []int{7, 1000, 20000} {
			want := map[string]int{}
			for _, p := range tc.pods(n) {
				want[mixKey(t, p.Labels, p.Spec)]++
			}
			deps, err := benchmix.Generate(tc.mix, n)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, d := range deps {
				got[mixKey(t, d.Spec.Template.Labels, d.Spec.Template.Spec)] += int(*d.Spec.Replicas)
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s at %d pods: %d Deployments expand into %d kinds of pod, the benchmark makes %d kinds; they differ", tc.mix, n, len(deps), len(got), len(want))
			}
		}
	}
}
