package aws

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// maxLaunchAttempts bounds the CreateFleet calls of one Create: each attempt after the first only tries offerings
// the previous ones did not find out of capacity.
const maxLaunchAttempts = 3

// capacityErrorCodes are the CreateFleet error codes that mean "no capacity in this pool right now": the pool is
// marked unavailable and the launch moves on to others.
var capacityErrorCodes = []string{
	"InsufficientInstanceCapacity",
	"InsufficientCapacity",
	"InsufficientHostCapacity",
	"InsufficientFreeAddressesInSubnet",
	"MaxSpotInstanceCountExceeded",
	"SpotMaxPriceTooLow",
	"UnfulfillableCapacity",
	"Unsupported",
	"VcpuLimitExceeded",
}

// spotRoleErrorCodes are the CreateFleet error codes that mean "this account cannot launch spot at all": the spot
// service-linked role (AWSServiceRoleForEC2Spot) does not exist and the caller may not create it. Spot is marked
// unavailable as a whole, so a NodeClaim that allows on-demand falls back to it. (SpotMaxPriceTooLow and
// InvalidSpotFleetRequestConfig are not of this kind: they concern one request, not the account.)
var spotRoleErrorCodes = []string{
	"AuthFailure.ServiceLinkedRoleCreationNotPermitted",
}

// launchOption is one way to launch a NodeClaim: an instance type's offering in a subnet of its zone, booting an
// AMI of its architecture.
type launchOption struct {
	it       *cloudprovider.InstanceType
	offering cloudprovider.Offering
	subnet   apiv1.Subnet
	ami      apiv1.AMI
}

// Create launches an instance for the NodeClaim with CreateFleet. See cloudprovider.CloudProvider.
func (p *Provider) Create(ctx context.Context, nodeClaim *apiv1.NodeClaim) (*apiv1.NodeClaim, error) {
	nc, err := p.nodeClass(ctx, nodeClaim.Spec.NodeClassRef.Name)
	if err != nil {
		return nil, err
	}
	existing, err := p.instanceForClaim(ctx, nodeClaim.Name)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		log.FromContext(ctx).V(1).Info("found the instance already launched for nodeclaim", "instance", aws.ToString(existing.InstanceId))
		return p.existingNodeClaim(ctx, nodeClaim, nc, existing)
	}
	types, err := p.instanceTypesFor(ctx, nc)
	if err != nil {
		return nil, err
	}
	var failures []string
	for range maxLaunchAttempts {
		options := p.launchOptions(nodeClaim, nc, types)
		if len(options) == 0 {
			break
		}
		launched, failed, err := p.launch(ctx, nodeClaim, nc, options)
		if err != nil {
			return nil, err
		}
		failures = append(failures, failed...)
		if launched != nil {
			p.addNodeName(ctx, launched)
			return launched, nil
		}
	}
	detail := "no offering the nodeclaim's requirements allow fits its requests in the node class's zones and architectures"
	if len(failures) > 0 {
		detail = "every offering tried had no capacity: " + strings.Join(failures, ", ")
	}
	return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("launching nodeclaim %q: %s", nodeClaim.Name, detail))
}

