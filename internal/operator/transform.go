package operator

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"unique"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// The informers keep every pod and node of the cluster for as long as the controller runs: at 10,000 pods the pods
// alone were about a quarter of the controller's heap (docs/performance.md). Tailor writes pods and nodes only by
// patches of the fields it changes (a pod's status.nominatedNodeName, a node's taints and labels), never by an
// update of a cached object, so what the cache drops is never written back as empty.
//
// Of a pod it keeps what scheduling, disruption and termination read: metadata, and the spec's constraints, requests
// and ports; its status with little of the containers' statuses. Of a node it drops only the image list.

// stripForCache is the cache's transform for every object: managedFields go (no Tailor code reads them, and on a pod
// they are often as large as the rest of its metadata), pods and nodes are stripped further.
func stripForCache() toolscache.TransformFunc {
	managed := cache.TransformStripManagedFields()
	return func(obj any) (any, error) {
		obj, err := managed(obj)
		if err != nil {
			return obj, err
		}
		switch o := obj.(type) {
		case *corev1.Pod:
			stripPod(o)
		case *corev1.Node:
			o.Status.Images = nil
		}
		return obj, nil
	}
}

// stripPod drops in place what no Tailor code reads of a pod: how its containers run (command, environment, probes,
// mounts), the volumes that put nothing on a node's scheduling (projected, secret, config map, downward API), the
// ephemeral debug containers, and most of the containers' statuses.
func stripPod(p *corev1.Pod) {
	for i := range p.Spec.InitContainers {
		stripContainer(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		stripContainer(&p.Spec.Containers[i])
	}
	p.Spec.EphemeralContainers = nil
	kept := p.Spec.Volumes[:0]
	for _, v := range p.Spec.Volumes {
		if v.Projected != nil || v.Secret != nil || v.ConfigMap != nil || v.DownwardAPI != nil {
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		kept = nil
	}
	p.Spec.Volumes = kept
	stripStatuses(p.Status.InitContainerStatuses)
	stripStatuses(p.Status.ContainerStatuses)
	p.Status.EphemeralContainerStatuses = nil
	conds := p.Status.Conditions[:0]
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled || c.Type == corev1.PodReady {
			conds = append(conds, c)
		}
	}
	p.Status.Conditions = slices.Clip(conds)
	internPod(p)
}

// intern returns the one copy of s the process keeps while any holds it. A decoded object has a string of its own
// for every field; the pods of one workload repeat most of theirs (namespace, labels, owner, image, node, tolerations,
// the kube-scheduler's message), so the cache keeps one of each instead of one a pod.
func intern[S ~string](s S) S {
	if s == "" {
		return s
	}
	return S(unique.Make(string(s)).Value())
}

// internMap interns a map's keys and values, in a map of its own size.
func internMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}

// sharedMaps keeps one copy of each map that many cached pods carry alike: a workload's labels, its containers'
// requests and limits. A decoded pod has maps of its own (about 300 bytes for two labels, 700 for a CPU and memory
// request); the cache's pods are read, never written (a caller that changes one deep-copies it first), so pods with
// equal maps can hold the same one. At most sharedMapsMax are kept; then the table starts again (pods keep theirs).
var sharedMaps = struct {
	mu      sync.Mutex
	labels  map[string]map[string]string
	amounts map[string]corev1.ResourceList
}{labels: map[string]map[string]string{}, amounts: map[string]corev1.ResourceList{}}

const sharedMapsMax = 4096

// shareLabels returns the shared map equal to m (interned), making m the shared one if there is none.
func shareLabels(m map[string]string) map[string]string {
	return share(sharedMaps.labels, m, func(v string) string { return v }, internMap)
}

// shareAmounts is shareLabels for a resource list: equal when every amount prints the same (its canonical form).
func shareAmounts(l corev1.ResourceList) corev1.ResourceList {
	return share(sharedMaps.amounts, l, func(q resource.Quantity) string { return q.String() }, nil)
}

