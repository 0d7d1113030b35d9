package state

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// TestBufferReplicas: replicas, a percentage of the workload (rounded up, at least one, the larger of the two) and
// limits (a cap, or the count when nothing else is set).
func TestBufferReplicas(t *testing.T) {
	cpu := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(s)}
	}
	chunk := scheduling.ResourcesFrom(cpu("2"))
	cases := []struct {
		name     string
		spec     apiv1.CapacityBufferSpec
		workload *int32
		want     int32
		wantErr  bool
	}{
		{"replicas", apiv1.CapacityBufferSpec{Replicas: ptr.To[int32](3)}, nil, 3, false},
		{"percentage rounds up", apiv1.CapacityBufferSpec{Percentage: ptr.To[int32](20)}, ptr.To[int32](11), 3, false},
		{"percentage at least one", apiv1.CapacityBufferSpec{Percentage: ptr.To[int32](1)}, ptr.To[int32](2), 1, false},
		{"larger of replicas and percentage", apiv1.CapacityBufferSpec{Replicas: ptr.To[int32](2), Percentage: ptr.To[int32](50)}, ptr.To[int32](10), 5, false},
		{"limits cap", apiv1.CapacityBufferSpec{Replicas: ptr.To[int32](10), Limits: cpu("7")}, nil, 3, false},
		{"limits alone", apiv1.CapacityBufferSpec{Limits: cpu("16")}, nil, 8, false},
		{"limits on nothing the chunk asks for", apiv1.CapacityBufferSpec{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}}, nil, 0, true},
		{"percentage without a workload", apiv1.CapacityBufferSpec{Percentage: ptr.To[int32](10)}, nil, 0, true},
		{"capped", apiv1.CapacityBufferSpec{Replicas: ptr.To[int32](5000)}, nil, MaxBufferPods, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BufferReplicas(tc.spec, tc.workload, chunk)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("replicas = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestResolveBuffer: a buffer becomes virtual pods shaped like its PodTemplate, its workload's template or its
// resource amount; a missing reference leaves it without pods and says which field to fix (narrow unit test on the
// fake client: resolution only reads).
func TestResolveBuffer(t *testing.T) {
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}, Template: tmpl},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](10), Template: tmpl}},
	).Build()
	buffer := func(spec apiv1.CapacityBufferSpec) *apiv1.CapacityBuffer {
		return &apiv1.CapacityBuffer{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "room"}, Spec: spec}
	}
	cases := []struct {
		name    string
		spec    apiv1.CapacityBufferSpec
		pods    int
		cpu     string
		reason  string
		problem string
	}{
		{"resource amount", apiv1.CapacityBufferSpec{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}, Replicas: ptr.To[int32](1)}, 1, "8", "", ""},
		{"pod template", apiv1.CapacityBufferSpec{PodTemplateRef: &apiv1.LocalObjectReference{Name: "web"}, Replicas: ptr.To[int32](2)}, 2, "1", "", ""},
		{"workload percentage", apiv1.CapacityBufferSpec{ScalableRef: &apiv1.ScalableReference{APIGroup: "apps", Kind: "Deployment", Name: "web"}, Percentage: ptr.To[int32](30)}, 3, "1", "", ""},
		{"missing template", apiv1.CapacityBufferSpec{PodTemplateRef: &apiv1.LocalObjectReference{Name: "gone"}, Replicas: ptr.To[int32](2)}, 0, "", apiv1.CapacityBufferReasonTemplateNotFound, "spec.podTemplateRef: PodTemplate team/gone does not exist"},
		{"missing workload", apiv1.CapacityBufferSpec{ScalableRef: &apiv1.ScalableReference{Kind: "StatefulSet", Name: "web"}, Replicas: ptr.To[int32](1)}, 0, "", apiv1.CapacityBufferReasonScalableNotFound, "spec.scalableRef: StatefulSet team/web does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ResolveBuffer(t.Context(), kube, buffer(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if b.Reason != tc.reason || (tc.problem == "") != (b.Problem == nil) ||
				(b.Problem != nil && !strings.HasPrefix(b.Problem.Error(), tc.problem)) {
				t.Fatalf("reason %q problem %v, want %q %q", b.Reason, b.Problem, tc.reason, tc.problem)
			}
			if len(b.Pods) != tc.pods {
				t.Fatalf("%d virtual pods, want %d", len(b.Pods), tc.pods)
			}
			for i, p := range b.Pods {
				if !scheduling.IsBufferPod(p) || p.Namespace != "team" || p.Spec.NodeName != "" {
					t.Errorf("pod %d = %s/%s labels %v: not a virtual pod of team/room", i, p.Namespace, p.Name, p.Labels)
				}
				if got := scheduling.PodRequests(p).Quantity(corev1.ResourceCPU); got.Cmp(resource.MustParse(tc.cpu)) != 0 {
					t.Errorf("pod %d asks for %s CPU, want %s", i, got.String(), tc.cpu)
				}
				if nn, ok := BufferOf(p); !ok || nn.Name != "room" {
					t.Errorf("BufferOf(pod %d) = %v, %v", i, nn, ok)
				}
			}
		})
	}
}
