package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// manifests is everything tailor simulate read, sorted into kinds.
type manifests struct {
	nodePools      []*apiv1.NodePool
	nodes          []*corev1.Node
	pods           []*corev1.Pod
	daemonSets     []*corev1.Pod
	pvs            []*corev1.PersistentVolume
	pvcs           []*corev1.PersistentVolumeClaim
	storageClasses []*storagev1.StorageClass
	overlays       []apiv1.NodeOverlay
	// volumeLimits are the CSI attach limits of nodes by node name and driver, from CSINode objects.
	volumeLimits map[string]map[string]int64
	ignored      map[string]int
	// buffers are CapacityBuffers; podTemplates (by namespace/name) and workloads (by Kind/namespace/name) are what
	// they may refer to.
	buffers      []*apiv1.CapacityBuffer
	podTemplates map[string]*corev1.PodTemplateSpec
	workloads    map[string]workloadShape
}

// workloadShape is what a buffer reads from a workload: its pod template and replicas.
type workloadShape struct {
	template corev1.PodTemplateSpec
	replicas int32
}

// readManifests reads files and folders (recursively: .yaml, .yml, .json) of multi-document YAML or JSON,
// including kind: List.
func readManifests(paths []string) (*manifests, error) {
	m := &manifests{ignored: map[string]int{}, podTemplates: map[string]*corev1.PodTemplateSpec{}, workloads: map[string]workloadShape{}}
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := m.readFile(f); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func manifestFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading manifests in %s: %w", path, err)
	}
	slices.Sort(out)
	return out, nil
}

func (m *manifests) readFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("reading manifests: %w", err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(f), 4096)
	for doc := 1; ; doc++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		if obj == nil {
			continue
		}
		if err := m.add(obj); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
	}
}

func convert[T any](obj map[string]any) (*T, error) {
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *manifests) add(obj map[string]any) error {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	if strings.HasSuffix(kind, "List") {
		return m.addList(kind, obj)
	}
	read, ok := kindReaders[kind]
	if !ok || (kind == "NodePool" || kind == apiv1.CapacityBufferKind) && !strings.HasPrefix(apiVersion, apiv1.Group+"/") {
		m.ignored[kind]++
		return nil
	}
	if err := read(m, obj); err != nil {
		name := ""
		if md, ok := obj["metadata"].(map[string]any); ok {
			name, _ = md["name"].(string)
		}
		return fmt.Errorf("%s %q: %w", kind, name, err)
	}
	return nil
}

// addList unpacks kind: List (and any *List, such as kubectl get -o json prints).
func (m *manifests) addList(kind string, obj map[string]any) error {
	items, _ := obj["items"].([]any)
	for i, it := range items {
		im, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%s items[%d] is not an object", kind, i)
		}
		if err := m.add(im); err != nil {
			return fmt.Errorf("%s items[%d]: %w", kind, i, err)
		}
	}
	return nil
}

// kindReaders read one kind each into the manifests.
var kindReaders = map[string]func(*manifests, map[string]any) error{
	"NodePool":    reader(func(m *manifests, np *apiv1.NodePool) { m.nodePools = append(m.nodePools, np) }),
	"NodeOverlay": reader(func(m *manifests, o *apiv1.NodeOverlay) { m.overlays = append(m.overlays, *o) }),
	"Node":        reader(func(m *manifests, n *corev1.Node) { m.nodes = append(m.nodes, n) }),
	"Pod": reader(func(m *manifests, p *corev1.Pod) {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			m.pods = append(m.pods, defaultNamespace(p))
		}
	}),
	"Deployment": checkedReader(func(m *manifests, d *appsv1.Deployment) error {
		return m.expand("Deployment", d.Namespace, d.Name, "spec.replicas", d.Spec.Replicas, d.Spec.Template)
	}),
	"ReplicaSet": checkedReader(func(m *manifests, d *appsv1.ReplicaSet) error {
		if len(d.OwnerReferences) > 0 {
			return nil
		}
		return m.expand("ReplicaSet", d.Namespace, d.Name, "spec.replicas", d.Spec.Replicas, d.Spec.Template)
	}),
	"StatefulSet": checkedReader(func(m *manifests, d *appsv1.StatefulSet) error {
		return m.expand("StatefulSet", d.Namespace, d.Name, "spec.replicas", d.Spec.Replicas, d.Spec.Template)
	}),
	"Job": checkedReader(func(m *manifests, d *batchv1.Job) error {
		if len(d.OwnerReferences) > 0 {
			return nil
		}
		return m.expand("Job", d.Namespace, d.Name, "spec.parallelism", d.Spec.Parallelism, d.Spec.Template)
	}),
	"DaemonSet": reader(func(m *manifests, d *appsv1.DaemonSet) {
		m.daemonSets = append(m.daemonSets, podFromTemplate(d.Namespace, d.Name, d.Spec.Template))
	}),
	"PodTemplate": reader(func(m *manifests, t *corev1.PodTemplate) {
		m.podTemplates[namespaced(t.Namespace, t.Name)] = &t.Template
	}),
	apiv1.CapacityBufferKind: reader(func(m *manifests, b *apiv1.CapacityBuffer) {
		if b.Namespace == "" {
			b.Namespace = corev1.NamespaceDefault
		}
		m.buffers = append(m.buffers, b)
	}),
	"PersistentVolume": reader(func(m *manifests, v *corev1.PersistentVolume) { m.pvs = append(m.pvs, v) }),
	"PersistentVolumeClaim": reader(func(m *manifests, v *corev1.PersistentVolumeClaim) {
		if v.Namespace == "" {
			v.Namespace = corev1.NamespaceDefault
		}
		m.pvcs = append(m.pvcs, v)
	}),
	"StorageClass": reader(func(m *manifests, v *storagev1.StorageClass) { m.storageClasses = append(m.storageClasses, v) }),
	"CSINode": reader(func(m *manifests, v *storagev1.CSINode) {
		for _, d := range v.Spec.Drivers {
			if d.Allocatable == nil || d.Allocatable.Count == nil {
				continue // the driver reports no limit: kube-scheduler applies none
			}
			if m.volumeLimits == nil {
				m.volumeLimits = map[string]map[string]int64{}
			}
			if m.volumeLimits[v.Name] == nil {
				m.volumeLimits[v.Name] = map[string]int64{}
			}
			m.volumeLimits[v.Name][d.Name] = int64(*d.Allocatable.Count)
		}
	}),
}

