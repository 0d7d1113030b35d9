package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// NodePoolHashVersion names how NodePoolHash is computed. It changes whenever the hash of an unchanged NodePool
// would change (a field enters or leaves the hash), so that an upgrade re-stamps the hashes on existing NodeClaims
// instead of reading every node as drifted. v2 leaves the requirements out (v1, unversioned, hashed them).
const NodePoolHashVersion = "v2"

// Reasons of the Drifted condition for drift the NodePool causes (the cloud provider's reasons are its own).
const (
	// DriftReasonNodePool: the NodePool's template, less its requirements, changed since the node launched.
	DriftReasonNodePool = "NodePoolDrifted"
	// DriftReasonRequirements: the node's labels (instance type, zone, capacity type, …) no longer satisfy the
	// NodePool's requirements.
	DriftReasonRequirements = "RequirementsDrifted"
)

// NodePoolHash is a short hash of what a NodePool puts on its nodes (the template: labels, annotations, taints,
// startup taints, node class, lifetimes) less its requirements. A NodeClaim launched under one hash has drifted when
// the NodePool's hash changes. Requirements are left out: they are checked against the node's labels instead (see
// CheckNodePoolDrift), so widening a NodePool (another instance family, another zone) drifts nothing, and narrowing
// it drifts only the nodes it excludes.
func NodePoolHash(np *apiv1.NodePool) string {
	tmpl := *np.Spec.Template.DeepCopy()
	tmpl.Spec.Requirements = nil
	b, err := json.Marshal(tmpl)
	if err != nil {
		// The template is plain data; Marshal cannot fail on it.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// NodePoolHashAnnotations are the annotations a NodeClaim of the NodePool carries: its hash and the hash's version.
func NodePoolHashAnnotations(np *apiv1.NodePool) map[string]string {
	return map[string]string{
		apiv1.NodePoolHashAnnotationKey:        NodePoolHash(np),
		apiv1.NodePoolHashVersionAnnotationKey: NodePoolHashVersion,
	}
}

// NodePoolDrift is what the NodePool side of drift says about one NodeClaim.
type NodePoolDrift struct {
	// Reason is DriftReasonNodePool, DriftReasonRequirements, or "" when the NodeClaim matches its NodePool.
	Reason string
	// Message says what differs, for the Drifted condition and for explain.
	Message string
	// Restamp is true when the NodeClaim's hash was computed by another NodePoolHashVersion: it cannot be compared,
	// and the caller should write NodePoolHashAnnotations of the NodePool onto the NodeClaim instead.
	Restamp bool
}

// CheckNodePoolDrift tells whether the NodeClaim drifted from its NodePool, as the disruption controller decides it
// and `tailor explain` reports it:
//
//   - The static part: the NodeClaim's NodePoolHashAnnotationKey differs from NodePoolHash(np). A hash of another
//     version (or of none, from before versions) is not compared: the NodeClaim is re-stamped (Restamp), unless it is
//     already Drifted for that reason, which it stays (as Karpenter does).
//   - The requirements: a label of the NodeClaim on a key the NodePool constrains has a value the requirement no
//     longer allows. A key the NodeClaim has no label for is not judged: Tailor puts only the machine's labels and the
//     template's labels on a node, not every requirement's values.
//
// A NodeClaim without a hash annotation has no static drift (it was not launched from a NodePool template).
func CheckNodePoolDrift(nc *apiv1.NodeClaim, np *apiv1.NodePool) NodePoolDrift {
	var out NodePoolDrift
	if h, ok := nc.Annotations[apiv1.NodePoolHashAnnotationKey]; ok {
		switch {
		case nc.Annotations[apiv1.NodePoolHashVersionAnnotationKey] != NodePoolHashVersion:
			if c := nc.StatusConditions().Get(apiv1.ConditionTypeDrifted); c != nil && c.Status == metav1.ConditionTrue && c.Reason == DriftReasonNodePool {
				return NodePoolDrift{Reason: DriftReasonNodePool, Message: c.Message}
			}
			out.Restamp = true
		case h != NodePoolHash(np):
			return NodePoolDrift{Reason: DriftReasonNodePool,
				Message: fmt.Sprintf("the NodePool's template changed since this node launched (hash %s, now %s)", h, NodePoolHash(np))}
		}
	}
	if why := requirementsDrift(nc.Labels, np); why != "" {
		out.Reason, out.Message = DriftReasonRequirements, why
	}
	return out
}

// requirementsDrift names the first NodePool requirement a label of the node breaks, or "".
func requirementsDrift(labels map[string]string, np *apiv1.NodePool) string {
	for _, r := range np.Spec.Template.Spec.Requirements {
		value, ok := labels[r.Key]
		if !ok {
			continue
		}
		req := scheduling.Requirement{Key: r.Key, Operator: scheduling.Operator(r.Operator), Values: r.Values}
		reqs, err := scheduling.NewRequirements(req)
		if err != nil {
			continue // the API server validates requirements; one it let through is not grounds to replace nodes
		}
		if !reqs.Matches(map[string]string{r.Key: value}) {
			return fmt.Sprintf("the node's label %s=%s no longer satisfies the NodePool's requirement %s", r.Key, value, req)
		}
	}
	return ""
}
