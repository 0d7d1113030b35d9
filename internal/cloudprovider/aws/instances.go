package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ErrNotOwned is wrapped by the error Delete returns for an instance that does not carry this cluster's
// tailor.sh/cluster tag, or carries another cluster UID: Tailor never terminates it.
var ErrNotOwned = errors.New("instance is not owned by this cluster")

// liveStates are the instance states List and the Create idempotency check consider alive.
var liveStates = []string{"pending", "running", "stopping", "stopped"}

// providerID is aws:///<zone>/<instance-id>, as the AWS cloud controller manager sets it on nodes.
func providerID(zone, instanceID string) string {
	return ProviderName + ":///" + zone + "/" + instanceID
}

// ParseProviderID returns the instance id of an aws:///<zone>/<instance-id> provider ID.
func ParseProviderID(id string) (string, error) {
	rest, ok := strings.CutPrefix(id, ProviderName+"://")
	if !ok {
		return "", fmt.Errorf("provider id %q: must start with %s://", id, ProviderName)
	}
	instance := rest[strings.LastIndex(rest, "/")+1:]
	if !strings.HasPrefix(instance, "i-") || len(instance) < 3 {
		return "", fmt.Errorf("provider id %q: must end in an instance id such as i-0123456789abcdef0", id)
	}
	return instance, nil
}

// describeInstances pages through DescribeInstances.
func (p *Provider) describeInstances(ctx context.Context, filters ...ec2types.Filter) ([]ec2types.Instance, error) {
	var out []ec2types.Instance
	pager := ec2.NewDescribeInstancesPaginator(p.ec2, &ec2.DescribeInstancesInput{Filters: filters})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instances: %w", err)
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	return out, nil
}

// instanceForClaim finds the live instance launched for the NodeClaim name in this cluster, if any (the newest,
// should there be several). An instance of a cluster of the same name with another UID is not a candidate.
func (p *Provider) instanceForClaim(ctx context.Context, name string) (*ec2types.Instance, error) {
	list, err := p.describeInstances(ctx,
		filter("tag:"+TagCluster, p.opts.ClusterName),
		filter("tag:"+TagNodeClaim, name),
		filter("instance-state-name", "pending", "running"))
	if err != nil {
		return nil, fmt.Errorf("looking for the instance of nodeclaim %q: %w", name, err)
	}
	list = slices.DeleteFunc(list, func(i ec2types.Instance) bool { return !p.owned(&i) })
	if len(list) == 0 {
		return nil, nil
	}
	slices.SortFunc(list, func(a, b ec2types.Instance) int { return aws.ToTime(b.LaunchTime).Compare(aws.ToTime(a.LaunchTime)) })
	return &list[0], nil
}

// instanceByID describes one instance whoever owns it; nil when EC2 does not know it.
func (p *Provider) instanceByID(ctx context.Context, id string) (*ec2types.Instance, error) {
	list, err := p.describeInstances(ctx, filter("instance-id", id))
	if err != nil {
		if errorCode(err) == "InvalidInstanceID.NotFound" || errorCode(err) == "InvalidInstanceID.Malformed" {
			return nil, nil
		}
		return nil, err
	}
	if len(list) == 0 {
		return nil, nil
	}
	return &list[0], nil
}

// owned tells whether the instance is this cluster's (see ownsTags).
func (p *Provider) owned(inst *ec2types.Instance) bool {
	return p.ownsTags(fromEC2Tags(inst.Tags))
}

// notOwnedReason says how an instance's tags fall short of this cluster's.
func (p *Provider) notOwnedReason(inst *ec2types.Instance) string {
	tags := fromEC2Tags(inst.Tags)
	if tags[TagCluster] != p.opts.ClusterName {
		return fmt.Sprintf("it has no %s=%s tag", TagCluster, p.opts.ClusterName)
	}
	return fmt.Sprintf("its %s tag is %s, another cluster of the same name (this one is %s)", TagClusterUID, tags[TagClusterUID], p.opts.ClusterUID)
}

func instanceState(inst *ec2types.Instance) ec2types.InstanceStateName {
	if inst.State == nil {
		return ""
	}
	return inst.State.Name
}

