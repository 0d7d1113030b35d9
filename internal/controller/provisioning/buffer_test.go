package provisioning

import (
	"context"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// buffer creates a CapacityBuffer of replicas chunks of cpu in the fixture's namespace, deleted when the test ends
// (every Read sees every namespace's buffers).
func (f *fixture) buffer(name, cpu string, replicas int32) *apiv1.CapacityBuffer {
	f.t.Helper()
	cb := &apiv1.CapacityBuffer{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: apiv1.CapacityBufferSpec{
			Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
			Replicas:  ptr.To(replicas),
		},
	}
	if err := f.kube.Create(f.t.Context(), cb); err != nil {
		f.t.Fatalf("creating capacitybuffer: %v", err)
	}
	f.t.Cleanup(func() { _ = f.kube.Delete(context.WithoutCancel(f.t.Context()), cb) })
	return cb
}

// bufferProvisioned is a NodePool of m5 sizes with an 8-CPU buffer of one chunk, provisioned once: it returns the
// fixture and the NodeClaims, exactly one (the buffer's).
func bufferProvisioned(t *testing.T) (*fixture, []apiv1.NodeClaim) {
	t.Helper()
	f := newFixture(t, "m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge")
	f.nodePool("default", nil)
	f.buffer("room", "8", 1)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	claims := f.nodeClaims()
	if len(claims) != 1 {
		t.Fatalf("created %d nodeclaims for the buffer, want 1", len(claims))
	}
	return f, claims
}

// TestBufferProvisionsRoom: a buffer with nothing pending buys a node for its room, once; real pods then take that
// room first (nominated to the buffer's NodeClaim) and the buffer gets a new NodeClaim.
func TestBufferProvisionsRoom(t *testing.T) {
	f, claims := bufferProvisioned(t)
	bufferClaim := claims[0].Name
	if cpu := claims[0].Spec.Resources.Requests[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("8")) < 0 {
		t.Errorf("buffer nodeclaim requests %s cpu, want at least 8", cpu.String())
	}
	events := strings.Join(f.drainEvents(), "\n")
	if !strings.Contains(events, ReasonBufferProvisioned) || !strings.Contains(events, bufferClaim) {
		t.Errorf("events %q: want %s naming %s", events, ReasonBufferProvisioned, bufferClaim)
	}

	// The buffer's room is held by the in-flight NodeClaim: nothing more is bought.
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.nodeClaims()); n != 1 {
		t.Fatalf("%d nodeclaims after a second batch, want still 1", n)
	}

	// The instance launches (status.allocatable as the nodeclaim controller writes it: 16 vCPU); four real 3-CPU
	// pods take the buffer's room first, leaving less than its 8 CPU, so the buffer is bought again.
	launched := claims[0].DeepCopy()
	launched.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("15890m"),
		corev1.ResourceMemory: resource.MustParse("57Gi"), corev1.ResourcePods: resource.MustParse("234")}
	if err := f.kube.Status().Update(t.Context(), launched); err != nil {
		t.Fatal(err)
	}
	pods := f.pendingPods(4, "3", nil)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if got, ok := f.provisioner.cluster.Nominations().Nomination(p); !ok || got != bufferClaim {
			t.Errorf("pod %s nominated to %q, want the buffer's nodeclaim %s", p.Name, got, bufferClaim)
		}
	}
	claims = f.nodeClaims()
	if len(claims) != 2 {
		t.Fatalf("%d nodeclaims, want the buffer's first and one that restores it", len(claims))
	}
	for _, nc := range claims {
		if got := nc.Annotations[apiv1.CapacityBuffersAnnotationKey]; got != f.ns+"/room" {
			t.Errorf("nodeclaim %s: %s = %q, want %s/room", nc.Name, apiv1.CapacityBuffersAnnotationKey, got, f.ns)
		}
	}
	m := &dto.Metric{}
	if err := bufferLaunches.WithLabelValues(f.ns, "room").Write(m); err != nil || m.GetCounter().GetValue() != 2 {
		t.Errorf("tailor_capacitybuffer_launches_total = %v (%v), want 2", m.GetCounter().GetValue(), err)
	}
	m = &dto.Metric{}
	if err := bufferPods.WithLabelValues(f.ns, "room").Write(m); err != nil || m.GetGauge().GetValue() != 1 {
		t.Errorf("tailor_capacitybuffer_pods = %v (%v), want 1", m.GetGauge().GetValue(), err)
	}
}

// TestRealPodsTakeLaunchingBufferRoom: while the buffer's NodeClaim is still launching, real pods planned then take its
// room first (its one pod slot for the 8 CPU chunk does not hold them back) and the buffer gets a new NodeClaim.
func TestRealPodsTakeLaunchingBufferRoom(t *testing.T) {
	f, claims := bufferProvisioned(t)
	pods := f.pendingPods(4, "1", nil)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if got, ok := f.provisioner.cluster.Nominations().Nomination(p); !ok || got != claims[0].Name {
			t.Errorf("pod %s nominated to %q, want the buffer's launching nodeclaim %s", p.Name, got, claims[0].Name)
		}
	}
	if n := len(f.nodeClaims()); n != 2 {
		t.Errorf("%d nodeclaims, want the buffer's first and one that restores it", n)
	}
}