// launchOptions are the offerings the NodeClaim allows, that fit it, and that are not known to be out of capacity,
// for one capacity type (reserved when any reserved offering qualifies, else spot when any spot offering does, else
// on-demand), cheapest first, at most 60. Reserved offerings qualify only when the NodeClaim's requirements name the
// capacity type reserved, and only the roomiest reservation of each type and zone is offered.
func (p *Provider) launchOptions(nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, types []*cloudprovider.InstanceType) []launchOption {
	var options []launchOption
	spot, reserved := false, false
	reservedOK := allowsReserved(nodeClaim.Spec.Requirements)
	reservedAt := map[[2]string]int{} // (type, zone) → index in options of its reserved option
	for _, it := range types {
		if !it.Fits(nodeClaim.Spec.Resources.Requests) {
			continue
		}
		ami, ok := amiFor(it, nc.Status.AMIs)
		if !ok {
			continue
		}
		for _, o := range it.Offerings {
			if !it.Matches(o, nodeClaim.Spec.Requirements) {
				continue
			}
			if o.CapacityType == apiv1.CapacityTypeReserved {
				if !reservedOK || !o.Available || p.unavailable.IsUnavailable(it.Name, o.Zone, reservedCapacityType(o.ReservationID)) {
					continue
				}
			} else if p.unavailable.IsUnavailable(it.Name, o.Zone, o.CapacityType) {
				continue
			}
			subnet, ok := subnetIn(nc.Status.Subnets, o.Zone)
			if !ok {
				continue
			}
			opt := launchOption{it: it, offering: o, subnet: subnet, ami: ami}
			if o.CapacityType == apiv1.CapacityTypeReserved {
				// One reservation per type and zone: CreateFleet's answer names the type and subnet, not the
				// reservation.
				k := [2]string{it.Name, o.Zone}
				if i, ok := reservedAt[k]; ok {
					if o.ReservationCapacity > options[i].offering.ReservationCapacity {
						options[i] = opt
					}
					continue
				}
				reservedAt[k] = len(options)
			}
			options = append(options, opt)
			spot = spot || o.CapacityType == apiv1.CapacityTypeSpot
			reserved = reserved || o.CapacityType == apiv1.CapacityTypeReserved
		}
	}
	capacityType := apiv1.CapacityTypeOnDemand
	switch {
	case reserved:
		capacityType = apiv1.CapacityTypeReserved
	case spot:
		capacityType = apiv1.CapacityTypeSpot
	}
	options = slices.DeleteFunc(options, func(o launchOption) bool { return o.offering.CapacityType != capacityType })
	slices.SortFunc(options, func(a, b launchOption) int {
		return cmp.Or(cmp.Compare(a.offering.PricePerHour, b.offering.PricePerHour),
			cmp.Compare(a.it.Name, b.it.Name), cmp.Compare(a.offering.Zone, b.offering.Zone))
	})
	if len(options) > maxFleetOverrides {
		options = options[:maxFleetOverrides]
	}
	return options
}

// amiFor is the newest AMI whose requirements the instance type meets: with an alias's variants, the one with the
// drivers the type needs (launchTemplateConfigs then makes one launch template per AMI in the fleet).
func amiFor(it *cloudprovider.InstanceType, amis []apiv1.AMI) (apiv1.AMI, bool) {
	for _, ami := range amis {
		ok := true
		for _, r := range ami.Requirements {
			v, has := it.Labels[r.Key]
			switch r.Operator {
			case corev1.NodeSelectorOpIn:
				ok = ok && has && slices.Contains(r.Values, v)
			case corev1.NodeSelectorOpNotIn:
				ok = ok && (!has || !slices.Contains(r.Values, v))
			case corev1.NodeSelectorOpExists:
				ok = ok && has
			case corev1.NodeSelectorOpDoesNotExist:
				ok = ok && !has
			}
		}
		if ok {
			return ami, true
		}
	}
	return apiv1.AMI{}, false
}

// subnetIn is the node class's preferred subnet in a zone (status lists the roomiest first).
func subnetIn(subnets []apiv1.Subnet, zone string) (apiv1.Subnet, bool) {
	for _, s := range subnets {
		if s.Zone == zone {
			return s, true
		}
	}
	return apiv1.Subnet{}, false
}

