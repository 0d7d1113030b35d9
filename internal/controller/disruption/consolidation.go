package disruption

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// ReasonUnderutilized is consolidation's reason: the node's pods fit on the rest of the cluster, or on one cheaper
// new node.
const ReasonUnderutilized = string(apiv1.DisruptionReasonUnderutilized)

// ValidationWindow is how long a consolidation decision must stand before it is carried out: the same nodes must be
// chosen again after at least this long, so a decision made on a cluster in motion is not acted on.
const ValidationWindow = 10 * time.Second

// MinSpotToSpotOptions is how many cheaper spot instance types a spot node's replacement must be able to choose
// from (Karpenter's rule). With fewer, replacing it would walk the node down to the cheapest, most interrupted
// pools; with enough, the cloud keeps room to pick by availability.
const MinSpotToSpotOptions = 15

// pendingCommand is a consolidation decision waiting out the validation window.
type pendingCommand struct {
	key string
	at  time.Time
}

// consolidate decides what consolidation does now: delete the largest set of candidates whose pods all fit on the
// remaining nodes (trying the emptiest first); failing that, replace one candidate by a single cheaper node. The
// decision is carried out only once it stood through ValidationWindow. Candidates must already be Consolidatable
// (consolidateAfter passed) in pools with policy WhenEmptyOrUnderutilized.
func (c *Controller) consolidate(ctx context.Context, view *state.View, cands []*candidate) (*plan, error) {
	if len(cands) == 0 {
		c.pending = nil
		return nil, nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return len(cands[i].pods) < len(cands[j].pods) })
	var chosen []*candidate
	for _, cand := range cands {
		trial := append(append([]*candidate(nil), chosen...), cand)
		results, err := simulate(view.Snapshot, trial, false)
		if err != nil {
			return nil, err
		}
		if len(results.Unschedulable) == 0 && len(results.NodeClaims) == 0 {
			chosen = trial
		}
	}
	var p *plan
	if len(chosen) > 0 {
		p = &plan{reason: ReasonUnderutilized, candidates: chosen}
	} else {
		var err error
		if p, err = c.replaceOne(ctx, view, cands); err != nil {
			return nil, err
		}
	}
	if p == nil {
		c.pending = nil
		return nil, nil
	}
	now := c.clk.Now()
	if c.pending == nil || c.pending.key != p.key() {
		c.pending = &pendingCommand{key: p.key(), at: now}
		log.FromContext(ctx).V(1).Info("consolidation decision found; validating", "decision", p.key(), "window", ValidationWindow.String())
		return nil, nil
	}
	if now.Sub(c.pending.at) < ValidationWindow {
		return nil, nil
	}
	c.pending = nil
	return p, nil
}

// replaceOne finds the first candidate whose pods fit on one new node cheaper than it, and plans that node with
// only the cheaper instance types allowed.
func (c *Controller) replaceOne(ctx context.Context, view *state.View, cands []*candidate) (*plan, error) {
	for _, cand := range cands {
		results, err := simulate(view.Snapshot, []*candidate{cand}, true)
		if err != nil {
			return nil, err
		}
		if len(results.Unschedulable) > 0 || len(results.NodeClaims) != 1 {
			continue
		}
		price, ok := nodePrice(cand, view.InstanceTypes[cand.pool.Name])
		if !ok {
			log.FromContext(ctx).V(1).Info("not replacing node: its price is unknown", "nodeclaim", cand.claim.Name)
			continue
		}
		replacement, why := cheaper(cand.claim.Labels[apiv1.CapacityTypeLabelKey], price, results.NodeClaims[0])
		if why != "" {
			log.FromContext(ctx).V(1).Info("not replacing node", "nodeclaim", cand.claim.Name, "why", why)
			continue
		}
		return &plan{reason: ReasonUnderutilized, candidates: []*candidate{cand}, replacements: []*scheduling.NodeClaim{replacement}, pools: view.NodePools}, nil
	}
	return nil, nil
}

