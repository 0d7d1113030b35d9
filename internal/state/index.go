package state

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// ProviderIDIndex is the informer index of Nodes by spec.providerID and of NodeClaims by status.providerID, which
// the lifecycle, termination, disruption and garbage collection controllers look each other's objects up by.
const ProviderIDIndex = "providerID"

// IndexProviderIDs registers ProviderIDIndex for Nodes and NodeClaims; cmd/tailor calls it once for every
// controller (through nodeclaim.IndexFields), and tests of any controller may.
func IndexProviderIDs(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &corev1.Node{}, ProviderIDIndex, func(o client.Object) []string {
		if id := o.(*corev1.Node).Spec.ProviderID; id != "" {
			return []string{id}
		}
		return nil
	}); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &apiv1.NodeClaim{}, ProviderIDIndex, func(o client.Object) []string {
		if id := o.(*apiv1.NodeClaim).Status.ProviderID; id != "" {
			return []string{id}
		}
		return nil
	})
}