// launch makes one CreateFleet call over the options. It returns the launched NodeClaim, or nil and the pools that
// had no capacity (now marked unavailable); an error for anything else.
func (p *Provider) launch(ctx context.Context, nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, options []launchOption) (*apiv1.NodeClaim, []string, error) {
	configs, templates, err := p.launchTemplateConfigs(ctx, nodeClaim, nc, options)
	if err != nil {
		return nil, nil, err
	}
	capacityType := options[0].offering.CapacityType
	// A reserved launch is an on-demand one whose launch template targets the reservation.
	marketType := capacityType
	if capacityType == apiv1.CapacityTypeReserved {
		marketType = apiv1.CapacityTypeOnDemand
	}
	tags := instanceTags(p.opts.ClusterName, nodeClaim, nc)
	maps.Copy(tags, p.ownerTags())
	in := &ec2.CreateFleetInput{
		Type:                  ec2types.FleetTypeInstant,
		LaunchTemplateConfigs: configs,
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity:       aws.Int32(1),
			DefaultTargetCapacityType: ec2types.DefaultTargetCapacityType(marketType),
		},
		OnDemandOptions:   &ec2types.OnDemandOptionsRequest{AllocationStrategy: ec2types.FleetOnDemandAllocationStrategyLowestPrice},
		TagSpecifications: launchTagSpecifications(tags, capacityType),
	}
	if capacityType == apiv1.CapacityTypeSpot {
		in.SpotOptions = &ec2types.SpotOptionsRequest{AllocationStrategy: ec2types.SpotAllocationStrategyPriceCapacityOptimized}
	}
	// The same token across the SDK's own retries of this call, so a retried request cannot launch twice; a new one
	// for every other call (EC2 answers a reused token with the first call's result), except that the same request
	// after one whose outcome is unknown reuses that one's (unsettledFleets).
	now, asked := p.clk.Now(), hashOf(in)
	token := p.unsettled.token(nodeClaim, asked, fleetToken(nodeClaim, now, configs, capacityType), now)
	in.ClientToken = aws.String(token)
	out, err := p.ec2.CreateFleet(ctx, in)
	p.unsettled.settle(nodeClaim, asked, token, now, err)
	if err != nil {
		if code := errorCode(err); capacityType == apiv1.CapacityTypeSpot && slices.Contains(spotRoleErrorCodes, code) {
			return nil, []string{p.markSpotRefused(ctx, code)}, nil
		} else if strings.HasPrefix(code, "InvalidLaunchTemplateName.NotFound") || strings.HasPrefix(code, "InvalidLaunchTemplateId.NotFound") {
			for _, name := range templates {
				p.templates.forget(name)
			}
		}
		return nil, nil, fmt.Errorf("creating fleet for nodeclaim %q: %w", nodeClaim.Name, err)
	}
	byKey := map[[2]string]launchOption{}
	for _, o := range options {
		byKey[[2]string{o.it.Name, o.subnet.ID}] = o
	}
	failed, otherErrs := p.recordFleetErrors(ctx, out.Errors, byKey, capacityType)
	if launched, err := p.launchedFrom(ctx, nodeClaim, nc, out.Instances, byKey, capacityType); launched != nil || err != nil {
		return launched, failed, err
	}
	// A launch IAM refused is reported as such even beside pools without capacity: retrying elsewhere cannot help.
	if len(otherErrs) > 0 && (len(failed) == 0 || refusedByIAM(out.Errors)) {
		return nil, nil, fmt.Errorf("creating fleet for nodeclaim %q: %s", nodeClaim.Name, strings.Join(otherErrs, "; "))
	}
	if len(failed) == 0 {
		return nil, nil, fmt.Errorf("creating fleet for nodeclaim %q: EC2 launched nothing and reported no error", nodeClaim.Name)
	}
	return nil, failed, nil
}

// launchedFrom is the NodeClaim as launched by the first instance CreateFleet reports, nil when it launched none.
func (p *Provider) launchedFrom(ctx context.Context, nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, instances []ec2types.CreateFleetInstance,
	byKey map[[2]string]launchOption, capacityType string) (*apiv1.NodeClaim, error) {
	for _, inst := range instances {
		if len(inst.InstanceIds) == 0 || inst.LaunchTemplateAndOverrides == nil || inst.LaunchTemplateAndOverrides.Overrides == nil {
			continue
		}
		ov := inst.LaunchTemplateAndOverrides.Overrides
		o, ok := byKey[[2]string{string(ov.InstanceType), aws.ToString(ov.SubnetId)}]
		if !ok {
			return nil, fmt.Errorf("creating fleet for nodeclaim %q: EC2 launched %s in %s, which was not asked for", nodeClaim.Name, ov.InstanceType, aws.ToString(ov.SubnetId))
		}
		// A reserved launch is on-demand to EC2; it stays reserved here.
		if lc := string(inst.Lifecycle); lc != "" && capacityType != apiv1.CapacityTypeReserved {
			o.offering.CapacityType = lifecycleCapacityType(lc)
		}
		if o.offering.ReservationID != "" {
			p.reservationLaunches.launched(o.offering.ReservationID)
		}
		id := inst.InstanceIds[0]
		log.FromContext(ctx).V(1).Info("launched instance", "instance", id, "instance-type", o.it.Name, "zone", o.offering.Zone, "capacity-type", o.offering.CapacityType)
		return launchedNodeClaim(nodeClaim, nc, o, id), nil
	}
	return nil, nil
}

