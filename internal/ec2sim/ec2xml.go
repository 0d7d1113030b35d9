package ec2sim

import (
	"encoding/xml"
)

// The XML shapes of EC2 Query responses, named as EC2 names their elements. Lists are <xxxSet><item>…</item>.

const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func xmlTags(tags map[string]string) []xmlTag {
	out := make([]xmlTag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		out = append(out, xmlTag{Key: k, Value: tags[k]})
	}
	return out
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

// ---- instances ----

type xmlInstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type xmlPlacement struct {
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	Tenancy            string `xml:"tenancy"`
}

type xmlGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName,omitempty"`
}

type xmlStateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type xmlIAMProfile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type xmlNetworkInterface struct {
	NetworkInterfaceID string     `xml:"networkInterfaceId"`
	SubnetID           string     `xml:"subnetId"`
	VpcID              string     `xml:"vpcId"`
	PrivateIPAddress   string     `xml:"privateIpAddress"`
	PrivateDNSName     string     `xml:"privateDnsName"`
	Status             string     `xml:"status"`
	Groups             []xmlGroup `xml:"groupSet>item"`
}

type xmlInstance struct {
	InstanceID            string                `xml:"instanceId"`
	ImageID               string                `xml:"imageId"`
	InstanceState         xmlInstanceState      `xml:"instanceState"`
	PrivateDNSName        string                `xml:"privateDnsName"`
	DNSName               string                `xml:"dnsName"`
	Reason                string                `xml:"reason"`
	AmiLaunchIndex        int                   `xml:"amiLaunchIndex"`
	InstanceType          string                `xml:"instanceType"`
	LaunchTime            string                `xml:"launchTime"`
	Placement             xmlPlacement          `xml:"placement"`
	Monitoring            string                `xml:"monitoring>state"`
	SubnetID              string                `xml:"subnetId"`
	VpcID                 string                `xml:"vpcId"`
	PrivateIPAddress      string                `xml:"privateIpAddress"`
	Groups                []xmlGroup            `xml:"groupSet>item"`
	StateReason           *xmlStateReason       `xml:"stateReason,omitempty"`
	Architecture          string                `xml:"architecture"`
	RootDeviceType        string                `xml:"rootDeviceType"`
	RootDeviceName        string                `xml:"rootDeviceName"`
	InstanceLifecycle     string                `xml:"instanceLifecycle,omitempty"`
	CapacityReservationID string                `xml:"capacityReservationId,omitempty"`
	SpotInstanceRequestID string                `xml:"spotInstanceRequestId,omitempty"`
	VirtualizationType    string                `xml:"virtualizationType"`
	ClientToken           string                `xml:"clientToken,omitempty"`
	Tags                  []xmlTag              `xml:"tagSet>item"`
	Hypervisor            string                `xml:"hypervisor"`
	NetworkInterfaces     []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	IAMInstanceProfile    *xmlIAMProfile        `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized          bool                  `xml:"ebsOptimized"`
	EnaSupport            bool                  `xml:"enaSupport"`
	BootMode              string                `xml:"bootMode,omitempty"`
	PlatformDetails       string                `xml:"platformDetails"`
	UsageOperation        string                `xml:"usageOperation"`
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	RequesterID   string        `xml:"requesterId,omitempty"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type describeInstancesResponse struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []xmlReservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type xmlStateChange struct {
	InstanceID    string           `xml:"instanceId"`
	CurrentState  xmlInstanceState `xml:"currentState"`
	PreviousState xmlInstanceState `xml:"previousState"`
}

type terminateInstancesResponse struct {
	XMLName   xml.Name         `xml:"TerminateInstancesResponse"`
	Xmlns     string           `xml:"xmlns,attr"`
	RequestID string           `xml:"requestId"`
	Instances []xmlStateChange `xml:"instancesSet>item"`
}

type createTagsResponse struct {
	XMLName   xml.Name `xml:"CreateTagsResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
}

// ---- fleets ----

type xmlFleetTemplateSpec struct {
	LaunchTemplateID   string `xml:"launchTemplateId,omitempty"`
	LaunchTemplateName string `xml:"launchTemplateName,omitempty"`
	Version            string `xml:"version,omitempty"`
}

type xmlFleetOverrides struct {
	InstanceType     string `xml:"instanceType,omitempty"`
	SubnetID         string `xml:"subnetId,omitempty"`
	AvailabilityZone string `xml:"availabilityZone,omitempty"`
	ImageID          string `xml:"imageId,omitempty"`
	MaxPrice         string `xml:"maxPrice,omitempty"`
	Priority         string `xml:"priority,omitempty"`
}

type xmlLaunchTemplateAndOverrides struct {
	LaunchTemplateSpecification xmlFleetTemplateSpec `xml:"launchTemplateSpecification"`
	Overrides                   xmlFleetOverrides    `xml:"overrides"`
}

type xmlFleetInstance struct {
	LaunchTemplateAndOverrides xmlLaunchTemplateAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle                  string                        `xml:"lifecycle"`
	InstanceIDs                []string                      `xml:"instanceIds>item"`
	InstanceType               string                        `xml:"instanceType"`
}

type xmlFleetError struct {
	LaunchTemplateAndOverrides xmlLaunchTemplateAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle                  string                        `xml:"lifecycle,omitempty"`
	ErrorCode                  string                        `xml:"errorCode"`
	ErrorMessage               string                        `xml:"errorMessage"`
}

type createFleetResponse struct {
	XMLName   xml.Name           `xml:"CreateFleetResponse"`
	Xmlns     string             `xml:"xmlns,attr"`
	RequestID string             `xml:"requestId"`
	FleetID   string             `xml:"fleetId"`
	Errors    []xmlFleetError    `xml:"errorSet>item"`
	Instances []xmlFleetInstance `xml:"fleetInstanceSet>item"`
}

// ---- launch templates ----

type xmlLaunchTemplate struct {
	LaunchTemplateID     string   `xml:"launchTemplateId"`
	LaunchTemplateName   string   `xml:"launchTemplateName"`
	CreateTime           string   `xml:"createTime"`
	CreatedBy            string   `xml:"createdBy"`
	DefaultVersionNumber int64    `xml:"defaultVersionNumber"`
	LatestVersionNumber  int64    `xml:"latestVersionNumber"`
	Tags                 []xmlTag `xml:"tagSet>item"`
}

type createLaunchTemplateResponse struct {
	XMLName        xml.Name          `xml:"CreateLaunchTemplateResponse"`
	Xmlns          string            `xml:"xmlns,attr"`
	RequestID      string            `xml:"requestId"`
	LaunchTemplate xmlLaunchTemplate `xml:"launchTemplate"`
}

type describeLaunchTemplatesResponse struct {
	XMLName         xml.Name            `xml:"DescribeLaunchTemplatesResponse"`
	Xmlns           string              `xml:"xmlns,attr"`
	RequestID       string              `xml:"requestId"`
	LaunchTemplates []xmlLaunchTemplate `xml:"launchTemplates>item"`
	NextToken       string              `xml:"nextToken,omitempty"`
}

type deleteLaunchTemplateResponse struct {
	XMLName        xml.Name          `xml:"DeleteLaunchTemplateResponse"`
	Xmlns          string            `xml:"xmlns,attr"`
	RequestID      string            `xml:"requestId"`
	LaunchTemplate xmlLaunchTemplate `xml:"launchTemplate"`
}

// ---- instance types ----

type xmlGPU struct {
	Name         string `xml:"name"`
	Manufacturer string `xml:"manufacturer"`
	Count        int64  `xml:"count"`
	MemoryMiB    int64  `xml:"memoryInfo>sizeInMiB"`
}

type xmlGPUInfo struct {
	GPUs             []xmlGPU `xml:"gpus>item"`
	TotalGPUMemoryMB int64    `xml:"totalGpuMemoryInMiB"`
}

type xmlNetworkCard struct {
	NetworkCardIndex         int    `xml:"networkCardIndex"`
	NetworkPerformance       string `xml:"networkPerformance"`
	MaximumNetworkInterfaces int64  `xml:"maximumNetworkInterfaces"`
}

type xmlNetworkInfo struct {
	NetworkPerformance        string           `xml:"networkPerformance"`
	MaximumNetworkInterfaces  int64            `xml:"maximumNetworkInterfaces"`
	MaximumNetworkCards       int              `xml:"maximumNetworkCards"`
	DefaultNetworkCardIndex   int              `xml:"defaultNetworkCardIndex"`
	NetworkCards              []xmlNetworkCard `xml:"networkCards>item"`
	IPv4AddressesPerInterface int64            `xml:"ipv4AddressesPerInterface"`
	IPv6AddressesPerInterface int64            `xml:"ipv6AddressesPerInterface"`
	IPv6Supported             bool             `xml:"ipv6Supported"`
	EnaSupport                string           `xml:"enaSupport"`
	EfaSupported              bool             `xml:"efaSupported"`
}

type xmlEbsInfo struct {
	EbsOptimizedSupport string `xml:"ebsOptimizedSupport"`
	EncryptionSupport   string `xml:"encryptionSupport"`
	NvmeSupport         string `xml:"nvmeSupport"`
}

type xmlInstanceTypeInfo struct {
	InstanceType                  string         `xml:"instanceType"`
	CurrentGeneration             bool           `xml:"currentGeneration"`
	FreeTierEligible              bool           `xml:"freeTierEligible"`
	SupportedUsageClasses         []string       `xml:"supportedUsageClasses>item"`
	SupportedRootDeviceTypes      []string       `xml:"supportedRootDeviceTypes>item"`
	SupportedVirtualizationTypes  []string       `xml:"supportedVirtualizationTypes>item"`
	BareMetal                     bool           `xml:"bareMetal"`
	Hypervisor                    string         `xml:"hypervisor,omitempty"`
	SupportedArchitectures        []string       `xml:"processorInfo>supportedArchitectures>item"`
	Manufacturer                  string         `xml:"processorInfo>manufacturer"`
	DefaultVCPUs                  int64          `xml:"vCpuInfo>defaultVCpus"`
	DefaultCores                  int64          `xml:"vCpuInfo>defaultCores"`
	DefaultThreadsPerCore         int64          `xml:"vCpuInfo>defaultThreadsPerCore"`
	MemorySizeMiB                 int64          `xml:"memoryInfo>sizeInMiB"`
	InstanceStorageSupported      bool           `xml:"instanceStorageSupported"`
	EbsInfo                       xmlEbsInfo     `xml:"ebsInfo"`
	NetworkInfo                   xmlNetworkInfo `xml:"networkInfo"`
	GPUInfo                       *xmlGPUInfo    `xml:"gpuInfo,omitempty"`
	PlacementGroupStrategies      []string       `xml:"placementGroupInfo>supportedStrategies>item"`
	HibernationSupported          bool           `xml:"hibernationSupported"`
	BurstablePerformanceSupported bool           `xml:"burstablePerformanceSupported"`
	DedicatedHostsSupported       bool           `xml:"dedicatedHostsSupported"`
	AutoRecoverySupported         bool           `xml:"autoRecoverySupported"`
	SupportedBootModes            []string       `xml:"supportedBootModes>item"`
	NitroEnclavesSupport          string         `xml:"nitroEnclavesSupport,omitempty"`
	NitroTpmSupport               string         `xml:"nitroTpmSupport,omitempty"`
	PhcSupport                    string         `xml:"phcSupport,omitempty"`
}

type describeInstanceTypesResponse struct {
	XMLName       xml.Name              `xml:"DescribeInstanceTypesResponse"`
	Xmlns         string                `xml:"xmlns,attr"`
	RequestID     string                `xml:"requestId"`
	InstanceTypes []xmlInstanceTypeInfo `xml:"instanceTypeSet>item"`
	NextToken     string                `xml:"nextToken,omitempty"`
}

type xmlTypeOffering struct {
	InstanceType string `xml:"instanceType"`
	LocationType string `xml:"locationType"`
	Location     string `xml:"location"`
}

type describeInstanceTypeOfferingsResponse struct {
	XMLName   xml.Name          `xml:"DescribeInstanceTypeOfferingsResponse"`
	Xmlns     string            `xml:"xmlns,attr"`
	RequestID string            `xml:"requestId"`
	Offerings []xmlTypeOffering `xml:"instanceTypeOfferingSet>item"`
	NextToken string            `xml:"nextToken,omitempty"`
}

// ---- network, images, prices ----

type xmlZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneID             string `xml:"zoneId"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
	ZoneType           string `xml:"zoneType"`
	OptInStatus        string `xml:"optInStatus"`
}

type describeAvailabilityZonesResponse struct {
	XMLName   xml.Name  `xml:"DescribeAvailabilityZonesResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	RequestID string    `xml:"requestId"`
	Zones     []xmlZone `xml:"availabilityZoneInfo>item"`
}

type xmlSubnet struct {
	SubnetID                string   `xml:"subnetId"`
	SubnetArn               string   `xml:"subnetArn"`
	State                   string   `xml:"state"`
	VpcID                   string   `xml:"vpcId"`
	OwnerID                 string   `xml:"ownerId"`
	CidrBlock               string   `xml:"cidrBlock"`
	AvailableIPAddressCount int      `xml:"availableIpAddressCount"`
	AvailabilityZone        string   `xml:"availabilityZone"`
	AvailabilityZoneID      string   `xml:"availabilityZoneId"`
	DefaultForAz            bool     `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool     `xml:"mapPublicIpOnLaunch"`
	Tags                    []xmlTag `xml:"tagSet>item"`
}

type describeSubnetsResponse struct {
	XMLName   xml.Name    `xml:"DescribeSubnetsResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	RequestID string      `xml:"requestId"`
	Subnets   []xmlSubnet `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

type xmlSecurityGroup struct {
	OwnerID          string   `xml:"ownerId"`
	GroupID          string   `xml:"groupId"`
	GroupName        string   `xml:"groupName"`
	GroupDescription string   `xml:"groupDescription"`
	VpcID            string   `xml:"vpcId"`
	SecurityGroupArn string   `xml:"securityGroupArn"`
	Tags             []xmlTag `xml:"tagSet>item"`
}

type describeSecurityGroupsResponse struct {
	XMLName   xml.Name           `xml:"DescribeSecurityGroupsResponse"`
	Xmlns     string             `xml:"xmlns,attr"`
	RequestID string             `xml:"requestId"`
	Groups    []xmlSecurityGroup `xml:"securityGroupInfo>item"`
	NextToken string             `xml:"nextToken,omitempty"`
}

type xmlImage struct {
	ImageID            string   `xml:"imageId"`
	ImageLocation      string   `xml:"imageLocation"`
	ImageState         string   `xml:"imageState"`
	ImageOwnerID       string   `xml:"imageOwnerId"`
	CreationDate       string   `xml:"creationDate"`
	IsPublic           bool     `xml:"isPublic"`
	Architecture       string   `xml:"architecture"`
	ImageType          string   `xml:"imageType"`
	ImageOwnerAlias    string   `xml:"imageOwnerAlias,omitempty"`
	Name               string   `xml:"name"`
	Description        string   `xml:"description,omitempty"`
	RootDeviceType     string   `xml:"rootDeviceType"`
	RootDeviceName     string   `xml:"rootDeviceName"`
	VirtualizationType string   `xml:"virtualizationType"`
	Hypervisor         string   `xml:"hypervisor"`
	EnaSupport         bool     `xml:"enaSupport"`
	PlatformDetails    string   `xml:"platformDetails"`
	UsageOperation     string   `xml:"usageOperation"`
	Tags               []xmlTag `xml:"tagSet>item"`
}

type describeImagesResponse struct {
	XMLName   xml.Name   `xml:"DescribeImagesResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	RequestID string     `xml:"requestId"`
	Images    []xmlImage `xml:"imagesSet>item"`
	NextToken string     `xml:"nextToken,omitempty"`
}

type xmlSpotPrice struct {
	InstanceType       string `xml:"instanceType"`
	ProductDescription string `xml:"productDescription"`
	SpotPrice          string `xml:"spotPrice"`
	Timestamp          string `xml:"timestamp"`
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
}

type describeSpotPriceHistoryResponse struct {
	XMLName   xml.Name       `xml:"DescribeSpotPriceHistoryResponse"`
	Xmlns     string         `xml:"xmlns,attr"`
	RequestID string         `xml:"requestId"`
	Prices    []xmlSpotPrice `xml:"spotPriceHistorySet>item"`
	NextToken string         `xml:"nextToken,omitempty"`
}
