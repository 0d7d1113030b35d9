package scheduling

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed*7919+1)) }

var (
	cpuChoices = []string{"100m", "250m", "500m", "1", "1500m", "3"}
	memChoices = []string{"100Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "10Gi"}
)

// randomPod draws a pod with a random mix of constraints.
func randomPod(r *rand.Rand, name string) *podBuilder {
	b := pod(name).req(cpuChoices[r.IntN(len(cpuChoices))], memChoices[r.IntN(len(memChoices))])
	// Each kind of inter-pod term selects on its own label key, so every pod a term selects carries the same term
	// (the kube-scheduler only checks a term when its owner is placed; the validator checks the final state).
	g := r.IntN(4)
	kind := r.IntN(14)
	key := fmt.Sprint("k", kind)
	b.label(key, fmt.Sprint("g", g))
	sel := map[string]string{key: fmt.Sprint("g", g)}
	skew := int32(1 + g%3)
	switch kind {
	case 0:
		b.selector(apiv1.ZoneLabelKey, testZones[r.IntN(len(testZones))])
	case 1:
		b.nodeAffinity(nsr(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand))
	case 2:
		b.spread(apiv1.ZoneLabelKey, skew, corev1.DoNotSchedule, sel)
	case 3:
		b.spread(apiv1.HostnameLabelKey, skew, corev1.DoNotSchedule, sel)
	case 4:
		b.antiAffinity(apiv1.HostnameLabelKey, sel)
	case 5:
		b.podAffinity(apiv1.ZoneLabelKey, sel)
	case 6:
		b.hostPort(int32(8000 + r.IntN(3)))
	case 7:
		b.tolerate("dedicated", "infra")
	case 8:
		b.preferAnti(10, apiv1.HostnameLabelKey, sel)
	case 9:
		b.nodeAffinity(nsr(apiv1.InstanceFamilyLabelKey, corev1.NodeSelectorOpIn, "m6")).nodeAffinity(nsr(apiv1.InstanceFamilyLabelKey, corev1.NodeSelectorOpIn, "r6"))
	case 10:
		b.pvc("zonal")
	case 11:
		b.antiAffinity(apiv1.ZoneLabelKey, map[string]string{"solo": name}).label("solo", name)
	case 12:
		b.preferNode(20, nsr(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "test-1b"))
	}
	return b
}

func randomPods(r *rand.Rand, n int) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, n)
	for i := range n {
		out = append(out, randomPod(r, fmt.Sprintf("p-%d", i)).obj())
	}
	return out
}

func randomSnapshot(r *rand.Rand) *Snapshot {
	s := &Snapshot{}
	s.NodePools = append(s.NodePools, nodePool("default", smallCatalog()...).obj())
	if r.IntN(2) == 0 {
		s.NodePools = append(s.NodePools, nodePool("infra", smallCatalog()...).weight(5).
			taint("dedicated", "infra", corev1.TaintEffectNoSchedule).limit(corev1.ResourceCPU, fmt.Sprint(8+r.IntN(40))).obj())
	}
	if r.IntN(2) == 0 {
		s.NodePools[0].Requirements = MustRequirements(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeSpot, apiv1.CapacityTypeOnDemand))
	}
	for i := range r.IntN(4) {
		zone := testZones[r.IntN(len(testZones))]
		var pods []*corev1.Pod
		for j := range r.IntN(4) {
			pods = append(pods, randomPod(r, fmt.Sprintf("old-%d-%d", i, j)).req("200m", "256Mi").obj())
		}
		s.Nodes = append(s.Nodes, existingNode(fmt.Sprintf("node-%d", i), zone, "4", "8Gi", pods...))
	}
	// Existing pods came from a scheduler: drop their node constraints that the random generator may break.
	for _, n := range s.Nodes {
		for _, p := range n.Pods {
			p.Spec.Affinity, p.Spec.TopologySpreadConstraints, p.Spec.NodeSelector, p.Spec.Volumes = nil, nil, nil, nil
			p.Spec.Containers[0].Ports = nil
		}
	}
	if r.IntN(2) == 0 {
		s.DaemonSetPods = append(s.DaemonSetPods, pod("ds").req("100m", "128Mi").obj())
	}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	s.StorageClasses = []*storagev1.StorageClass{{ObjectMeta: metav1.ObjectMeta{Name: "zonal"}, VolumeBindingMode: &wffc,
		AllowedTopologies: []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: apiv1.ZoneLabelKey, Values: []string{"test-1a", "test-1b"}}}}}}}
	sc := "zonal"
	s.PersistentVolumeClaims = []*corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "zonal", Namespace: "default"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc}}}
	return s
}

// TestRandomPlansAreValid is the property test: whatever the mix, every plan passes the independent validator,
// every pending pod is placed or explained, and the same input gives the same plan.
func TestRandomPlansAreValid(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			r := newRand(seed)
			snap := randomSnapshot(r)
			pods := randomPods(r, 5+r.IntN(120))
			policy := PreferenceCost
			if seed%3 == 0 {
				policy = PreferenceRespect
			}
			res := solve(t, snap, pods, Options{Preferences: policy})
			again := solve(t, snap, pods, Options{Preferences: policy})
			if fmt.Sprint(summary(res)) != fmt.Sprint(summary(again)) {
				t.Errorf("not deterministic")
			}
			t.Logf("placed %d of %d pods on %d new nodes, %d unschedulable", res.PodCount(), len(pods), len(res.NodeClaims), len(res.Unschedulable))
			for _, u := range res.Unschedulable {
				if len(u.Reasons) == 0 {
					t.Errorf("pod %s unschedulable without a reason", u.Pod.Name)
				}
			}
		})
	}
}
