package nodeclaim

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// GCGracePeriod is how old an instance without a NodeClaim must be before it is terminated: a launch writes the
// provider ID into the NodeClaim just after the instance exists, and a restart between the two is healed by Create's
// idempotence, not by garbage collection.
const GCGracePeriod = time.Minute

// GCInterval is how often instances and NodeClaims are compared.
const GCInterval = time.Minute

// GarbageCollector terminates instances this cluster owns that no NodeClaim accounts for, and deletes launched
// NodeClaims whose instance is gone. It runs on the leader only.
type GarbageCollector struct {
	clk   clock.Clock
	kube  client.Client
	cloud cloudprovider.CloudProvider
}

// NewGarbageCollector returns the collector; every dependency is required.
func NewGarbageCollector(clk clock.Clock, kube client.Client, cloud cloudprovider.CloudProvider) (*GarbageCollector, error) {
	if clk == nil || kube == nil || cloud == nil {
		return nil, errors.New("nodeclaim garbage collection: clock, client and cloud provider are required")
	}
	return &GarbageCollector{clk: clk, kube: kube, cloud: cloud}, nil
}

// Start collects every GCInterval until ctx ends (manager.Runnable).
func (g *GarbageCollector) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("garbagecollection")
	ctx = log.IntoContext(ctx, logger)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-g.clk.After(GCInterval):
		}
		if err := g.Collect(ctx); err != nil {
			logger.Error(err, "garbage collection failed; will retry")
		}
	}
}

// Collect runs one pass.
func (g *GarbageCollector) Collect(ctx context.Context) error {
	machines, err := g.cloud.List(ctx)
	if err != nil {
		return err
	}
	claims := &apiv1.NodeClaimList{}
	if err := g.kube.List(ctx, claims); err != nil {
		return err
	}
	claimNames, claimedIDs := sets.New[string](), sets.New[string]()
	for _, nc := range claims.Items {
		claimNames.Insert(nc.Name)
		if nc.Status.ProviderID != "" {
			claimedIDs.Insert(nc.Status.ProviderID)
		}
	}
	liveIDs := sets.New[string]()
	var errs []error
	for _, m := range machines {
		liveIDs.Insert(m.Status.ProviderID)
		if claimedIDs.Has(m.Status.ProviderID) || claimNames.Has(m.Name) {
			continue
		}
		if m.CreationTimestamp.IsZero() || g.clk.Since(m.CreationTimestamp.Time) < GCGracePeriod {
			continue
		}
		log.FromContext(ctx).Info("terminating instance without a nodeclaim", "provider-id", m.Status.ProviderID, "nodeclaim", m.Name)
		if err := g.cloud.Delete(ctx, m); cloudprovider.IgnoreNodeClaimNotFoundError(err) != nil {
			errs = append(errs, err)
			continue
		}
		instancesGarbageCollected.Inc()
	}
	for i := range claims.Items {
		nc := &claims.Items[i]
		launched := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		if nc.Status.ProviderID == "" || liveIDs.Has(nc.Status.ProviderID) || !nc.DeletionTimestamp.IsZero() ||
			launched == nil || g.clk.Since(launched.LastTransitionTime.Time) < GCGracePeriod {
			continue
		}
		// List may lag a launch; ask for the one instance before deciding it is gone.
		if _, err := g.cloud.Get(ctx, nc.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
			continue
		}
		log.FromContext(ctx).Info("deleting nodeclaim whose instance is gone", "nodeclaim", nc.Name, "provider-id", nc.Status.ProviderID)
		if err := g.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
