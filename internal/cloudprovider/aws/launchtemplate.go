package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"k8s.io/utils/clock"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// launchTemplateSpec is everything a launch template holds. Its hash names the template, so a template never
// changes once made: a different spec is a different template.
type launchTemplateSpec struct {
	NodeClass        string                     `json:"nodeClass"`
	AMI              string                     `json:"ami"`
	UserData         string                     `json:"userData"`
	SecurityGroupIDs []string                   `json:"securityGroupIDs"`
	InstanceProfile  string                     `json:"instanceProfile"`
	BlockDevices     []apiv1.BlockDeviceMapping `json:"blockDevices"`
	Metadata         apiv1.MetadataOptions      `json:"metadata"`
	PublicIP         *bool                      `json:"publicIP,omitempty"`
	Tags             map[string]string          `json:"tags"`
	// CapacityReservationID is the reservation launches from the template target; "" for the open market.
	CapacityReservationID string `json:"capacityReservationID,omitempty"`
	// nodeClassHash is NodeClassHash of the node class the spec was made from. It is a tag of the template, not part
	// of its name: the garbage collector compares it with the node class's current hash.
	nodeClassHash string
}

// launchTemplates creates launch templates on demand and remembers their ids by name, and when each was last used.
type launchTemplates struct {
	ec2 EC2API
	clk clock.PassiveClock
	// owner are the tags marking a template as this cluster's (TagCluster, and TagClusterUID when known).
	owner map[string]string

	mu     sync.Mutex
	byName map[string]string
	usedAt map[string]time.Time
}

// name is the template's name: tailor/<cluster>/<hash of the spec>.
func (s *launchTemplateSpec) name(cluster string) string {
	return launchTemplateNamePrefix + "/" + cluster + "/" + hashOf(s)
}

// ensure returns the name of the template for spec, creating it when it does not exist.
func (l *launchTemplates) ensure(ctx context.Context, cluster string, spec *launchTemplateSpec) (string, error) {
	name := spec.name(cluster)
	l.mu.Lock()
	_, ok := l.byName[name]
	l.usedAt[name] = l.clk.Now()
	l.mu.Unlock()
	if ok {
		return name, nil
	}
	id, err := l.find(ctx, name)
	if err != nil {
		return "", err
	}
	if id == "" {
		id, err = l.create(ctx, cluster, name, spec)
		if err != nil {
			return "", err
		}
	}
	l.mu.Lock()
	l.byName[name] = id
	l.mu.Unlock()
	return name, nil
}

// forget drops a template from the cache, after EC2 said it does not exist (someone deleted it).
func (l *launchTemplates) forget(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byName, name)
}

// lastUsed is when this process last launched with the template, false when it never did.
func (l *launchTemplates) lastUsed(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.usedAt[name]
	return t, ok
}

func (l *launchTemplates) find(ctx context.Context, name string) (string, error) {
	out, err := l.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}})
	if err != nil {
		if errorCode(err) == "InvalidLaunchTemplateName.NotFoundException" {
			return "", nil
		}
		return "", fmt.Errorf("describing launch template %s: %w", name, err)
	}
	for _, lt := range out.LaunchTemplates {
		if aws.ToString(lt.LaunchTemplateName) == name {
			return aws.ToString(lt.LaunchTemplateId), nil
		}
	}
	return "", nil
}

func (l *launchTemplates) create(ctx context.Context, cluster, name string, spec *launchTemplateSpec) (string, error) {
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:             aws.String(spec.AMI),
		UserData:            aws.String(encodeUserData(spec.UserData)),
		BlockDeviceMappings: blockDeviceMappings(spec.BlockDevices),
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpEndpoint:            ec2types.LaunchTemplateInstanceMetadataEndpointState(spec.Metadata.HTTPEndpoint),
			HttpProtocolIpv6:        ec2types.LaunchTemplateInstanceMetadataProtocolIpv6(spec.Metadata.HTTPProtocolIPv6),
			HttpPutResponseHopLimit: aws.Int32(int32(aws.ToInt64(spec.Metadata.HTTPPutResponseHopLimit))),
			HttpTokens:              ec2types.LaunchTemplateHttpTokensState(spec.Metadata.HTTPTokens),
		},
	}
	if spec.CapacityReservationID != "" {
		data.CapacityReservationSpecification = &ec2types.LaunchTemplateCapacityReservationSpecificationRequest{
			CapacityReservationTarget: &ec2types.CapacityReservationTarget{CapacityReservationId: aws.String(spec.CapacityReservationID)},
		}
	}
	if spec.InstanceProfile != "" {
		data.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(spec.InstanceProfile)}
	}
	if spec.PublicIP != nil {
		// A public IP is a property of the network interface, and then the groups must go there too.
		data.NetworkInterfaces = []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecificationRequest{{
			DeviceIndex: aws.Int32(0), AssociatePublicIpAddress: spec.PublicIP, Groups: spec.SecurityGroupIDs,
		}}
	} else {
		data.SecurityGroupIds = spec.SecurityGroupIDs
	}
	out, err := l.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: data,
		TagSpecifications: []ec2types.TagSpecification{{
			ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: toEC2Tags(ownedTags(l.owner, cluster, map[string]string{TagEC2NodeClass: spec.NodeClass,
				TagNodeClassHash: spec.nodeClassHash, TagAMI: spec.AMI})),
		}},
	})
	if err != nil {
		if errorCode(err) == "InvalidLaunchTemplateName.AlreadyExistsException" {
			// Another launch got there first; its template is the same by construction.
			id, ferr := l.find(ctx, name)
			if ferr == nil && id != "" {
				return id, nil
			}
		}
		return "", fmt.Errorf("creating launch template %s: %w", name, err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId), nil
}

