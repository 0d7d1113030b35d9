package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// NodePoolHash is a short hash of what a NodePool puts on its nodes (the template: labels, annotations,
// requirements, taints, node class, lifetimes). A NodeClaim launched under one hash has drifted when the NodePool's
// hash changes.
func NodePoolHash(np *apiv1.NodePool) string {
	b, err := json.Marshal(np.Spec.Template)
	if err != nil {
		// The template is plain data; Marshal cannot fail on it.
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