// refusedByIAM tells whether any of a fleet's errors is IAM refusing the launch.
func refusedByIAM(errs []ec2types.CreateFleetError) bool {
	return slices.ContainsFunc(errs, func(e ec2types.CreateFleetError) bool {
		return aws.ToString(e.ErrorCode) == "UnauthorizedOperation"
	})
}

// launchTagSpecifications tag everything a launch creates, as the documented IAM policy requires the cluster tag in
// the request on each (docs/aws-iam.md): the fleet, instance, volume and network interface, and the spot instance
// request of a spot launch only (EC2 refuses that tag specification on an on-demand fleet).
func launchTagSpecifications(tags map[string]string, capacityType string) []ec2types.TagSpecification {
	types := []ec2types.ResourceType{ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance,
		ec2types.ResourceTypeVolume, ec2types.ResourceTypeNetworkInterface}
	if capacityType == apiv1.CapacityTypeSpot {
		types = append(types, ec2types.ResourceTypeSpotInstancesRequest)
	}
	specs := make([]ec2types.TagSpecification, 0, len(types))
	for _, rt := range types {
		specs = append(specs, ec2types.TagSpecification{ResourceType: rt, Tags: toEC2Tags(tags)})
	}
	return specs
}

// fleetToken identifies one CreateFleet call: the NodeClaim, the time and everything asked for.
func fleetToken(nodeClaim *apiv1.NodeClaim, now time.Time, configs []ec2types.FleetLaunchTemplateConfigRequest, capacityType string) string {
	var asked []string
	for _, c := range configs {
		for _, o := range c.Overrides {
			asked = append(asked, aws.ToString(c.LaunchTemplateSpecification.LaunchTemplateName)+"|"+string(o.InstanceType)+"|"+aws.ToString(o.SubnetId))
		}
	}
	return hashOf(nodeClaim.UID, nodeClaim.Name, now.UnixNano(), capacityType, asked)
}

// recordFleetErrors marks the pools CreateFleet found out of capacity unavailable and returns them, with the other
// errors as messages.
func (p *Provider) recordFleetErrors(ctx context.Context, errs []ec2types.CreateFleetError, byKey map[[2]string]launchOption, capacityType string) (failed, other []string) {
	spotRefused := false
	for _, e := range errs {
		code := aws.ToString(e.ErrorCode)
		var typ, subnet, zone string
		if lt := e.LaunchTemplateAndOverrides; lt != nil && lt.Overrides != nil {
			typ, subnet, zone = string(lt.Overrides.InstanceType), aws.ToString(lt.Overrides.SubnetId), aws.ToString(lt.Overrides.AvailabilityZone)
		}
		if zone == "" {
			zone = byKey[[2]string{typ, subnet}].offering.Zone
		}
		ct := capacityType
		if e.Lifecycle != "" && capacityType != apiv1.CapacityTypeReserved {
			ct = lifecycleCapacityType(string(e.Lifecycle))
		}
		if id := byKey[[2]string{typ, subnet}].offering.ReservationID; ct == apiv1.CapacityTypeReserved && id != "" {
			if typ != "" && zone != "" && slices.Contains(reservationCapacityErrorCodes, code) {
				p.unavailable.MarkUnavailable(typ, zone, reservedCapacityType(id))
				failed = append(failed, fmt.Sprintf("%s/%s/reserved %s (%s)", typ, zone, id, code))
				continue
			}
		}
		if ct == apiv1.CapacityTypeSpot && slices.Contains(spotRoleErrorCodes, code) {
			if !spotRefused {
				spotRefused = true
				failed = append(failed, p.markSpotRefused(ctx, code))
			}
			continue
		}
		if typ != "" && zone != "" && slices.Contains(capacityErrorCodes, code) {
			p.unavailable.MarkUnavailable(typ, zone, ct)
			failed = append(failed, fmt.Sprintf("%s/%s/%s (%s)", typ, zone, ct, code))
			continue
		}
		other = append(other, fmt.Sprintf("%s %s: %s", code, typ, aws.ToString(e.ErrorMessage)))
	}
	return failed, other
}

