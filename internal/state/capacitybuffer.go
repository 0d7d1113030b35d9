package state

import (
	"context"
	"errors"
	"fmt"
	"math"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// MaxBufferPods caps the virtual pods of one CapacityBuffer, whatever its spec asks: each is planned like a pod.
const MaxBufferPods = 1000

// Buffer is one CapacityBuffer resolved: the virtual pods Tailor keeps room for, or why it keeps none.
type Buffer struct {
	Buffer *apiv1.CapacityBuffer
	// Pods are the virtual pods, one per chunk; empty when Problem is set.
	Pods []*corev1.Pod
	// Replicas is how many chunks the spec resolved to.
	Replicas int32
	// TemplateGeneration is the generation of the PodTemplate or workload the chunks came from, if any.
	TemplateGeneration *int64
	// Reason (a CamelCase condition reason) and Problem say why the buffer keeps no room.
	Reason  string
	Problem error
}

// Ready tells whether the buffer resolved.
func (b *Buffer) Ready() bool { return b.Problem == nil }

// BufferPods are the virtual pods of every resolved buffer, in the buffers' order.
func BufferPods(buffers []*Buffer) []*corev1.Pod {
	var out []*corev1.Pod
	for _, b := range buffers {
		out = append(out, b.Pods...)
	}
	return out
}

// BufferOf is the buffer a virtual pod belongs to, by namespace and name; ok is false for a real pod.
func BufferOf(p *corev1.Pod) (types.NamespacedName, bool) {
	name, ok := p.Labels[apiv1.CapacityBufferLabelKey]
	return types.NamespacedName{Namespace: p.Namespace, Name: name}, ok
}

// ReadBuffers lists every CapacityBuffer and resolves each (see ResolveBuffer).
func ReadBuffers(ctx context.Context, kube client.Reader) ([]*Buffer, error) {
	var list apiv1.CapacityBufferList
	if err := ListOptional(ctx, kube, &list); err != nil {
		return nil, err
	}
	out := make([]*Buffer, 0, len(list.Items))
	for i := range list.Items {
		b, err := ResolveBuffer(ctx, kube, &list.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// ResolveBuffer reads what a CapacityBuffer refers to (its PodTemplate or workload) and turns it into virtual pods.
// A missing reference or a spec that cannot be met is reported in the Buffer (Reason, Problem), not as an error;
// the error is for a failed read.
func ResolveBuffer(ctx context.Context, kube client.Reader, cb *apiv1.CapacityBuffer) (*Buffer, error) {
	b := &Buffer{Buffer: cb}
	if !cb.DeletionTimestamp.IsZero() {
		b.Reason, b.Problem = apiv1.CapacityBufferReasonInvalid, errors.New("the buffer is being deleted")
		return b, nil
	}
	var (
		template    *corev1.PodTemplateSpec
		workloadNum *int32
	)
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: cb.Namespace, Name: name} }
	switch spec := cb.Spec; {
	case spec.PodTemplateRef != nil:
		var pt corev1.PodTemplate
		if err := kube.Get(ctx, key(spec.PodTemplateRef.Name), &pt); err != nil {
			return b, b.missing(err, apiv1.CapacityBufferReasonTemplateNotFound,
				fmt.Sprintf("spec.podTemplateRef: PodTemplate %s/%s", cb.Namespace, spec.PodTemplateRef.Name))
		}
		template, b.TemplateGeneration = &pt.Template, ptr.To(pt.Generation)
	case spec.ScalableRef != nil:
		obj, tmpl, replicas := scalable(spec.ScalableRef.Kind)
		if obj == nil {
			b.Reason, b.Problem = apiv1.CapacityBufferReasonInvalid,
				fmt.Errorf("spec.scalableRef.kind %q: Tailor reads Deployment, StatefulSet or ReplicaSet", spec.ScalableRef.Kind)
			return b, nil
		}
		if err := kube.Get(ctx, key(spec.ScalableRef.Name), obj); err != nil {
			return b, b.missing(err, apiv1.CapacityBufferReasonScalableNotFound,
				fmt.Sprintf("spec.scalableRef: %s %s/%s", spec.ScalableRef.Kind, cb.Namespace, spec.ScalableRef.Name))
		}
		template, workloadNum, b.TemplateGeneration = tmpl(), replicas(), ptr.To(obj.GetGeneration())
	}
	generation := b.TemplateGeneration
	b = BufferFrom(cb, template, workloadNum)
	b.TemplateGeneration = generation
	return b, nil
}

// BufferFrom resolves a buffer whose references were read already: template is the PodTemplate's or the workload's
// pod template (nil for a buffer of spec.resources) and workloadReplicas the workload's spec.replicas (nil without
// scalableRef). tailor simulate calls it with what the manifests hold.
func BufferFrom(cb *apiv1.CapacityBuffer, template *corev1.PodTemplateSpec, workloadReplicas *int32) *Buffer {
	b := &Buffer{Buffer: cb}
	if template == nil {
		if len(cb.Spec.Resources) == 0 {
			b.Reason, b.Problem = apiv1.CapacityBufferReasonInvalid,
				errors.New("spec: set one of podTemplateRef, scalableRef or resources")
			return b
		}
		template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "buffer", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: cb.Spec.Resources.DeepCopy()},
		}}}}
	}
	n, err := BufferReplicas(cb.Spec, workloadReplicas, scheduling.PodRequests(&corev1.Pod{Spec: template.Spec}))
	if err != nil {
		b.Reason, b.Problem = apiv1.CapacityBufferReasonInvalid, err
		return b
	}
	b.Replicas = n
	for i := range n {
		b.Pods = append(b.Pods, VirtualPod(cb, template, int(i)))
	}
	return b
}

