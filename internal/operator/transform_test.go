package operator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/tailor-sh/tailor/internal/scheduling"
)

// richPod is a pod with a bit of everything a workload carries: what scheduling reads and what it does not.
func richPod() *corev1.Pod {
	req := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}
	container := func(name string) corev1.Container {
		return corev1.Container{
			Name: name, Image: "registry.example/app:1", Command: []string{"/app"}, Args: []string{"--serve"},
			Env:            []corev1.EnvVar{{Name: "MODE", Value: "production"}},
			EnvFrom:        []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			Ports:          []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP}},
			Resources:      req,
			VolumeMounts:   []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets"}},
			LivenessProbe:  probe,
			ReadinessProbe: probe,
		}
	}
	sidecar := container("proxy")
	sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "app-0", Namespace: "default", Labels: map[string]string{"app": "web"},
			Annotations:     map[string]string{"tailor.sh/do-not-disrupt": "true"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app", UID: "rs"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate}},
		},
		Spec: corev1.PodSpec{
			InitContainers:      []corev1.Container{sidecar},
			Containers:          []corev1.Container{container("app")},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}},
			Overhead:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")},
			NodeSelector:        map[string]string{"kubernetes.io/arch": "arm64"},
			Tolerations:         []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
			Volumes: []corev1.Volume{
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
				{Name: "legacy", VolumeSource: corev1.VolumeSource{AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "vol-1"}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
		Status: corev1.PodStatus{
			Phase:             corev1.PodRunning,
			NominatedNodeName: "node-a",
			Conditions:        []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Image: "registry.example/app:1", ImageID: "sha256:abc", ContainerID: "containerd://1", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
			}},
		},
	}
}

// The cache keeps of a pod exactly what scheduling, disruption and termination read: the test spells out what goes,
// and everything else must be untouched.
func TestStripPodKeepsWhatTailorReads(t *testing.T) {
	orig := richPod()
	got, err := stripForCache()(orig.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	pod := got.(*corev1.Pod)

	want := orig.DeepCopy()
	want.ManagedFields = nil
	want.Spec.EphemeralContainers = nil
	for _, cs := range [][]corev1.Container{want.Spec.InitContainers, want.Spec.Containers} {
		for i := range cs {
			cs[i].Command, cs[i].Args, cs[i].Env, cs[i].EnvFrom = nil, nil, nil, nil
			cs[i].VolumeMounts, cs[i].LivenessProbe, cs[i].ReadinessProbe = nil, nil, nil
		}
	}
	want.Spec.Volumes = want.Spec.Volumes[4:] // the projected, secret, config map and downward API volumes go
	want.Status.ContainerStatuses[0].Image, want.Status.ContainerStatuses[0].ImageID, want.Status.ContainerStatuses[0].ContainerID = "", "", ""
	if !equality.Semantic.DeepEqual(pod, want) {
		t.Fatalf("stripped pod differs from what should be kept:\n got %+v\nwant %+v", pod, want)
	}

	// What the simulator reads of it did not change.
	if a, b := scheduling.PodRequests(orig), scheduling.PodRequests(pod); !equality.Semantic.DeepEqual(a, b) {
		t.Errorf("requests changed by stripping: %v, was %v", b, a)
	}
	if pod.Spec.Containers[0].Ports[0].HostPort != 8080 {
		t.Errorf("host port lost: %+v", pod.Spec.Containers[0].Ports)
	}

	// Stripping a stripped pod changes nothing (an informer's resync runs it on what it holds).
	again, _ := stripForCache()(pod.DeepCopy())
	if !equality.Semantic.DeepEqual(again, pod) {
		t.Error("stripping twice differs from stripping once")
	}
}

func TestStripNodeDropsOnlyImages(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"a": "b"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1", Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Images:      []corev1.ContainerImage{{Names: []string{"registry.example/app:1"}, SizeBytes: 1 << 20}},
		},
	}
	got, err := stripForCache()(node.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := node.DeepCopy()
	want.ManagedFields, want.Status.Images = nil, nil
	if !equality.Semantic.DeepEqual(got, want) {
		t.Fatalf("stripped node:\n got %+v\nwant %+v", got, want)
	}
}