// markSpotRefused takes spot out as a whole after EC2 refused it for the account, and says how to fix it.
func (p *Provider) markSpotRefused(ctx context.Context, code string) string {
	p.unavailable.MarkCapacityTypeUnavailable(apiv1.CapacityTypeSpot)
	log.FromContext(ctx).Error(nil, "EC2 refuses spot for this account; launching on-demand where allowed until the refusal expires. "+
		"Create the spot service-linked role once: aws iam create-service-linked-role --aws-service-name spot.amazonaws.com",
		"code", code)
	return fmt.Sprintf("spot (%s)", code)
}

func lifecycleCapacityType(lifecycle string) string {
	if lifecycle == string(ec2types.InstanceLifecycleSpot) {
		return apiv1.CapacityTypeSpot
	}
	return apiv1.CapacityTypeOnDemand
}

// launchTemplateConfigs groups the options by launch template (AMI and what the user data says about the
// instance type: max pods and reservations) and makes sure each template exists. It returns the configs and the
// templates' names.
func (p *Provider) launchTemplateConfigs(ctx context.Context, nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, options []launchOption) ([]ec2types.FleetLaunchTemplateConfigRequest, []string, error) {
	family := amiFamily(nc)
	evictionHard := map[string]string{"memory.available": "100Mi", "nodefs.available": "10%"}
	if nc.Spec.Kubelet != nil {
		maps.Copy(evictionHard, nc.Spec.Kubelet.EvictionHard)
	}
	// The node registers unschedulable (apiv1.UnregisteredTaint) until Tailor has synced it and published where the
	// plan put the pending pods; the nodeclaim lifecycle controller removes the taint.
	taints := append(append([]corev1.Taint{apiv1.UnregisteredTaint}, nodeClaim.Spec.Taints...), nodeClaim.Spec.StartupTaints...)
	var (
		configs []ec2types.FleetLaunchTemplateConfigRequest
		names   []string
		index   = map[string]int{}
	)
	for _, o := range options {
		pods := o.it.Capacity[corev1.ResourcePods]
		b := bootstrap{
			clusterName: p.opts.ClusterName, clusterEndpoint: p.opts.ClusterEndpoint,
			clusterCABundle: p.opts.ClusterCABundle, clusterCIDR: p.opts.ClusterCIDR,
			labels: userDataLabels(nodeClaim.Labels), taints: taints,
			maxPods: pods.Value(), kubeReserved: o.it.Overhead.KubeReserved, systemReserved: o.it.Overhead.SystemReserved,
			evictionHard: evictionHard, customUserData: aws.ToString(nc.Spec.UserData),
		}
		ud, err := userData(family, b)
		if err != nil {
			return nil, nil, fmt.Errorf("EC2NodeClass %q: %w", nc.Name, err)
		}
		spec := &launchTemplateSpec{
			NodeClass: nc.Name, AMI: o.ami.ID, UserData: ud,
			SecurityGroupIDs: securityGroupIDs(nc.Status.SecurityGroups), InstanceProfile: nc.Status.InstanceProfile,
			BlockDevices: blockDevices(family, nc.Spec.BlockDeviceMappings), Metadata: metadataOptions(nc.Spec.MetadataOptions),
			PublicIP: nc.Spec.AssociatePublicIPAddress, nodeClassHash: NodeClassHash(nc),
			CapacityReservationID: o.offering.ReservationID,
		}
		name := spec.name(p.opts.ClusterName)
		i, ok := index[name]
		if !ok {
			if _, err := p.templates.ensure(ctx, p.opts.ClusterName, spec); err != nil {
				return nil, nil, err
			}
			i = len(configs)
			index[name] = i
			names = append(names, name)
			configs = append(configs, ec2types.FleetLaunchTemplateConfigRequest{
				LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{
					LaunchTemplateName: aws.String(name), Version: aws.String("$Latest"),
				},
			})
		}
		configs[i].Overrides = append(configs[i].Overrides, ec2types.FleetLaunchTemplateOverridesRequest{
			InstanceType:     ec2types.InstanceType(o.it.Name),
			SubnetId:         aws.String(o.subnet.ID),
			AvailabilityZone: aws.String(o.subnet.Zone),
		})
	}
	return configs, names, nil
}

