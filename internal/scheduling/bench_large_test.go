package scheduling

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// largeSizes are the fleet-scale sizes of issue #18: the diverse mix at 20,000 and 50,000 pods against the whole
// embedded catalogue (939 instance types).
var largeSizes = []int{20000, 50000}

// preferAffinity adds a preferred pod affinity term.
func (b *podBuilder) preferAffinity(weight int32, key string, sel map[string]string) *podBuilder {
	a := b.affinity()
	if a.PodAffinity == nil {
		a.PodAffinity = &corev1.PodAffinity{}
	}
	a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}})
	return b
}

// preferredDiversePods is the diverse mix with every constraint soft: the same shapes and labels in equal fifths —
// none; zone spread and hostname spread (maxSkew 1, ScheduleAnyway); preferred zone pod affinity to pods sharing one
// of 7 values; preferred hostname anti-affinity among all pods of the fifth.
func preferredDiversePods(n int) []*corev1.Pod { return diverseMix(n, "pref", true) }

// BenchmarkSolveLarge plans the diverse mix, required and preferred, at 20,000 and 50,000 pods. Besides pods/s,
// cost/bound and nodes it reports pods/cpu-s, pods per second of CPU time the process used while planning (every
// thread, the garbage collector's included: on a shared machine, what the planning costs whatever the load), and
// peak-rss-MiB, the process's peak resident set (getrusage) after the run: the process's high-water mark, so run
// one sub-benchmark per process to read it for that size alone.
func BenchmarkSolveLarge(b *testing.B) {
	types := catalogTypes(b)
	for _, sc := range []struct {
		name string
		pods func(int) []*corev1.Pod
	}{{"diverse", diversePods}, {"diverse-preferred", preferredDiversePods}} {
		for _, n := range largeSizes {
			b.Run(fmt.Sprintf("%s/pods=%d", sc.name, n), func(b *testing.B) {
				pods := sc.pods(n)
				snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
				var res *Results
				b.ReportAllocs()
				cpu0, _, _ := processUsage()
				b.ResetTimer()
				for range b.N {
					var err error
					if res, err = Solve(snap, pods, Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
				if cpu1, rss, ok := processUsage(); ok {
					b.ReportMetric(float64(n)*float64(b.N)/(cpu1-cpu0).Seconds(), "pods/cpu-s")
					b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
				}
				reportPlan(b, snap, res)
			})
		}
	}
}