// cheaper narrows a planned replacement to the instance types cheaper than the node it replaces (price, of capacity
// type capacityType), or says why there is none. As in Karpenter: a spot node is only replaced by spot, and only
// with at least MinSpotToSpotOptions cheaper types, of which the cheapest MinSpotToSpotOptions are kept; an
// on-demand node whose replacement may be spot is pinned to spot, so a spot shortage fails the launch instead of
// buying on-demand capacity dearer than the node.
func cheaper(capacityType string, price float64, planned *scheduling.NodeClaim) (*scheduling.NodeClaim, string) {
	target := apiv1.CapacityTypeOnDemand
	if capacityType == apiv1.CapacityTypeSpot || len(optionsOf(planned, apiv1.CapacityTypeSpot, math.Inf(1))) > 0 {
		target = apiv1.CapacityTypeSpot
	}
	options := optionsOf(planned, target, price)
	if len(options) == 0 {
		return nil, fmt.Sprintf("no %s instance type that fits its pods is cheaper than $%.4f/h", target, price)
	}
	if capacityType == apiv1.CapacityTypeSpot {
		if len(options) < MinSpotToSpotOptions {
			return nil, fmt.Sprintf("spot-to-spot replacement needs %d cheaper spot instance types, found %d", MinSpotToSpotOptions, len(options))
		}
		options = options[:MinSpotToSpotOptions]
	}
	reqs := planned.Requirements.Clone()
	if err := reqs.Add(scheduling.Requirement{Key: apiv1.CapacityTypeLabelKey, Operator: scheduling.OpIn, Values: []string{target}}); err != nil {
		return nil, fmt.Sprintf("pinning capacity type %s: %v", target, err)
	}
	out := *planned
	out.Requirements = reqs
	out.InstanceTypeOptions = options
	return &out, ""
}

// optionsOf are the planned node's instance types with their cheapest available offering of capacity type ct that
// the node's requirements allow and that costs less than below, cheapest first.
func optionsOf(planned *scheduling.NodeClaim, ct string, below float64) []scheduling.InstanceTypeOption {
	if !planned.Requirements.Has(apiv1.CapacityTypeLabelKey, ct) {
		return nil
	}
	var out []scheduling.InstanceTypeOption
	for _, o := range planned.InstanceTypeOptions {
		best, found := cloudprovider.Offering{}, false
		for _, off := range o.InstanceType.Offerings {
			if !off.Available || off.CapacityType != ct || !planned.Requirements.Has(apiv1.ZoneLabelKey, off.Zone) {
				continue
			}
			if !found || off.PricePerHour < best.PricePerHour {
				best, found = off, true
			}
		}
		if found && best.PricePerHour < below {
			out = append(out, scheduling.InstanceTypeOption{InstanceType: o.InstanceType, Offering: best})
		}
	}
	slices.SortStableFunc(out, func(a, b scheduling.InstanceTypeOption) int {
		switch {
		case a.Offering.PricePerHour < b.Offering.PricePerHour:
			return -1
		case a.Offering.PricePerHour > b.Offering.PricePerHour:
			return 1
		}
		return 0
	})
	return out
}

// nodePrice is what the candidate costs per hour: the price recorded at launch, else the catalogue's price of its
// instance type in its zone and capacity type.
func nodePrice(cand *candidate, types []*cloudprovider.InstanceType) (float64, bool) {
	if p, err := strconv.ParseFloat(cand.claim.Annotations[apiv1.PricePerHourAnnotationKey], 64); err == nil && p > 0 {
		return p, true
	}
	labels := cand.claim.Labels
	for _, it := range types {
		if it.Name != labels[apiv1.InstanceTypeLabelKey] {
			continue
		}
		for _, off := range it.Offerings {
			if off.Zone == labels[apiv1.ZoneLabelKey] && off.CapacityType == labels[apiv1.CapacityTypeLabelKey] {
				return off.PricePerHour, true
			}
		}
	}
	return 0, false
}

// underutilized tells whether a non-empty, consolidatable node's pool lets consolidation act on it.
func underutilized(pool *apiv1.NodePool, nc *apiv1.NodeClaim) bool {
	return pool.Spec.Disruption.ConsolidationPolicy == apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized &&
		nc.StatusConditions().IsTrue(apiv1.ConditionTypeConsolidatable)
}
