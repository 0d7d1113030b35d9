package disruption

import (
	"fmt"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// ConsolidationState is where consolidateAfter stands for a node; the controller's Consolidatable condition records
// it.
type ConsolidationState string

// Consolidation states.
const (
	// ConsolidationOff: the NodePool never consolidates (consolidateAfter Never or unreadable, or a static NodePool).
	ConsolidationOff ConsolidationState = "Off"
	// ConsolidationActive: a pod arrived or left less than consolidateAfter ago, and pods would move.
	ConsolidationActive ConsolidationState = "Active"
	// ConsolidationEmptyWaiting: no pod would move, but consolidateAfter has not passed yet (until Due).
	ConsolidationEmptyWaiting ConsolidationState = "EmptyWaiting"
	// ConsolidationEmpty: no pod would move, and consolidateAfter has passed.
	ConsolidationEmpty ConsolidationState = "Empty"
	// ConsolidationQuiet: pods would move, and no pod arrived or left for consolidateAfter.
	ConsolidationQuiet ConsolidationState = "Quiet"
)

// Consolidation is the decision half of the Consolidatable condition.
type Consolidation struct {
	State ConsolidationState
	// Why the NodePool never consolidates (ConsolidationOff).
	Why string
	// Since is the last pod event on the node, or its initialization when later; After is consolidateAfter; Due is
	// Since+After.
	Since time.Time
	After time.Duration
	Due   time.Time
}

// Consolidatable tells whether consolidateAfter has passed.
func (c Consolidation) Consolidatable() bool {
	return c.State == ConsolidationEmpty || c.State == ConsolidationQuiet
}

// ConsolidationOf works out where consolidateAfter stands for the NodeClaim's node: consolidatable once
// consolidateAfter has passed since its last pod event, or since it was initialized if that is later.
func ConsolidationOf(nc *apiv1.NodeClaim, pool *apiv1.NodePool, empty bool, now time.Time) Consolidation {
	spec := pool.Spec.Disruption.ConsolidateAfter
	after, ok, err := spec.Duration()
	switch {
	case err != nil:
		return Consolidation{State: ConsolidationOff, Why: fmt.Sprintf("consolidateAfter %q cannot be read: %v", spec, err)}
	case !ok && spec.IsNever():
		return Consolidation{State: ConsolidationOff, Why: "the NodePool's consolidateAfter is Never"}
	case pool.IsStatic():
		// A static NodePool's nodes are its spec.replicas, needed or not.
		return Consolidation{State: ConsolidationOff, Why: "the NodePool is static (spec.replicas): its nodes are never consolidated"}
	}
	since := nc.Status.LastPodEventTime.Time
	if init := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized); init != nil && init.LastTransitionTime.After(since) {
		since = init.LastTransitionTime.Time
	}
	c := Consolidation{Since: since, After: after, Due: since.Add(after)}
	switch elapsed := now.Sub(since) >= after; {
	case elapsed && empty:
		c.State = ConsolidationEmpty
	case elapsed:
		c.State = ConsolidationQuiet
	case empty:
		c.State = ConsolidationEmptyWaiting
	default:
		c.State = ConsolidationActive
	}
	return c
}