// defaultMetadataOptions require IMDSv2 and keep the token from pods (hop limit 1).
func metadataOptions(m *apiv1.MetadataOptions) apiv1.MetadataOptions {
	out := apiv1.MetadataOptions{HTTPEndpoint: "enabled", HTTPProtocolIPv6: "disabled", HTTPPutResponseHopLimit: aws.Int64(1), HTTPTokens: "required"}
	if m == nil {
		return out
	}
	if m.HTTPEndpoint != "" {
		out.HTTPEndpoint = m.HTTPEndpoint
	}
	if m.HTTPProtocolIPv6 != "" {
		out.HTTPProtocolIPv6 = m.HTTPProtocolIPv6
	}
	if m.HTTPPutResponseHopLimit != nil {
		out.HTTPPutResponseHopLimit = m.HTTPPutResponseHopLimit
	}
	if m.HTTPTokens != "" {
		out.HTTPTokens = m.HTTPTokens
	}
	return out
}

// blockDevices are the node class's disks, or the AMI family's default root volume: 20GiB of encrypted gp3 on
// /dev/xvda (Bottlerocket keeps its data volume on /dev/xvdb).
func blockDevices(family string, bdms []apiv1.BlockDeviceMapping) []apiv1.BlockDeviceMapping {
	if len(bdms) > 0 {
		return bdms
	}
	device := "/dev/xvda"
	if family == AMIFamilyBottlerocket {
		device = "/dev/xvdb"
	}
	size := rootVolumeSize(nil)
	return []apiv1.BlockDeviceMapping{{
		DeviceName: device, RootVolume: true,
		EBS: apiv1.BlockDevice{VolumeSize: &size, VolumeType: "gp3", Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true)},
	}}
}

func blockDeviceMappings(bdms []apiv1.BlockDeviceMapping) []ec2types.LaunchTemplateBlockDeviceMappingRequest {
	out := make([]ec2types.LaunchTemplateBlockDeviceMappingRequest, 0, len(bdms))
	for _, m := range bdms {
		ebs := &ec2types.LaunchTemplateEbsBlockDeviceRequest{
			Encrypted:           m.EBS.Encrypted,
			DeleteOnTermination: m.EBS.DeleteOnTermination,
		}
		if m.EBS.VolumeSize != nil {
			gib := (m.EBS.VolumeSize.Value() + (1<<30 - 1)) >> 30
			ebs.VolumeSize = aws.Int32(int32(gib))
		}
		if m.EBS.VolumeType != "" {
			ebs.VolumeType = ec2types.VolumeType(m.EBS.VolumeType)
		} else {
			ebs.VolumeType = ec2types.VolumeTypeGp3
		}
		if m.EBS.IOPS != nil {
			ebs.Iops = aws.Int32(int32(*m.EBS.IOPS))
		}
		if m.EBS.Throughput != nil {
			ebs.Throughput = aws.Int32(int32(*m.EBS.Throughput))
		}
		if m.EBS.KMSKeyID != "" {
			ebs.KmsKeyId = aws.String(m.EBS.KMSKeyID)
		}
		if m.EBS.SnapshotID != "" {
			ebs.SnapshotId = aws.String(m.EBS.SnapshotID)
		}
		out = append(out, ec2types.LaunchTemplateBlockDeviceMappingRequest{DeviceName: aws.String(m.DeviceName), Ebs: ebs})
	}
	return out
}

// ownedTags are tags plus the owner tags (TagCluster defaults to cluster when owner does not set it).
func ownedTags(owner map[string]string, cluster string, tags map[string]string) map[string]string {
	tags[TagCluster] = cluster
	maps.Copy(tags, owner)
	return tags
}

func toEC2Tags(tags map[string]string) []ec2types.Tag {
	out := make([]ec2types.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

func fromEC2Tags(tags []ec2types.Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return out
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// securityGroupIDs are the resolved groups' ids, sorted.
func securityGroupIDs(groups []apiv1.SecurityGroup) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		out = append(out, g.ID)
	}
	slices.Sort(out)
	return out
}