// Get describes the instance with the provider ID. See cloudprovider.CloudProvider.
func (p *Provider) Get(ctx context.Context, id string) (*apiv1.NodeClaim, error) {
	instanceID, err := ParseProviderID(id)
	if err != nil {
		return nil, cloudprovider.NewNodeClaimNotFoundError(err)
	}
	inst, err := p.instanceByID(ctx, instanceID)
	if err != nil {
		return nil, fmt.Errorf("getting instance %s: %w", instanceID, err)
	}
	switch {
	case inst == nil:
		return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s does not exist", instanceID))
	case !p.owned(inst):
		return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s is not owned by cluster %q: %s", instanceID, p.opts.ClusterName, p.notOwnedReason(inst)))
	case instanceState(inst) == ec2types.InstanceStateNameTerminated || instanceState(inst) == ec2types.InstanceStateNameShuttingDown:
		return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s is %s", instanceID, instanceState(inst)))
	}
	return p.instanceNodeClaim(ctx, inst), nil
}

// List describes every live instance of this cluster launched for a NodeClaim (see ownsTags). See
// cloudprovider.CloudProvider.
func (p *Provider) List(ctx context.Context) ([]*apiv1.NodeClaim, error) {
	list, err := p.describeInstances(ctx,
		filter("tag:"+TagCluster, p.opts.ClusterName),
		filter("tag-key", TagNodeClaim),
		filter("instance-state-name", liveStates...))
	if err != nil {
		return nil, fmt.Errorf("listing instances of cluster %q: %w", p.opts.ClusterName, err)
	}
	out := make([]*apiv1.NodeClaim, 0, len(list))
	for i := range list {
		if !p.owned(&list[i]) {
			continue
		}
		out = append(out, p.instanceNodeClaim(ctx, &list[i]))
	}
	slices.SortFunc(out, func(a, b *apiv1.NodeClaim) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Status.ProviderID, b.Status.ProviderID))
	})
	return out, nil
}

// Delete terminates the NodeClaim's instance if this cluster owns it. See cloudprovider.CloudProvider.
func (p *Provider) Delete(ctx context.Context, nodeClaim *apiv1.NodeClaim) error {
	instanceID, err := ParseProviderID(nodeClaim.Status.ProviderID)
	if err != nil {
		return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("nodeclaim %q: %w", nodeClaim.Name, err))
	}
	inst, err := p.instanceByID(ctx, instanceID)
	if err != nil {
		return fmt.Errorf("deleting nodeclaim %q: %w", nodeClaim.Name, err)
	}
	switch {
	case inst == nil || instanceState(inst) == ec2types.InstanceStateNameTerminated:
		return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s of nodeclaim %q is gone", instanceID, nodeClaim.Name))
	case !p.owned(inst):
		return fmt.Errorf("refusing to terminate instance %s of nodeclaim %q: %s: %w", instanceID, nodeClaim.Name, p.notOwnedReason(inst), ErrNotOwned)
	case instanceState(inst) == ec2types.InstanceStateNameShuttingDown:
		return nil
	}
	if _, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{instanceID}}); err != nil {
		if errorCode(err) == "InvalidInstanceID.NotFound" {
			return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s of nodeclaim %q is gone", instanceID, nodeClaim.Name))
		}
		return fmt.Errorf("terminating instance %s of nodeclaim %q: %w", instanceID, nodeClaim.Name, err)
	}
	log.FromContext(ctx).V(1).Info("terminating instance", "instance", instanceID)
	return nil
}

// IsDrifted compares the NodeClaim's instance with its node class. See cloudprovider.CloudProvider.
func (p *Provider) IsDrifted(ctx context.Context, nodeClaim *apiv1.NodeClaim) (cloudprovider.DriftReason, error) {
	nc, err := p.nodeClass(ctx, nodeClaim.Spec.NodeClassRef.Name)
	if err != nil {
		return "", cloudprovider.IgnoreNodeClassNotReadyError(err)
	}
	instanceID, err := ParseProviderID(nodeClaim.Status.ProviderID)
	if err != nil {
		return "", cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("nodeclaim %q: %w", nodeClaim.Name, err))
	}
	// From a listing of the cluster's instances shared by the calls of one disruption pass, not a call per claim.
	facts, found, err := p.snapshotInstance(ctx, instanceID)
	if err != nil {
		return "", fmt.Errorf("checking drift of nodeclaim %q: %w", nodeClaim.Name, err)
	}
	if !found || facts.state == ec2types.InstanceStateNameTerminated {
		return "", cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("instance %s of nodeclaim %q is gone", instanceID, nodeClaim.Name))
	}
	return drift(nodeClaim, nc, facts), nil
}

