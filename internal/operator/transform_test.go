package operator

import (
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
			Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
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
	// Of the conditions, PodScheduled (what the kube-scheduler said) and Ready (when the pod started) are read.
	want.Status.Conditions = []corev1.PodCondition{want.Status.Conditions[1], want.Status.Conditions[3]}
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

// TestCachedPodsShareStrings: two pods of one workload on one node keep one copy of the strings they share, and
// their values are unchanged.
func TestCachedPodsShareStrings(t *testing.T) {
	a, b := admittedPod(1), admittedPod(2)
	b.Spec.NodeName = a.Spec.NodeName
	wantA, wantB := a.DeepCopy(), b.DeepCopy()
	// Decoded pods have strings of their own: copy each field's bytes as the decoder would.
	for _, p := range []*corev1.Pod{a, b} {
		p.Namespace, p.Spec.NodeName = strings.Clone(p.Namespace), strings.Clone(p.Spec.NodeName)
		p.Labels = map[string]string{strings.Clone("app"): strings.Clone("scale"), "pod-template-hash": "5f8d7c9b4"}
		p.Spec.Containers[0].Image = strings.Clone(p.Spec.Containers[0].Image)
	}
	for _, p := range []*corev1.Pod{a, b} {
		if _, err := stripForCache()(p); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what, x, y string) {
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: the two pods keep a copy each of %q", what, x)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("node", a.Spec.NodeName, b.Spec.NodeName)
	same("image", a.Spec.Containers[0].Image, b.Spec.Containers[0].Image)
	same("label value", a.Labels["app"], b.Labels["app"])
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Error("the two pods keep a labels map each")
	}
	if ra, rb := a.Spec.Containers[0].Resources.Requests, b.Spec.Containers[0].Resources.Requests; reflect.ValueOf(ra).UnsafePointer() != reflect.ValueOf(rb).UnsafePointer() {
		t.Error("the two pods keep a requests map each")
	}
	for _, w := range []*corev1.Pod{wantA, wantB} {
		w.Status.Conditions = []corev1.PodCondition{w.Status.Conditions[2], w.Status.Conditions[4]} // Ready, PodScheduled
		stripStatuses(w.Status.ContainerStatuses)
		stripContainer(&w.Spec.Containers[0])
	}
	if !equality.Semantic.DeepEqual(a, wantA) || !equality.Semantic.DeepEqual(b, wantB) {
		t.Errorf("interning changed a value:\n got %+v\nwant %+v", a, wantA)
	}
}

// admittedPod is a pod as the API server holds it once a Deployment's ReplicaSet made it, the admission plugins
// defaulted it, the kube-scheduler bound it and its kubelet runs it: what most of a large cluster's pods look like.
func admittedPod(i int) *corev1.Pod {
	started := metav1.NewTime(time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC))
	cond := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: started}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("scale-5f8d7c9b4-%05d", i), GenerateName: "scale-5f8d7c9b4-", Namespace: "scale",
			UID: types.UID(fmt.Sprintf("0b5c3f1e-7d2a-4c8e-9f10-%012d", i)), ResourceVersion: strconv.Itoa(100000 + i),
			CreationTimestamp: started, Labels: map[string]string{"app": "scale", "pod-template-hash": "5f8d7c9b4"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "scale-5f8d7c9b4",
				UID: "6a1d2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c4d", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("380m"), corev1.ResourceMemory: resource.MustParse("256Mi")}},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy: corev1.PullIfNotPresent}},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, ServiceAccountName: "default",
			NodeName: fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", i/250, i%250), SchedulerName: corev1.DefaultSchedulerName,
			PriorityClassName: "scale", Priority: ptr.To[int32](0), PreemptionPolicy: ptr.To(corev1.PreemptNever),
			EnableServiceLinks: ptr.To(true), TerminationGracePeriodSeconds: ptr.To[int64](0),
			Tolerations: []corev1.Toleration{
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{cond(corev1.PodReadyToStartContainers), cond(corev1.PodInitialized), cond(corev1.PodReady), cond(corev1.ContainersReady), cond(corev1.PodScheduled)},
			HostIP:     "10.0.1.7", HostIPs: []corev1.HostIP{{IP: "10.0.1.7"}},
			PodIP: fmt.Sprintf("10.244.%d.%d", i/250, i%250), PodIPs: []corev1.PodIP{{IP: fmt.Sprintf("10.244.%d.%d", i/250, i%250)}},
			StartTime: &started, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "pause", Image: "registry.k8s.io/pause:3.10", ImageID: "sha256:873ed7510279",
				ContainerID: "containerd://" + strconv.Itoa(i), Ready: true, Started: ptr.To(true),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}},
		},
	}
}

// BenchmarkCachedPodBytes reports the heap a cached pod holds (B/pod): pods decoded from the API server's protobuf,
// as the informers decode them, then passed through the cache's transform. At 20,000 pods the pods were about half
// the controller's live heap.
func BenchmarkCachedPodBytes(b *testing.B) {
	const n = 5000
	raw := make([][]byte, n)
	for i := range raw {
		var err error
		if raw[i], err = admittedPod(i).Marshal(); err != nil {
			b.Fatal(err)
		}
	}
	transform := stripForCache()
	var perPod float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		pods := make([]any, n)
		for i := range raw {
			p := &corev1.Pod{}
			if err := p.Unmarshal(raw[i]); err != nil {
				b.Fatal(err)
			}
			obj, err := transform(p)
			if err != nil {
				b.Fatal(err)
			}
			pods[i] = obj
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perPod = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(pods)
	}
	b.ReportMetric(perPod, "B/pod")
}
