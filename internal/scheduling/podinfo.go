package scheduling

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// maxAlternatives caps the OR-of-terms product (node affinity terms × volume topology terms) per pod.
const maxAlternatives = 32

// podInfo is a pod compiled once into what the constraints need.
type podInfo struct {
	pod      *corev1.Pod
	key      string // namespace/name
	labels   labels.Set
	requests Resources
	// alts are the pod's node requirements, an OR: nodeSelector ∩ one required node affinity term ∩ one volume
	// topology term each. Never empty for a pending pod (a pod without any has one empty alternative).
	alts []Requirements
	// selector is the nodeSelector alone, affinity the required node affinity terms: kept to word reasons.
	selector Requirements
	affinity []Requirements
	// refusal says why nothing can host the pod whatever the nodes: its volumes cannot be resolved (a missing
	// claim), its requests are too large to count, or it asks for DRA devices (reasonDRA). Nil for most pods.
	refusal     *Reason
	tolerations []corev1.Toleration
	ports       []hostPort
	// required inter-pod terms the pod owns, and groups whose selector matches the pod.
	owned   []*term
	matches []*topoGroup
	prefs   []preference
	// ha counts the soft-HA preferences at the front of prefs (Cost policy only, see markSoftHA).
	ha int
	// pinKeys are the non-hostname topology keys the pod's placement must fix on a NodeClaim.
	pinKeys []string
	// reqSig identifies alts; class identifies alts+tolerations (pods that may share nodes); sig everything.
	reqSig string
	class  string
	sig    string
	// lane is 0, or 1 or 2 when the pod's class is split across two instance families (lanes.go); demandKey names
	// the demand its claims grow for: the class's, or its lane's.
	lane      int8
	demandKey string
	// free pods have no inter-pod constraint and no term selects them: merges may move them freely.
	free bool
}

// hostPort is one port a pod binds on its node.
type hostPort struct {
	protocol corev1.Protocol
	ip       string
	port     int32
}

func (a hostPort) conflicts(b hostPort) bool {
	if a.port != b.port || a.protocol != b.protocol {
		return false
	}
	return a.ip == b.ip || isAnyIP(a.ip) || isAnyIP(b.ip)
}