// instanceTags are the tags of a NodeClaim's instance and volumes: the node class's, then Tailor's (which win).
func instanceTags(cluster string, nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass) map[string]string {
	tags := maps.Clone(nc.Spec.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[TagCluster] = cluster
	tags[tagKubernetesClusterPrefix+cluster] = "owned"
	tags[TagNodeClaim] = nodeClaim.Name
	tags[TagEC2NodeClass] = nc.Name
	tags[TagName] = nodeClaim.Name
	tags[TagNodeClassHash] = NodeClassHash(nc)
	if pool := nodeClaim.Labels[apiv1.NodePoolLabelKey]; pool != "" {
		tags[TagNodePool] = pool
	}
	return tags
}

// launchedNodeClaim is the NodeClaim as Create returns it: labels of what launched, the node class hash, and the
// provider ID, image, capacity and allocatable in its status.
func launchedNodeClaim(nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, o launchOption, instanceID string) *apiv1.NodeClaim {
	out := nodeClaim.DeepCopy()
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	maps.Copy(out.Labels, o.it.Labels)
	out.Labels[apiv1.ZoneLabelKey] = o.offering.Zone
	out.Labels[apiv1.CapacityTypeLabelKey] = o.offering.CapacityType
	if o.offering.ReservationID != "" {
		out.Labels[apiv1.CapacityReservationIDLabelKey] = o.offering.ReservationID
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[AnnotationNodeClassHash] = NodeClassHash(nc)
	out.Status.ProviderID = providerID(o.offering.Zone, instanceID)
	out.Status.ImageID = o.ami.ID
	out.Status.Capacity = o.it.Capacity.DeepCopy()
	out.Status.Allocatable = o.it.Allocatable()
	return out
}

// addNodeName records on a just-launched NodeClaim the name its node will register with: the instance's private DNS
// name, which EC2 assigns at launch. It is an optimisation (the provisioner reserves the planned pods' room on that
// node), so a failed or empty answer only leaves it out; EC2 may not list an instance for a moment after CreateFleet.
func (p *Provider) addNodeName(ctx context.Context, nc *apiv1.NodeClaim) {
	id, err := ParseProviderID(nc.Status.ProviderID)
	if err != nil {
		return
	}
	inst, err := p.instanceByID(ctx, id)
	if err != nil || inst == nil {
		log.FromContext(ctx).V(1).Info("could not read the private DNS name of the launched instance", "instance", id, "error", fmt.Sprint(err))
		return
	}
	setNodeName(nc, inst)
}

// setNodeName puts the instance's private DNS name, if it has one, on the NodeClaim.
func setNodeName(nc *apiv1.NodeClaim, inst *ec2types.Instance) {
	if name := aws.ToString(inst.PrivateDnsName); name != "" {
		nc.Annotations[apiv1.NodeNameAnnotationKey] = name
	}
}

// existingNodeClaim describes an instance an earlier Create launched for the NodeClaim, as Create would have.
func (p *Provider) existingNodeClaim(ctx context.Context, nodeClaim *apiv1.NodeClaim, nc *apiv1.EC2NodeClass, inst *ec2types.Instance) (*apiv1.NodeClaim, error) {
	zone := ""
	if inst.Placement != nil {
		zone = aws.ToString(inst.Placement.AvailabilityZone)
	}
	o := launchOption{
		offering: cloudprovider.Offering{Zone: zone, CapacityType: instanceCapacityType(inst), ReservationID: aws.ToString(inst.CapacityReservationId)},
		ami:      apiv1.AMI{ID: aws.ToString(inst.ImageId)},
	}
	types, err := p.instanceTypesFor(ctx, nc)
	if err != nil {
		return nil, err
	}
	for _, it := range types {
		if it.Name == string(inst.InstanceType) {
			o.it = it
		}
	}
	if o.it == nil {
		o.it = &cloudprovider.InstanceType{Name: string(inst.InstanceType), Labels: map[string]string{apiv1.InstanceTypeLabelKey: string(inst.InstanceType)}}
	}
	out := launchedNodeClaim(nodeClaim, nc, o, aws.ToString(inst.InstanceId))
	if h := fromEC2Tags(inst.Tags)[TagNodeClassHash]; h != "" {
		// The hash of the node class the instance launched from, which may have changed since.
		out.Annotations[AnnotationNodeClassHash] = h
	}
	setNodeName(out, inst)
	return out, nil
}
