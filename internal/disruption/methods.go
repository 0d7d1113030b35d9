package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
)

// The methods' reasons, as on the Disrupting condition and in NodePool budgets.
const (
	ReasonUnhealthy     = apiv1.DisruptingReasonUnhealthy
	ReasonExpired       = apiv1.DisruptingReasonExpired
	ReasonDrifted       = apiv1.DisruptingReasonDrifted
	ReasonEmpty         = apiv1.DisruptingReasonEmpty
	ReasonUnderutilized = apiv1.DisruptingReasonUnderutilized
)

// Method is one way a node may go on purpose.
type Method interface {
	// Reason names the method.
	Reason() string
	// Evaluate tells whether the method would remove the candidate at now.
	Evaluate(c *Candidate, now time.Time) Finding
}

// Methods run in this order; the first that applies to a node is its verdict's method.
var Methods = []Method{Repair{}, Expiration{}, Drift{}, Emptiness{}, Underutilization{}}

var (
	_ Method = Repair{}
	_ Method = Expiration{}
	_ Method = Drift{}
	_ Method = Emptiness{}
	_ Method = Underutilization{}
)

// Candidate is a NodeClaim that Considered lets through, with what the methods read.
type Candidate struct {
	Claim *apiv1.NodeClaim
	Node  *corev1.Node
	Pool  *apiv1.NodePool
	// Pods are the pods a removal would move (state.MovablePods), by namespace and name.
	Pods []*corev1.Pod
	// Awaiting counts the unbound pods nominated to the NodeClaim or its node: the capacity was bought for them and
	// the kube-scheduler has not bound them yet (at scale that takes longer than consolidateAfter).
	Awaiting int
	// PoolDrift is the NodePool's side of drift (state.CheckNodePoolDrift), Provider the cloud provider's.
	PoolDrift state.NodePoolDrift
	Provider  ProviderDrift
	// Consolidation is where consolidateAfter stands for the node.
	Consolidation Consolidation
	// RepairPolicies as in View.
	RepairPolicies []cloudprovider.RepairPolicy
}

// Finding is one method's word on one node.
type Finding struct {
	Reason  string `json:"reason"`
	Applies bool   `json:"applies"`
	// Detail says why, for people.
	Detail string `json:"detail"`
	// Due, when set, is when the finding may change by itself (a toleration or consolidateAfter running out).
	Due time.Time `json:"-"`
}

// Repair removes a node whose condition a repair policy names has been unhealthy for longer than its toleration.
// Nothing holds it back but the share of unhealthy nodes in its NodePool (RepairAllowed).
type Repair struct{}

// Reason implements Method.
func (Repair) Reason() string { return ReasonUnhealthy }

// Evaluate implements Method.
func (Repair) Evaluate(c *Candidate, now time.Time) Finding {
	f := Finding{Reason: ReasonUnhealthy}
	if c.RepairPolicies == nil {
		f.Detail = "node repair is off"
		return f
	}
	policy, due, overdue := Unhealthy(c.RepairPolicies, c.Node, now)
	switch {
	case policy == nil:
		f.Detail = "healthy: no node condition a repair policy names"
	case overdue:
		f.Applies = true
		f.Detail = fmt.Sprintf("node condition %s=%s for longer than its toleration %s", policy.ConditionType, policy.ConditionStatus, policy.TolerationDuration)
	default:
		f.Due = due
		f.Detail = fmt.Sprintf("node condition %s=%s: repaired in %s unless it recovers", policy.ConditionType, policy.ConditionStatus, Age(due.Sub(now)))
	}
	return f
}

// Unhealthy returns the first repair policy the node breaks, when its toleration runs out and whether it has; nil
// when the node is healthy.
func Unhealthy(policies []cloudprovider.RepairPolicy, node *corev1.Node, now time.Time) (*cloudprovider.RepairPolicy, time.Time, bool) {
	for i := range policies {
		policy := &policies[i]
		for _, cond := range node.Status.Conditions {
			if cond.Type != policy.ConditionType || cond.Status != policy.ConditionStatus {
				continue
			}
			due := cond.LastTransitionTime.Add(policy.TolerationDuration)
			return policy, due, !now.Before(due)
		}
	}
	return nil, time.Time{}, false
}

// Expiration removes a node older than its NodeClaim's expireAfter.
type Expiration struct{}

// Reason implements Method.
func (Expiration) Reason() string { return ReasonExpired }

// Evaluate implements Method.
func (Expiration) Evaluate(c *Candidate, now time.Time) Finding {
	f := Finding{Reason: ReasonExpired}
	nc := c.Claim
	d, ok, err := nc.Spec.ExpireAfter.Duration()
	lived := now.Sub(nc.CreationTimestamp.Time)
	switch {
	case err != nil:
		f.Detail = fmt.Sprintf("expireAfter %q cannot be read: %v", nc.Spec.ExpireAfter, err)
	case !ok:
		f.Detail = "never expires (expireAfter Never)"
	case lived >= d:
		f.Applies = true
		f.Detail = fmt.Sprintf("expired: %s old, expireAfter %s", Age(lived), nc.Spec.ExpireAfter)
	default:
		f.Detail = fmt.Sprintf("expires in %s (expireAfter %s)", Age(d-lived), nc.Spec.ExpireAfter)
	}
	return f
}

