package disruption

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// BlockerKind is what holds a node back.
type BlockerKind string

// Blocker kinds.
const (
	// BlockerDoNotDisrupt: the tailor.sh/do-not-disrupt annotation on the node, the NodeClaim or a pod that would move
	// ("true", a duration from the pod's start that has not run out, or a bad value, which protects until fixed).
	BlockerDoNotDisrupt BlockerKind = "DoNotDisrupt"
	// BlockerPDB: a PodDisruptionBudget that allows no disruption selects a pod that would move.
	BlockerPDB BlockerKind = "PodDisruptionBudget"
	// BlockerPDBs: more than one PodDisruptionBudget selects a pod that would move; the Eviction API refuses to evict
	// such a pod.
	BlockerPDBs BlockerKind = "PodDisruptionBudgets"
	// BlockerAwaitingPods: pods nominated to the NodeClaim or its node are not bound yet; the node was bought for them.
	BlockerAwaitingPods BlockerKind = "AwaitingPods"
)

// Object is a Kubernetes object a blocker names, for the caller's events.
type Object interface {
	metav1.Object
	runtime.Object
}

// Blocker is one thing that keeps a node from being disrupted.
type Blocker struct {
	Kind BlockerKind
	// On is the object the blocker is about: the annotated Node, NodeClaim or Pod, or the pod budgets select.
	On Object
	// Value is the do-not-disrupt annotation's value.
	Value string
	// Until is when a do-not-disrupt duration runs out (zero for "true" and bad values).
	Until time.Time
	// Invalid is the error of a do-not-disrupt value that is neither "true" nor a positive duration.
	Invalid error
	// PDBs are the budgets (namespace/name) that select the pod.
	PDBs []string
	// Count is how many nominated pods are not bound yet (BlockerAwaitingPods).
	Count int
}

// String words the blocker for people; `tailor explain` prints it and the controller logs it.
func (b Blocker) String() string {
	switch b.Kind {
	case BlockerAwaitingPods:
		return fmt.Sprintf("%d pod(s) nominated to it are not bound yet", b.Count)
	case BlockerPDB:
		return fmt.Sprintf("PodDisruptionBudget %s allows no disruption of pod %s", b.PDBs[0], objectName(b.On))
	case BlockerPDBs:
		return fmt.Sprintf("pod %s is selected by %d PodDisruptionBudgets (%s), which the Eviction API refuses to evict",
			objectName(b.On), len(b.PDBs), strings.Join(b.PDBs, ", "))
	}
	var what string
	switch b.On.(type) {
	case *corev1.Node:
		what = "node " + b.On.GetName()
	case *apiv1.NodeClaim:
		what = "the NodeClaim"
	default:
		what = "pod " + objectName(b.On)
	}
	s := fmt.Sprintf("%s is annotated %s", what, apiv1.DoNotDisruptAnnotationKey)
	switch {
	case b.Invalid != nil:
		s += fmt.Sprintf("=%s, which is neither %q nor a duration: treated as %q until fixed", b.Value, apiv1.DoNotDisruptForever, apiv1.DoNotDisruptForever)
	case !b.Until.IsZero():
		s += fmt.Sprintf("=%s, until %s", b.Value, b.Until.UTC().Format(time.RFC3339))
	case b.Value != apiv1.DoNotDisruptForever:
		s += "=" + b.Value
	}
	return s
}

func objectName(o Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// Blockers lists what keeps the candidate from being disrupted, in the order the controller checks: pods nominated
// to it and not bound yet, the node's do-not-disrupt annotation, the NodeClaim's, then for each pod that would move its annotation and the
// PodDisruptionBudgets that select it.
func Blockers(c *Candidate, pdbs []policyv1.PodDisruptionBudget, now time.Time) []Blocker {
	var out []Blocker
	if c.Awaiting > 0 {
		out = append(out, Blocker{Kind: BlockerAwaitingPods, On: c.Claim, Count: c.Awaiting})
	}
	if b, ok := doNotDisrupt(c.Node, c.Node.CreationTimestamp.Time, now); ok {
		out = append(out, b)
	}
	if b, ok := doNotDisrupt(c.Claim, c.Claim.CreationTimestamp.Time, now); ok {
		out = append(out, b)
	}
	for _, p := range c.Pods {
		if b, ok := doNotDisrupt(p, podStart(p), now); ok {
			out = append(out, b)
		}
		selecting := state.PDBsFor(p, pdbs)
		var names []string
		for _, pdb := range selecting {
			names = append(names, pdb.Namespace+"/"+pdb.Name)
		}
		if len(selecting) > 1 {
			out = append(out, Blocker{Kind: BlockerPDBs, On: p, PDBs: names})
			continue
		}
		for _, pdb := range selecting {
			if pdb.Status.DisruptionsAllowed <= 0 {
				out = append(out, Blocker{Kind: BlockerPDB, On: p, PDBs: []string{pdb.Namespace + "/" + pdb.Name}})
			}
		}
	}
	return out
}

// doNotDisrupt reads obj's do-not-disrupt annotation (apiv1.DoNotDisrupt): a blocker when it holds disruption back
// at now.
func doNotDisrupt(obj Object, start, now time.Time) (Blocker, bool) {
	value := obj.GetAnnotations()[apiv1.DoNotDisruptAnnotationKey]
	if value == "" {
		return Blocker{}, false
	}
	protected, until, err := apiv1.DoNotDisrupt(value, start, now)
	return Blocker{Kind: BlockerDoNotDisrupt, On: obj, Value: value, Until: until, Invalid: err}, protected
}

// podStart is when a pod's do-not-disrupt duration starts: when it started, or, before that, when it was created.
func podStart(p *corev1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}
