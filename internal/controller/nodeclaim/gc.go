package nodeclaim

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// DefaultGCClaimBudget is the share of the cluster's NodeClaims one pass may delete because the provider does not find
// their instance (at least one a pass). A provider that suddenly finds nothing (a changed --cluster-name or
// --cluster-uid, a lost tag, credentials of another account) must not empty the cluster in one pass.
const DefaultGCClaimBudget = 0.1

// GarbageCollector terminates instances this cluster owns that no NodeClaim accounts for, and deletes launched
// NodeClaims whose instance is gone. It runs on the leader only.
type GarbageCollector struct {
	clk   clock.Clock
	kube  client.Client
	cloud cloudprovider.CloudProvider
	// ClaimBudget is the share of NodeClaims one pass may delete for a missing instance (DefaultGCClaimBudget).
	ClaimBudget float64
}

// NewGarbageCollector returns the collector; every dependency is required.
func NewGarbageCollector(clk clock.Clock, kube client.Client, cloud cloudprovider.CloudProvider) (*GarbageCollector, error) {
	if clk == nil || kube == nil || cloud == nil {
		return nil, errors.New("nodeclaim garbage collection: clock, client and cloud provider are required")
	}
	return &GarbageCollector{clk: clk, kube: kube, cloud: cloud, ClaimBudget: DefaultGCClaimBudget}, nil
}

// Start collects at once and then every GCInterval until ctx ends (manager.Runnable). The first pass is not delayed:
// a controller restarted more often than the interval would otherwise never collect.
func (g *GarbageCollector) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("garbagecollection")
	ctx = log.IntoContext(ctx, logger)
	for {
		if err := g.Collect(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "garbage collection failed; will retry")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.clk.After(GCInterval):
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
	liveIDs := sets.New[string]()
	for _, m := range machines {
		liveIDs.Insert(m.Status.ProviderID)
	}
	return errors.Join(g.collectInstances(ctx, machines, claims.Items), g.collectClaims(ctx, claims.Items, liveIDs))
}

// collectInstances terminates owned instances no NodeClaim accounts for. A claim accounts for the instance whose
// provider ID it records; before it records one (its launch in flight), for instances carrying its name. So a second
// instance carrying the name of a launched claim (a launch retried after a lost response) is terminated.
func (g *GarbageCollector) collectInstances(ctx context.Context, machines []*apiv1.NodeClaim, claims []apiv1.NodeClaim) error {
	claimedIDs, launching := sets.New[string](), sets.New[string]()
	for _, nc := range claims {
		if nc.Status.ProviderID != "" {
			claimedIDs.Insert(nc.Status.ProviderID)
		} else {
			launching.Insert(nc.Name)
		}
	}
	var errs []error
	for _, m := range machines {
		if claimedIDs.Has(m.Status.ProviderID) || launching.Has(m.Name) {
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
	return errors.Join(errs...)
}

// collectClaims deletes launched NodeClaims whose instance the provider no longer finds, within a budget per pass,
// and never the claim of a Ready node: a Ready node proves the machine runs and the provider's answer is what is wrong.
func (g *GarbageCollector) collectClaims(ctx context.Context, claims []apiv1.NodeClaim, liveIDs sets.Set[string]) error {
	logger := log.FromContext(ctx)
	var orphans []*apiv1.NodeClaim
	var readyKept []string
	launched := 0
	for i := range claims {
		nc := &claims[i]
		cond := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		if nc.Status.ProviderID == "" || cond == nil || cond.Status != metav1.ConditionTrue {
			continue
		}
		launched++
		if liveIDs.Has(nc.Status.ProviderID) || !nc.DeletionTimestamp.IsZero() || g.clk.Since(cond.LastTransitionTime.Time) < GCGracePeriod {
			continue
		}
		// List may lag a launch; ask for the one instance before deciding it is gone.
		if _, err := g.cloud.Get(ctx, nc.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
			continue
		}
		ready, err := g.nodeReady(ctx, nc.Status.ProviderID)
		if err != nil {
			return err
		}
		if ready {
			readyKept = append(readyKept, nc.Name)
			continue
		}
		orphans = append(orphans, nc)
	}
	if len(readyKept) > 0 {
		gcClaimsKept.Add(float64(len(readyKept)))
		logger.Error(nil, "the cloud provider does not find the instances of nodeclaims whose nodes are Ready; keeping them: check --cluster-name and the instances' tailor.sh/cluster and tailor.sh/cluster-uid tags",
			"count", len(readyKept), "nodeclaims", summarize(readyKept))
	}
	if len(orphans) == 0 {
		return nil
	}
	budget := max(1, int(math.Floor(g.ClaimBudget*float64(len(claims)))))
	if 2*(len(orphans)+len(readyKept)) > launched {
		budget = 1
		logger.Error(nil, "most launched nodeclaims look orphaned (the cloud provider does not find their instances); deleting at most one a pass: check --cluster-name, the tailor.sh/cluster and tailor.sh/cluster-uid tags and the controller's credentials",
			"orphaned", len(orphans)+len(readyKept), "launched", launched)
	}
	slices.SortFunc(orphans, func(a, b *apiv1.NodeClaim) int { return strings.Compare(a.Name, b.Name) })
	if len(orphans) > budget {
		logger.Info("more nodeclaims look orphaned than one pass may delete; the rest wait for later passes", "orphaned", len(orphans), "budget", budget)
		orphans = orphans[:budget]
	}
	var errs []error
	for _, nc := range orphans {
		logger.Info("deleting nodeclaim whose instance is gone", "nodeclaim", nc.Name, "provider-id", nc.Status.ProviderID)
		if err := g.kube.Delete(ctx, nc); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// nodeReady says whether a Node with the provider ID exists and is Ready.
func (g *GarbageCollector) nodeReady(ctx context.Context, providerID string) (bool, error) {
	nodes := &corev1.NodeList{}
	if err := g.kube.List(ctx, nodes, client.MatchingFields{ProviderIDIndex: providerID}); err != nil {
		return false, err
	}
	for i := range nodes.Items {
		if isReady(&nodes.Items[i]) {
			return true, nil
		}
	}
	return false, nil
}

// summarize lists at most ten names, so a log line stays readable when the whole fleet is affected.
func summarize(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ",")
	}
	return strings.Join(names[:10], ",") + ",…"
}
