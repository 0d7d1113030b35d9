package scheduling

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

var testZones = []string{"test-1a", "test-1b", "test-1c"}

// itBuilder builds instance types for tests: on-demand price as given, spot at 40% in every test zone.
type itBuilder struct{ it *cloudprovider.InstanceType }

func instanceType(name string, cpu int64, memGi int64, onDemand float64) *itBuilder {
	family, size, _ := strings.Cut(name, ".")
	it := &cloudprovider.InstanceType{
		Name: name,
		Labels: map[string]string{
			apiv1.ArchLabelKey:             "amd64",
			apiv1.OSLabelKey:               "linux",
			apiv1.InstanceTypeLabelKey:     name,
			apiv1.InstanceFamilyLabelKey:   family,
			apiv1.InstanceSizeLabelKey:     size,
			apiv1.InstanceCPULabelKey:      fmt.Sprint(cpu),
			apiv1.InstanceMemoryLabelKey:   fmt.Sprint(memGi * 1024),
			apiv1.InstanceCategoryLabelKey: family[:1],
		},
		Capacity: corev1.ResourceList{
			corev1.ResourceCPU:              *resource.NewQuantity(cpu, resource.DecimalSI),
			corev1.ResourceMemory:           *resource.NewQuantity(memGi<<30, resource.BinarySI),
			corev1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
			corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"),
		},
	}
	for _, z := range testZones {
		it.Offerings = append(it.Offerings,
			cloudprovider.Offering{Zone: z, CapacityType: apiv1.CapacityTypeOnDemand, PricePerHour: onDemand, Available: true},
			cloudprovider.Offering{Zone: z, CapacityType: apiv1.CapacityTypeSpot, PricePerHour: onDemand * 0.4, Available: true})
	}
	return &itBuilder{it: it}
}

func (b *itBuilder) obj() *cloudprovider.InstanceType { return b.it }

// smallCatalog is a few families in doubling sizes with linear prices.
func smallCatalog() []*cloudprovider.InstanceType {
	var out []*cloudprovider.InstanceType
	families := []struct {
		name      string
		memPerCPU int64
		price     float64 // per vCPU-hour
	}{{"c6", 2, 0.0425}, {"m6", 4, 0.048}, {"r6", 8, 0.063}}
	for _, f := range families {
		for _, size := range []struct {
			name string
			cpu  int64
		}{{"large", 2}, {"xlarge", 4}, {"2xlarge", 8}, {"4xlarge", 16}, {"8xlarge", 32}} {
			out = append(out, instanceType(f.name+"."+size.name, size.cpu, size.cpu*f.memPerCPU, f.price*float64(size.cpu)).obj())
		}
	}
	return out
}

type poolBuilder struct{ np *NodePool }

func nodePool(name string, types ...*cloudprovider.InstanceType) *poolBuilder {
	return &poolBuilder{np: &NodePool{Name: name, InstanceTypes: types}}
}
func (b *poolBuilder) weight(w int32) *poolBuilder { b.np.Weight = w; return b }
func (b *poolBuilder) require(reqs ...Requirement) *poolBuilder {
	b.np.Requirements = b.np.Requirements.Intersect(MustRequirements(reqs...))
	return b
}
func (b *poolBuilder) taint(key, value string, effect corev1.TaintEffect) *poolBuilder {
	b.np.Taints = append(b.np.Taints, corev1.Taint{Key: key, Value: value, Effect: effect})
	return b
}
func (b *poolBuilder) limit(name corev1.ResourceName, q string) *poolBuilder {
	if b.np.Limits == nil {
		b.np.Limits = corev1.ResourceList{}
	}
	b.np.Limits[name] = resource.MustParse(q)
	return b
}
func (b *poolBuilder) obj() *NodePool { return b.np }

type podBuilder struct{ p *corev1.Pod }

func pod(name string) *podBuilder {
	return &podBuilder{p: &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}}}}},
	}}
}

func (b *podBuilder) req(cpu, mem string) *podBuilder {
	r := b.p.Spec.Containers[0].Resources.Requests
	if cpu != "" {
		r[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		r[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return b
}
func (b *podBuilder) label(k, v string) *podBuilder { b.p.Labels[k] = v; return b }
func (b *podBuilder) selector(k, v string) *podBuilder {
	if b.p.Spec.NodeSelector == nil {
		b.p.Spec.NodeSelector = map[string]string{}
	}
	b.p.Spec.NodeSelector[k] = v
	return b
}
func (b *podBuilder) affinity() *corev1.Affinity {
	if b.p.Spec.Affinity == nil {
		b.p.Spec.Affinity = &corev1.Affinity{}
	}
	return b.p.Spec.Affinity
}

// nodeAffinity adds one required term (terms are ORed).
func (b *podBuilder) nodeAffinity(reqs ...corev1.NodeSelectorRequirement) *podBuilder {
	a := b.affinity()
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}
	}
	sel := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	sel.NodeSelectorTerms = append(sel.NodeSelectorTerms, corev1.NodeSelectorTerm{MatchExpressions: reqs})
	return b
}
func (b *podBuilder) preferNode(weight int32, reqs ...corev1.NodeSelectorRequirement) *podBuilder {
	a := b.affinity()
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		corev1.PreferredSchedulingTerm{Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: reqs}})
	return b
}
func (b *podBuilder) tolerate(key, value string) *podBuilder {
	op := corev1.TolerationOpEqual
	if value == "" {
		op = corev1.TolerationOpExists
	}
	b.p.Spec.Tolerations = append(b.p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: op, Value: value})
	return b
}
func (b *podBuilder) hostPort(port int32) *podBuilder {
	b.p.Spec.Containers[0].Ports = append(b.p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port})
	return b
}
func (b *podBuilder) spread(key string, maxSkew int32, when corev1.UnsatisfiableConstraintAction, sel map[string]string) *podBuilder {
	b.p.Spec.TopologySpreadConstraints = append(b.p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
	})
	return b
}
func (b *podBuilder) podAffinity(key string, sel map[string]string) *podBuilder {
	a := b.affinity()
	if a.PodAffinity == nil {
		a.PodAffinity = &corev1.PodAffinity{}
	}
	a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}})
	return b
}
func (b *podBuilder) antiAffinity(key string, sel map[string]string) *podBuilder {
	a := b.affinity()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}})
	return b
}
func (b *podBuilder) preferAnti(weight int32, key string, sel map[string]string) *podBuilder {
	a := b.affinity()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: sel}}})
	return b
}
func (b *podBuilder) pvc(claim string) *podBuilder {
	b.p.Spec.Volumes = append(b.p.Spec.Volumes, corev1.Volume{Name: claim, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
	return b
}
func (b *podBuilder) obj() *corev1.Pod { return b.p }

// replicas makes n copies of a pod named prefix-i.
func replicas(n int, prefix string, build func(name string) *podBuilder) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, n)
	for i := range n {
		out = append(out, build(fmt.Sprintf("%s-%d", prefix, i)).obj())
	}
	return out
}

func nsr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// existingNode builds a node with the given allocatable and labels (hostname and zone set).
func existingNode(name, zone string, cpu, mem string, pods ...*corev1.Pod) *ExistingNode {
	for _, p := range pods {
		p.Spec.NodeName = name
	}
	return &ExistingNode{
		Name:   name,
		Labels: map[string]string{apiv1.HostnameLabelKey: name, apiv1.ZoneLabelKey: zone, apiv1.ArchLabelKey: "amd64", apiv1.OSLabelKey: "linux"},
		Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem), corev1.ResourcePods: resource.MustParse("110"),
		},
		Pods: pods,
	}
}