// Drift removes a node that no longer matches its NodePool (template or requirements) or its node class (the
// provider says so).
type Drift struct{}

// Reason implements Method.
func (Drift) Reason() string { return ReasonDrifted }

// Evaluate implements Method.
func (Drift) Evaluate(c *Candidate, _ time.Time) Finding {
	f := Finding{Reason: ReasonDrifted}
	switch {
	case c.PoolDrift.Reason != "":
		f.Applies = true
		f.Detail = fmt.Sprintf("%s: %s", c.PoolDrift.Reason, c.PoolDrift.Message)
	case c.Provider.Reason != "":
		f.Applies = true
		f.Detail = fmt.Sprintf("the cloud provider reports drift (%s): %s", c.Provider.Reason, c.Provider.Message)
	default:
		f.Detail = "matches its NodePool's template and requirements, and the controller reports no provider drift"
		if c.Provider.Unknown {
			f.Detail = "matches its NodePool's template and requirements; the provider no longer knows its machine, so no " +
				"drift it reported before counts (garbage collection deletes a NodeClaim whose machine is gone)"
		}
		if c.PoolDrift.Restamp {
			f.Detail += "; its template hash is of an older hash version, which the controller re-stamps rather than compares"
		}
	}
	return f
}

// Emptiness removes a node without pods that would move once consolidateAfter has passed.
type Emptiness struct{}

// Reason implements Method.
func (Emptiness) Reason() string { return ReasonEmpty }

// Evaluate implements Method.
func (Emptiness) Evaluate(c *Candidate, now time.Time) Finding {
	f := Finding{Reason: ReasonEmpty}
	s := c.Consolidation
	switch {
	case len(c.Pods) > 0:
		f.Detail = fmt.Sprintf("not empty: %d pod(s) would have to move", len(c.Pods))
	case c.Awaiting > 0:
		f.Detail = fmt.Sprintf("not empty: %d pod(s) nominated to it are not bound yet", c.Awaiting)
	case s.State == ConsolidationOff:
		f.Detail = "empty, but " + s.Why
	case s.Consolidatable():
		f.Applies = true
		f.Detail = fmt.Sprintf("empty for %s (consolidateAfter %s)", Age(now.Sub(s.Since)), c.Pool.Spec.Disruption.ConsolidateAfter)
	default:
		f.Due = s.Due
		f.Detail = fmt.Sprintf("empty for %s of consolidateAfter %s: eligible in %s", Age(now.Sub(s.Since)),
			c.Pool.Spec.Disruption.ConsolidateAfter, Age(s.Due.Sub(now)))
	}
	return f
}

// Underutilization makes a node with pods a consolidation candidate once consolidateAfter has passed since a pod
// last arrived or left, in a NodePool whose policy moves pods (WhenEmptyOrUnderutilized or Balanced). Whether and how
// its pods move is the consolidation decision's (scheduling.Consolidator).
type Underutilization struct{}

// Reason implements Method.
func (Underutilization) Reason() string { return ReasonUnderutilized }

// Evaluate implements Method.
func (Underutilization) Evaluate(c *Candidate, now time.Time) Finding {
	f := Finding{Reason: ReasonUnderutilized}
	s := c.Consolidation
	policy := c.Pool.Spec.Disruption.ConsolidationPolicy
	switch {
	case len(c.Pods) == 0:
		f.Detail = "empty: see Empty"
	case s.State == ConsolidationOff:
		f.Detail = "not consolidated: " + s.Why
	case policy != apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized && policy != apiv1.ConsolidationPolicyBalanced:
		f.Detail = fmt.Sprintf("the NodePool's consolidationPolicy %s moves only empty nodes", policy)
	case s.Consolidatable():
		f.Applies = true
		f.Detail = fmt.Sprintf("no pod arrived or left for %s (consolidateAfter %s): a consolidation candidate", Age(now.Sub(s.Since)),
			c.Pool.Spec.Disruption.ConsolidateAfter)
	default:
		f.Detail = fmt.Sprintf("a pod arrived or left %s ago; a consolidation candidate in %s (consolidateAfter %s)", Age(now.Sub(s.Since)),
			Age(s.Since.Add(s.After).Sub(now)), c.Pool.Spec.Disruption.ConsolidateAfter)
	}
	return f
}

// Age words a duration for people ("3m", "2d4h"); a negative one (clock skew) counts as zero.
func Age(d time.Duration) string { return duration.HumanDuration(max(d, 0)) }