func isAnyIP(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

func (a hostPort) String() string {
	ip := a.ip
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%s/%s:%d", a.protocol, ip, a.port)
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				out = append(out, hostPort{protocol: proto, ip: p.HostIP, port: p.HostPort})
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// volumeIndex resolves claims to volumes and storage classes.
type volumeIndex struct {
	pvs     map[string]*corev1.PersistentVolume
	pvcs    map[string]*corev1.PersistentVolumeClaim
	classes map[string]*storagev1.StorageClass
	dflt    *storagev1.StorageClass
}

func newVolumeIndex(s *Snapshot) *volumeIndex {
	v := &volumeIndex{pvs: map[string]*corev1.PersistentVolume{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}, classes: map[string]*storagev1.StorageClass{}}
	for _, pv := range s.PersistentVolumes {
		v.pvs[pv.Name] = pv
	}
	for _, c := range s.PersistentVolumeClaims {
		v.pvcs[c.Namespace+"/"+c.Name] = c
	}
	for _, sc := range s.StorageClasses {
		v.classes[sc.Name] = sc
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" && (v.dflt == nil || sc.Name < v.dflt.Name) {
			v.dflt = sc
		}
	}
	return v
}

// volumeTerms returns, per volume with a topology, the OR of requirements that volume puts on the node.
func (v *volumeIndex) volumeTerms(pod *corev1.Pod) ([][]Requirements, error) {
	var out [][]Requirements
	for _, vol := range pod.Spec.Volumes {
		if vol.PersistentVolumeClaim == nil {
			continue
		}
		name := pod.Namespace + "/" + vol.PersistentVolumeClaim.ClaimName
		pvc, ok := v.pvcs[name]
		if !ok {
			return nil, fmt.Errorf("persistentvolumeclaim %q not found", name)
		}
		terms, err := v.claimTerms(pvc)
		if err != nil {
			return nil, fmt.Errorf("persistentvolumeclaim %q: %w", name, err)
		}
		if len(terms) > 0 {
			out = append(out, terms)
		}
	}
	return out, nil
}

func (v *volumeIndex) claimTerms(pvc *corev1.PersistentVolumeClaim) ([]Requirements, error) {
	if pvc.Spec.VolumeName != "" {
		pv, ok := v.pvs[pvc.Spec.VolumeName]
		if !ok {
			return nil, fmt.Errorf("bound persistentvolume %q not found", pvc.Spec.VolumeName)
		}
		if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
			return nil, nil
		}
		terms, err := FromNodeSelector(pv.Spec.NodeAffinity.Required)
		if err != nil {
			return nil, fmt.Errorf("persistentvolume %q node affinity: %w", pv.Name, err)
		}
		return terms, nil
	}
	sc := v.dflt
	if pvc.Spec.StorageClassName != nil {
		if *pvc.Spec.StorageClassName == "" {
			return nil, nil
		}
		sc = v.classes[*pvc.Spec.StorageClassName]
		if sc == nil {
			return nil, fmt.Errorf("storageclass %q not found", *pvc.Spec.StorageClassName)
		}
	}
	if sc == nil || len(sc.AllowedTopologies) == 0 {
		// WaitForFirstConsumer without allowed topologies follows the pod; Immediate binding without topology
		// leaves the volume reachable anywhere as far as the simulator knows.
		return nil, nil
	}
	out := make([]Requirements, 0, len(sc.AllowedTopologies))
	for _, term := range sc.AllowedTopologies {
		var r Requirements
		for _, e := range term.MatchLabelExpressions {
			if err := r.Add(Requirement{Key: e.Key, Operator: OpIn, Values: e.Values}); err != nil {
				return nil, fmt.Errorf("storageclass %q allowedTopologies: %w", sc.Name, err)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// compileNodeRequirements builds alts for a pod (nodeSelector × affinity terms × volume terms).
func compileNodeRequirements(pod *corev1.Pod, vols *volumeIndex) (sel Requirements, aff []Requirements, alts []Requirements, volErr string, err error) {
	for _, k := range sortedKeys(pod.Spec.NodeSelector) {
		if err := sel.Add(Requirement{Key: k, Operator: OpIn, Values: []string{pod.Spec.NodeSelector[k]}}); err != nil {
			return sel, nil, nil, "", fmt.Errorf("nodeSelector: %w", err)
		}
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		aff, err = FromNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		if err != nil {
			return sel, nil, nil, "", fmt.Errorf("required node affinity: %w", err)
		}
	}
	alts = []Requirements{sel}
	if len(aff) > 0 {
		alts = product(alts, aff)
	}
	if vols != nil {
		terms, verr := vols.volumeTerms(pod)
		if verr != nil {
			return sel, aff, alts, verr.Error(), nil
		}
		for _, t := range terms {
			alts = product(alts, t)
		}
	}
	return sel, aff, alts, "", nil
}

func product(a, b []Requirements) []Requirements {
	out := make([]Requirements, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			if len(out) < maxAlternatives {
				out = append(out, x.Intersect(y))
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func requirementsSig(alts []Requirements) string {
	var b strings.Builder
	for i, a := range alts {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(a.String())
	}
	return b.String()
}

func tolerationsSig(ts []corev1.Toleration) string {
	var b strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&b, "%s/%s/%s/%s;", t.Key, t.Operator, t.Value, t.Effect)
	}
	return b.String()
}

// tolerates reports whether tolerations tolerate a taint, as the kube-scheduler decides it.
func tolerates(ts []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range ts {
		t := &ts[i]
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			continue
		}
		if t.Key != "" && t.Key != taint.Key {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case corev1.TolerationOpEqual, "":
			if t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

// untoleratedTaint returns the first NoSchedule or NoExecute taint the tolerations do not tolerate.
func untoleratedTaint(ts []corev1.Toleration, taints []corev1.Taint) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !tolerates(ts, t) {
			return t
		}
	}
	return nil
}

func hasUntoleratedPreferNoSchedule(ts []corev1.Toleration, taints []corev1.Taint) bool {
	for i := range taints {
		if taints[i].Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(ts, &taints[i]) {
			return true
		}
	}
	return false
}

// termNamespaces resolves the namespaces a pod affinity term selects. A namespaceSelector cannot be evaluated
// without Namespace objects; an empty one means all namespaces, any other is treated as all namespaces too
// (documented as a limitation), which only makes the simulator stricter for anti-affinity.
func termNamespaces(pod *corev1.Pod, term *corev1.PodAffinityTerm) (all bool, ns []string) {
	if term.NamespaceSelector != nil {
		return true, nil
	}
	if len(term.Namespaces) == 0 {
		return false, []string{pod.Namespace}
	}
	return false, sortedUnique(term.Namespaces)
}

func labelSelector(sel *metav1.LabelSelector, pod *corev1.Pod, matchLabelKeys []string) (labels.Selector, string, error) {
	if sel == nil {
		// A nil selector matches nothing.
		return labels.Nothing(), "<none>", nil
	}
	s := sel.DeepCopy()
	for _, k := range matchLabelKeys {
		if v, ok := pod.Labels[k]; ok {
			s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
		}
	}
	out, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, "", err
	}
	return out, out.String(), nil
}

// int32Or returns *p or def.
func int32Or(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func itoa(i int) string { return strconv.Itoa(i) }

// wellKnownZoneKeys are the keys whose values come from offerings rather than instance type labels.
func offeringKey(key string) bool {
	return key == apiv1.ZoneLabelKey || key == apiv1.CapacityTypeLabelKey
}