// share returns table's map with the same keys and values as m (printed by str), or keeps m (made ready for sharing
// by prepare, if set) as that map.
func share[K ~string, V any, M ~map[K]V](table map[string]M, m M, str func(V) string, prepare func(M) M) M {
	if len(m) == 0 {
		return m
	}
	var key strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key.WriteString(string(k))
		key.WriteByte(0)
		key.WriteString(str(m[k]))
		key.WriteByte(0)
	}
	sharedMaps.mu.Lock()
	defer sharedMaps.mu.Unlock()
	if shared, ok := table[key.String()]; ok {
		return shared
	}
	if len(table) >= sharedMapsMax {
		clear(table)
	}
	if prepare != nil {
		m = prepare(m)
	}
	table[key.String()] = m
	return m
}

// internPod interns the strings a pod shares with its workload's other pods, and shares its maps with theirs.
func internPod(p *corev1.Pod) {
	p.Namespace, p.GenerateName = intern(p.Namespace), intern(p.GenerateName)
	p.Labels, p.Annotations = shareLabels(p.Labels), internMap(p.Annotations)
	for i := range p.OwnerReferences {
		o := &p.OwnerReferences[i]
		o.APIVersion, o.Kind, o.Name, o.UID = intern(o.APIVersion), intern(o.Kind), intern(o.Name), intern(o.UID)
	}
	s := &p.Spec
	for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range cs {
			cs[i].Name, cs[i].Image = intern(cs[i].Name), intern(cs[i].Image)
			cs[i].Resources.Requests, cs[i].Resources.Limits = shareAmounts(cs[i].Resources.Requests), shareAmounts(cs[i].Resources.Limits)
		}
	}
	s.NodeName, s.SchedulerName, s.ServiceAccountName = intern(s.NodeName), intern(s.SchedulerName), intern(s.ServiceAccountName)
	s.DeprecatedServiceAccount, s.PriorityClassName = intern(s.DeprecatedServiceAccount), intern(s.PriorityClassName)
	s.RestartPolicy, s.DNSPolicy, s.NodeSelector = intern(s.RestartPolicy), intern(s.DNSPolicy), shareLabels(s.NodeSelector)
	s.Overhead = shareAmounts(s.Overhead)
	if s.PreemptionPolicy != nil {
		*s.PreemptionPolicy = intern(*s.PreemptionPolicy)
	}
	for i := range s.Tolerations {
		t := &s.Tolerations[i]
		t.Key, t.Operator, t.Value, t.Effect = intern(t.Key), intern(t.Operator), intern(t.Value), intern(t.Effect)
	}
	st := &p.Status
	st.Phase, st.QOSClass, st.HostIP = intern(st.Phase), intern(st.QOSClass), intern(st.HostIP)
	for i := range st.HostIPs {
		st.HostIPs[i].IP = intern(st.HostIPs[i].IP)
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type, c.Status, c.Reason, c.Message = intern(c.Type), intern(c.Status), intern(c.Reason), intern(c.Message)
	}
	for _, css := range [][]corev1.ContainerStatus{st.InitContainerStatuses, st.ContainerStatuses} {
		for i := range css {
			css[i].Name = intern(css[i].Name)
		}
	}
}

// stripStatuses keeps of each container's status its state (when it started running: the startup recorder's
// fallback), readiness and restarts, and drops the images, IDs, resources and mounts.
func stripStatuses(statuses []corev1.ContainerStatus) {
	for i, s := range statuses {
		statuses[i] = corev1.ContainerStatus{Name: s.Name, State: s.State, Ready: s.Ready, Started: s.Started, RestartCount: s.RestartCount}
	}
}

// stripContainer keeps a container's name, image, ports, requests and limits, resize policy and restart policy (an
// init container that always restarts is a sidecar, whose requests count alongside the app containers').
func stripContainer(c *corev1.Container) {
	*c = corev1.Container{
		Name:          c.Name,
		Image:         c.Image,
		Ports:         c.Ports,
		Resources:     c.Resources,
		ResizePolicy:  c.ResizePolicy,
		RestartPolicy: c.RestartPolicy,
	}
}
