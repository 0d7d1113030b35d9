package cloudprovider

import (
	"context"
	"strings"
	"time"
)

// InterruptionKind is the kind of a provider event about machines going away.
type InterruptionKind string

// The kinds of interruption events controllers act on.
const (
	// InterruptionSpot: the provider takes a spot machine back shortly (AWS: two minutes).
	InterruptionSpot InterruptionKind = "SpotInterruption"
	// InterruptionRebalance: a spot machine at elevated risk of being taken back (recorded only).
	InterruptionRebalance InterruptionKind = "RebalanceRecommendation"
	// InterruptionStateChange: a machine changed state (State says to what: stopping, stopped, shutting-down,
	// terminated, pending, running).
	InterruptionStateChange InterruptionKind = "StateChange"
	// InterruptionScheduledChange: maintenance the provider scheduled for the machines, such as a retirement.
	InterruptionScheduledChange InterruptionKind = "ScheduledChange"
)

// InterruptionEvent is one provider event about machines, in terms any provider can give.
type InterruptionEvent struct {
	Kind InterruptionKind
	// ID is the provider's id of the event.
	ID string
	// Time is when the event happened.
	Time time.Time
	// InstanceIDs are the machines concerned, as the last segment of their provider IDs (see MachineID).
	InstanceIDs []string
	// State is the new machine state of a StateChange.
	State string
	// Action is what a SpotInterruption will do: terminate, stop or hibernate.
	Action string
	// EventTypeCode is the provider's code for a ScheduledChange, such as AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED.
	EventTypeCode string
}

// InterruptionQueue delivers interruption events to a handler until its context ends; an event is removed from the
// queue once the handler returns nil and delivered again later otherwise.
type InterruptionQueue interface {
	Run(ctx context.Context, handle func(context.Context, InterruptionEvent) error) error
}

// MachineID is the machine's ID within a provider ID of the form PROVIDER://[LOCATION]/…/ID (AWS:
// aws:///us-east-1a/i-0123456789abcdef0): its last path segment, or "" when the provider ID has no path (a NodeClaim
// not launched yet, or a node no cloud provider launched, such as kwok://node-1).
func MachineID(providerID string) string {
	_, rest, ok := strings.Cut(providerID, "://")
	i := strings.LastIndex(rest, "/")
	if !ok || i < 0 {
		return ""
	}
	return rest[i+1:]
}
