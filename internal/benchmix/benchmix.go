// Package benchmix writes the diverse benchmark mix of docs/performance.md as Deployments, so that `tailor
// simulate` can plan the same pods the internal/scheduling benchmarks time. Pods that the generator makes alike (same
// shape, same constraint, same label value) become one Deployment; expanded, the Deployments hold exactly the pods
// of the benchmark's generator (a test in internal/scheduling compares them), in another order and under other names.
package benchmix

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// The shapes the benchmark draws from, cpu first, then memory, one pair per pod.
var (
	CPU    = []string{"100m", "250m", "500m", "1", "1500m"}
	Memory = []string{"100Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}
)

// diverseSeed is the seed of the benchmark's diverse mix.
const diverseSeed = 4

// Mixes are the names Diverse answers to.
const (
	MixDiverse          = "diverse"
	MixDiversePreferred = "diverse-preferred"
)

// Diverse returns n pods of the diverse mix as Deployments in the default namespace. The mix is in equal fifths:
// none; zone spread; hostname spread (maxSkew 1, selector on a label with 7 values); zone pod affinity to pods
// sharing one of 7 label values; hostname anti-affinity among all pods of the fifth. With preferred every
// constraint is soft (ScheduleAnyway, preferred terms of weight 100); otherwise every one is required.
func Diverse(n int, preferred bool) []*appsv1.Deployment {
	r := rand.New(rand.NewPCG(diverseSeed, diverseSeed*7919+1))
	var out []*appsv1.Deployment
	byName := map[string]*appsv1.Deployment{}
	for i := range n {
		cpu, mem := CPU[r.IntN(len(CPU))], Memory[r.IntN(len(Memory))]
		fifth, v := i*5/n, fmt.Sprint("v", i%7)
		group := []string{"plain", "zs-" + v, "hs-" + v, "za-" + v, "ha"}[fifth]
		name := strings.ToLower(fmt.Sprintf("mix-%s-%s-%s", group, cpu, mem))
		if d := byName[name]; d != nil {
			*d.Spec.Replicas++
			continue
		}
		d := deployment(name, cpu, mem, fifth, v, preferred)
		byName[name] = d
		out = append(out, d)
	}
	return out
}

func deployment(name, cpu, mem string, fifth int, v string, preferred bool) *appsv1.Deployment {
	one := int32(1)
	labels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
	}}}}
	when := corev1.DoNotSchedule
	if preferred {
		when = corev1.ScheduleAnyway
	}
	spread := func(key, label string) {
		labels[label] = v
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: key, WhenUnsatisfiable: when,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: v}}}}
	}
	switch fifth {
	case 1:
		spread(apiv1.ZoneLabelKey, "zs")
	case 2:
		spread(apiv1.HostnameLabelKey, "hs")
	case 3:
		labels["za"] = v
		term := corev1.PodAffinityTerm{TopologyKey: apiv1.ZoneLabelKey, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"za": v}}}
		a := &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
		if preferred {
			a = &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}
		}
		spec.Affinity = &corev1.Affinity{PodAffinity: a}
	case 4:
		labels["ha"] = "all"
		term := corev1.PodAffinityTerm{TopologyKey: apiv1.HostnameLabelKey, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"ha": "all"}}}
		a := &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
		if preferred {
			a = &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100, PodAffinityTerm: term}}}
		}
		spec.Affinity = &corev1.Affinity{PodAntiAffinity: a}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// Generate returns the named mix of n pods.
func Generate(mix string, n int) ([]*appsv1.Deployment, error) {
	if n <= 0 {
		return nil, fmt.Errorf("pods is %d: give a positive number of pods (gen-mix -pods)", n)
	}
	switch mix {
	case MixDiverse:
		return Diverse(n, false), nil
	case MixDiversePreferred:
		return Diverse(n, true), nil
	}
	return nil, fmt.Errorf("unknown mix %q: use %s or %s (gen-mix -mix)", mix, MixDiverse, MixDiversePreferred)
}

// WriteYAML writes the Deployments as one multi-document YAML stream.
func WriteYAML(w io.Writer, deps []*appsv1.Deployment) error {
	for _, d := range deps {
		b, err := yaml.Marshal(d)
		if err != nil {
			return fmt.Errorf("deployment %s: %w", d.Name, err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