// reader converts an object to T and hands it to keep.
func reader[T any](keep func(*manifests, *T)) func(*manifests, map[string]any) error {
	return checkedReader(func(m *manifests, v *T) error { keep(m, v); return nil })
}

// checkedReader is reader for kinds whose contents can be refused (a workload's replica count).
func checkedReader[T any](keep func(*manifests, *T) error) func(*manifests, map[string]any) error {
	return func(m *manifests, obj map[string]any) error {
		v, err := convert[T](obj)
		if err != nil {
			return err
		}
		return keep(m, v)
	}
}

func defaultNamespace(p *corev1.Pod) *corev1.Pod {
	if p.Namespace == "" {
		p.Namespace = corev1.NamespaceDefault
	}
	return p
}

func podFromTemplate(ns, name string, t corev1.PodTemplateSpec) *corev1.Pod {
	c := t.DeepCopy()
	p := &corev1.Pod{ObjectMeta: c.ObjectMeta, Spec: c.Spec}
	p.Name, p.Namespace = name, ns
	return defaultNamespace(p)
}

// MaxSimulatedPods is the most pods tailor simulate expands from workloads in one run: five times the largest
// benchmark (docs/performance.md), far beyond a real cluster's pending batch, and small enough that a replica count
// with a few zeros too many fails at once instead of exhausting memory.
const MaxSimulatedPods = 250_000

// expand adds the pods a workload would create: replicas (or parallelism) copies named <name>-<i>. A count that is
// negative or would take the run past MaxSimulatedPods is refused, naming the object and the field.
func (m *manifests) expand(kind, ns, name, field string, replicas *int32, t corev1.PodTemplateSpec) error {
	n := int32(1)
	if replicas != nil {
		n = *replicas
	}
	if ns == "" {
		ns = corev1.NamespaceDefault
	}
	switch {
	case n < 0:
		return fmt.Errorf("%s %q: %s is %d: it must not be negative", kind, ns+"/"+name, field, n)
	case len(m.pods)+int(n) > MaxSimulatedPods:
		return fmt.Errorf("%s %q: %s is %d, which would take this simulation past %d pods (%d read before it): lower %s or split the manifests into several runs",
			kind, ns+"/"+name, field, n, MaxSimulatedPods, len(m.pods), field)
	}
	for i := range n {
		m.pods = append(m.pods, podFromTemplate(ns, fmt.Sprintf("%s-%d", name, i), t))
	}
	m.workloads[kind+"/"+ns+"/"+name] = workloadShape{template: t, replicas: n}
	return nil
}

// namespaced is namespace/name, in the default namespace when none is given.
func namespaced(ns, name string) string {
	if ns == "" {
		ns = corev1.NamespaceDefault
	}
	return ns + "/" + name
}

// bufferPods resolves every CapacityBuffer read against the PodTemplates and workloads read with it, as the
// controller does against the cluster. A reference the manifests lack is an error naming the buffer and the field.
func (m *manifests) bufferPods() ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, cb := range m.buffers {
		var (
			template *corev1.PodTemplateSpec
			replicas *int32
		)
		name := cb.Namespace + "/" + cb.Name
		switch {
		case cb.Spec.PodTemplateRef != nil:
			template = m.podTemplates[namespaced(cb.Namespace, cb.Spec.PodTemplateRef.Name)]
			if template == nil {
				return nil, fmt.Errorf("CapacityBuffer %q: spec.podTemplateRef: PodTemplate %s is not among the manifests: add it",
					name, namespaced(cb.Namespace, cb.Spec.PodTemplateRef.Name))
			}
		case cb.Spec.ScalableRef != nil:
			w, ok := m.workloads[cb.Spec.ScalableRef.Kind+"/"+namespaced(cb.Namespace, cb.Spec.ScalableRef.Name)]
			if !ok {
				return nil, fmt.Errorf("CapacityBuffer %q: spec.scalableRef: %s %s is not among the manifests: add it",
					name, cb.Spec.ScalableRef.Kind, namespaced(cb.Namespace, cb.Spec.ScalableRef.Name))
			}
			template, replicas = &w.template, &w.replicas
		}
		b := state.BufferFrom(cb, template, replicas)
		if b.Problem != nil {
			return nil, fmt.Errorf("CapacityBuffer %q: %w", name, b.Problem)
		}
		out = append(out, b.Pods...)
	}
	return out, nil
}
