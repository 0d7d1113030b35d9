package cloudprovider

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// CloudProvider launches, finds and removes the machines behind NodeClaims. Every method is safe for concurrent
// use. Methods return the typed errors of this package where their doc comments say so and wrapped errors otherwise;
// a wrapped error is transient unless it says it is not, and callers retry it with backoff.
type CloudProvider interface {
	// Create launches one machine for the NodeClaim: an offering of one of the instance types its requirements
	// allow, in a zone and capacity type they allow, able to hold its resource requests. It returns a copy of the
	// NodeClaim with status.providerID, status.imageID, status.capacity and status.allocatable set and with the
	// labels of what was launched (instance type, zone, region, capacity type, architecture, …); the argument is not
	// changed. When the cloud already knows the name the machine's node will register with, the copy carries it in
	// the annotation apiv1.NodeNameAnnotationKey (the provisioner then reserves the planned pods' room on that node).
	//
	// Create is idempotent: called again for a NodeClaim whose machine already exists, it returns that machine
	// instead of launching another.
	//
	// Errors: NodeClassNotReadyError when the NodeClaim's node class is missing or not Ready (retry once it is);
	// InsufficientCapacityError when no allowed offering had capacity (re-plan the pods; the failed offerings are
	// reported unavailable by GetInstanceTypes for a while); any other error is transient.
	Create(ctx context.Context, nodeClaim *apiv1.NodeClaim) (*apiv1.NodeClaim, error)

	// Delete terminates the NodeClaim's machine, found by status.providerID. It returns nil once termination has
	// started (or is already under way) and NodeClaimNotFoundError once the machine is gone or never existed, so a
	// caller may call it until it gets NodeClaimNotFoundError. It never terminates a machine this cluster does not
	// own: for such a machine it returns an error that is not NodeClaimNotFoundError.
	Delete(ctx context.Context, nodeClaim *apiv1.NodeClaim) error

	// Get returns a NodeClaim describing the machine with the given provider ID, with status.providerID, labels and
	// capacity filled from the cloud. Errors: NodeClaimNotFoundError when no live machine owned by this cluster has
	// that ID (including a malformed ID).
	Get(ctx context.Context, providerID string) (*apiv1.NodeClaim, error)

	// List returns a NodeClaim for every live machine this cluster owns, whether or not a NodeClaim object exists
	// for it; the controllers garbage-collect the orphans. The NodeClaims' names are those the machines were tagged
	// with at launch. Errors are transient.
	List(ctx context.Context) ([]*apiv1.NodeClaim, error)

	// GetInstanceTypes returns the instance types the NodePool's node class can launch, each with its capacity,
	// overhead and offerings (zones where the node class has subnets, capacity types, prices and availability). The
	// NodePool's requirements are not applied: the simulator does that. The result is shared and must not be
	// modified.
	//
	// Errors: NodeClassNotReadyError when the NodePool's node class is missing or not Ready; any other error is
	// transient.
	GetInstanceTypes(ctx context.Context, nodePool *apiv1.NodePool) ([]*InstanceType, error)

	// IsDrifted reports why the NodeClaim's machine no longer matches its node class, or "" when it still does. A
	// node class that is missing or not Ready is not drift: IsDrifted returns "" and no error. Errors:
	// NodeClaimNotFoundError when the machine is gone; any other error is transient.
	//
	// The disruption controller asks about every NodeClaim on each pass, so a provider must not make a cloud call
	// per NodeClaim: it may answer from a listing of its machines that it shares between the calls of a few seconds
	// (AWS: one DescribeInstances listing of the cluster's instances, reused for 3 s). Such an answer may be that
	// old; a machine gone since may still read as not drifted until the next listing.
	IsDrifted(ctx context.Context, nodeClaim *apiv1.NodeClaim) (DriftReason, error)

	// Name is the provider's name, such as "aws". It is the scheme of the provider IDs it hands out.
	Name() string

	// RepairPolicies are the node conditions that mean a node is broken beyond waiting, each with how long it is
	// tolerated: a node whose condition of that type has had that status for longer is replaced, then deleted.
	// Providers without an opinion return DefaultRepairPolicies. The result is shared and must not be modified.
	RepairPolicies() []RepairPolicy
}

// RepairPolicy is one node condition that makes a node unhealthy, and how long it is tolerated.
type RepairPolicy struct {
	// ConditionType is the node condition's type, such as Ready.
	ConditionType corev1.NodeConditionType
	// ConditionStatus is the status that is unhealthy, such as False or Unknown.
	ConditionStatus corev1.ConditionStatus
	// TolerationDuration is how long the condition may have had that status (since its lastTransitionTime) before
	// the node is repaired.
	TolerationDuration time.Duration
}

// DefaultRepairPolicies: a node not Ready (False: the kubelet says so; Unknown: the kubelet stopped reporting) for
// 30 minutes is repaired.
func DefaultRepairPolicies() []RepairPolicy {
	return []RepairPolicy{
		{ConditionType: corev1.NodeReady, ConditionStatus: corev1.ConditionFalse, TolerationDuration: 30 * time.Minute},
		{ConditionType: corev1.NodeReady, ConditionStatus: corev1.ConditionUnknown, TolerationDuration: 30 * time.Minute},
	}
}

// DriftReason says why a machine drifted from its node class.
type DriftReason string

// Drift reasons providers report.
const (
	// DriftReasonNodeClass: the node class spec changed since the machine launched.
	DriftReasonNodeClass DriftReason = "NodeClassDrift"
	// DriftReasonAMI: the machine's image is no longer one the node class selects.
	DriftReasonAMI DriftReason = "AMIDrift"
	// DriftReasonSubnet: the machine's subnet is no longer one the node class selects.
	DriftReasonSubnet DriftReason = "SubnetDrift"
	// DriftReasonSecurityGroup: the machine's security groups differ from those the node class selects.
	DriftReasonSecurityGroup DriftReason = "SecurityGroupDrift"
)