// driftFacts are what drift compares of an instance. The listing that answers a disruption pass keeps them instead
// of the SDK's Instance, which with its network interfaces, block devices and tags is about ten times larger: at
// 1,000 instances the listing held 15 MB of the controller's heap between passes.
type driftFacts struct {
	state         ec2types.InstanceStateName
	image, subnet string
	groups        []string // sorted, without repeats
	nodeClassHash string   // the TagNodeClassHash tag it launched with
}

func factsOf(inst *ec2types.Instance) driftFacts {
	f := driftFacts{state: instanceState(inst), image: aws.ToString(inst.ImageId), subnet: aws.ToString(inst.SubnetId)}
	for _, g := range inst.SecurityGroups {
		f.groups = append(f.groups, aws.ToString(g.GroupId))
	}
	slices.Sort(f.groups)
	f.groups = slices.Clip(slices.Compact(f.groups))
	for _, t := range inst.Tags {
		if aws.ToString(t.Key) == TagNodeClassHash {
			f.nodeClassHash = aws.ToString(t.Value)
		}
	}
	return f
}

// drift is the first way the instance differs from what the node class selects now: its AMI, its subnet, its
// security groups, or the node class spec it launched from.
func drift(nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, inst driftFacts) cloudprovider.DriftReason {
	if !slices.ContainsFunc(nc.Status.AMIs, func(a apiv1.AMI) bool { return a.ID == inst.image }) {
		return cloudprovider.DriftReasonAMI
	}
	if !slices.ContainsFunc(nc.Status.Subnets, func(s apiv1.Subnet) bool { return s.ID == inst.subnet }) {
		return cloudprovider.DriftReasonSubnet
	}
	if !slices.Equal(inst.groups, securityGroupIDs(nc.Status.SecurityGroups)) {
		return cloudprovider.DriftReasonSecurityGroup
	}
	launched := nodeClaim.Annotations[AnnotationNodeClassHash]
	if launched == "" {
		launched = inst.nodeClassHash
	}
	if launched != "" && launched != NodeClassHash(nc) {
		return cloudprovider.DriftReasonNodeClass
	}
	return ""
}

func instanceCapacityType(inst *ec2types.Instance) string {
	if inst.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
		return apiv1.CapacityTypeSpot
	}
	if aws.ToString(inst.CapacityReservationId) != "" {
		return apiv1.CapacityTypeReserved
	}
	return apiv1.CapacityTypeOnDemand
}

// instanceNodeClaim describes an instance as a NodeClaim: the name and node class it was tagged with, labels of
// its type (when the instance type cache knows it), zone and capacity type, its launch time as creation time.
func (p *Provider) instanceNodeClaim(ctx context.Context, inst *ec2types.Instance) *apiv1.NodeClaim {
	tags := fromEC2Tags(inst.Tags)
	zone := ""
	if inst.Placement != nil {
		zone = aws.ToString(inst.Placement.AvailabilityZone)
	}
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:              tags[TagNodeClaim],
			CreationTimestamp: metav1.NewTime(aws.ToTime(inst.LaunchTime)),
			Labels:            map[string]string{},
			Annotations:       map[string]string{},
		},
		Spec: apiv1.NodeClaimSpec{NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: tags[TagEC2NodeClass]}},
		Status: apiv1.NodeClaimStatus{
			ProviderID: providerID(zone, aws.ToString(inst.InstanceId)),
			ImageID:    aws.ToString(inst.ImageId),
		},
	}
	if shape, ok := p.data.shape(string(inst.InstanceType)); ok {
		it := shape.ToInstanceType(p.opts.Region, catalog.Options{VMMemoryOverheadPercent: p.opts.VMMemoryOverheadPercent})
		nc.Labels = it.Labels
		nc.Status.Capacity = it.Capacity
	} else {
		log.FromContext(ctx).V(1).Info("instance type not in the cache; describing the instance without its attributes", "instance-type", inst.InstanceType)
	}
	nc.Labels[apiv1.InstanceTypeLabelKey] = string(inst.InstanceType)
	nc.Labels[apiv1.ZoneLabelKey] = zone
	nc.Labels[apiv1.RegionLabelKey] = p.opts.Region
	nc.Labels[apiv1.CapacityTypeLabelKey] = instanceCapacityType(inst)
	if id := aws.ToString(inst.CapacityReservationId); id != "" {
		nc.Labels[apiv1.CapacityReservationIDLabelKey] = id
	}
	if pool := tags[TagNodePool]; pool != "" {
		nc.Labels[apiv1.NodePoolLabelKey] = pool
	}
	if h := tags[TagNodeClassHash]; h != "" {
		nc.Annotations[AnnotationNodeClassHash] = h
	}
	return nc
}