// missing records a reference that is not there (NotFound) on the buffer; any other error is returned.
func (b *Buffer) missing(err error, reason, what string) error {
	if apierrors.IsNotFound(err) {
		b.Reason, b.Problem = reason, fmt.Errorf("%s does not exist: create it or fix the reference", what)
		return nil
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// scalable returns an empty object of a workload kind with accessors to its pod template and replicas.
func scalable(kind string) (client.Object, func() *corev1.PodTemplateSpec, func() *int32) {
	switch kind {
	case "Deployment":
		d := &appsv1.Deployment{}
		return d, func() *corev1.PodTemplateSpec { return &d.Spec.Template }, func() *int32 { return replicasOr1(d.Spec.Replicas) }
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		return s, func() *corev1.PodTemplateSpec { return &s.Spec.Template }, func() *int32 { return replicasOr1(s.Spec.Replicas) }
	case "ReplicaSet":
		r := &appsv1.ReplicaSet{}
		return r, func() *corev1.PodTemplateSpec { return &r.Spec.Template }, func() *int32 { return replicasOr1(r.Spec.Replicas) }
	}
	return nil, nil, nil
}

// replicasOr1 is a workload's spec.replicas, which the API server defaults to 1.
func replicasOr1(r *int32) *int32 {
	if r == nil {
		return ptr.To[int32](1)
	}
	return r
}

// BufferReplicas is how many chunks of size chunk a buffer keeps: the larger of spec.replicas and spec.percentage of
// the workload's replicas (rounded up, at least one), never more than fit in spec.limits; with neither replicas nor
// percentage, as many as fit in spec.limits. At most MaxBufferPods.
func BufferReplicas(spec apiv1.CapacityBufferSpec, workloadReplicas *int32, chunk scheduling.Resources) (int32, error) {
	n := int64(-1)
	if spec.Replicas != nil {
		n = int64(*spec.Replicas)
	}
	if spec.Percentage != nil {
		if workloadReplicas == nil {
			return 0, errors.New("spec.percentage needs spec.scalableRef: a share of a workload's replicas")
		}
		p := int64(math.Ceil(float64(*spec.Percentage) * float64(*workloadReplicas) / 100))
		if *spec.Percentage > 0 && p < 1 {
			p = 1
		}
		n = max(n, p)
	}
	if len(spec.Limits) > 0 {
		fit := int64(math.MaxInt64)
		limits := scheduling.ResourcesFrom(spec.Limits)
		for name := range spec.Limits {
			if per := chunk.Get(name); per > 0 {
				fit = min(fit, limits.Get(name)/per)
			}
		}
		if fit == math.MaxInt64 {
			return 0, errors.New("spec.limits: no resource it lists is requested by a chunk, so it cannot bound the count")
		}
		if n < 0 || fit < n {
			n = fit
		}
	}
	if n < 0 {
		return 0, errors.New("spec: set replicas, percentage (with scalableRef) or limits")
	}
	return int32(min(n, MaxBufferPods)), nil
}

// VirtualPod is chunk i of a buffer: the template's pod in the buffer's namespace, labelled with
// apiv1.CapacityBufferLabelKey, pending, with a UID of its own. Nothing creates it.
func VirtualPod(cb *apiv1.CapacityBuffer, template *corev1.PodTemplateSpec, i int) *corev1.Pod {
	labels := map[string]string{}
	for k, v := range template.Labels {
		labels[k] = v
	}
	labels[apiv1.CapacityBufferLabelKey] = cb.Name
	name := fmt.Sprintf("capacitybuffer-%s-%d", cb.Name, i)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: cb.Namespace,
			UID:       types.UID(fmt.Sprintf("capacitybuffer/%s/%s/%d", cb.Namespace, cb.Name, i)),
			Labels:    labels,
		},
		Spec:   *template.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

// bufferClaimPods is the pod count an unlaunched NodeClaim held for buffers offers: the kubelet's default maxPods.
const bufferClaimPods = 110

// bufferClaimRequests is the room an unlaunched NodeClaim offers in the plan: its requests, but for a NodeClaim
// launched to hold buffer room with bufferClaimPods pod slots (at least those requested). A buffer chunk of 8 CPU asked
// for one pod slot; the real pods that take its room first are several smaller pods, which the CPU and memory
// requests bound already. Once launched, the instance's allocatable counts instead.
func bufferClaimRequests(nc *apiv1.NodeClaim) corev1.ResourceList {
	if nc.Annotations[apiv1.CapacityBuffersAnnotationKey] == "" {
		return nc.Spec.Resources.Requests
	}
	out := nc.Spec.Resources.Requests.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	if pods, ok := out[corev1.ResourcePods]; !ok || pods.Value() < bufferClaimPods {
		out[corev1.ResourcePods] = *resource.NewQuantity(bufferClaimPods, resource.DecimalSI)
	}
	return out
}
