package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EC2NodeClass holds the AWS details of nodes: where they go (subnets), how they are reached (security groups,
// public IP), what they boot (AMI, user data, disks), who they are (IAM role or instance profile) and how the kubelet
// is set up. NodePools refer to it by name in spec.template.spec.nodeClassRef.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=ec2nodeclasses,scope=Cluster,categories=tailor,shortName=ec2nc
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Role",type="string",JSONPath=".spec.role",priority=1
// +kubebuilder:printcolumn:name="InstanceProfile",type="string",JSONPath=".status.instanceProfile",priority=1
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type EC2NodeClass struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the AWS details of the nodes.
	// +required
	Spec EC2NodeClassSpec `json:"spec"`
	// status is what the selectors resolved to.
	// +optional
	Status EC2NodeClassStatus `json:"status,omitempty"`
}

// EC2NodeClassList is a list of EC2NodeClasses.
//
// +kubebuilder:object:root=true
type EC2NodeClassList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EC2NodeClass `json:"items"`
}

// EC2NodeClassSpec is the AWS details of nodes.
//
// +kubebuilder:validation:XValidation:rule="has(self.role) || has(self.instanceProfile)",message="one of role or instanceProfile is required: role names an IAM role Tailor makes an instance profile for, instanceProfile names an existing one"
// +kubebuilder:validation:XValidation:rule="!(has(self.role) && has(self.instanceProfile))",message="role and instanceProfile are mutually exclusive: set exactly one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.amiFamily) || !self.amiSelectorTerms.exists(t, has(t.alias))",message="amiFamily must not be set when amiSelectorTerms holds an alias: the alias names the family"
type EC2NodeClassSpec struct {
	// subnetSelectorTerms select the subnets nodes may launch in; a subnet matching any term is used. Each term
	// selects by tags, by name (the Name tag) or by id.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +listType=atomic
	// +required
	SubnetSelectorTerms []SubnetSelectorTerm `json:"subnetSelectorTerms"`
	// securityGroupSelectorTerms select the security groups nodes get; every group matching any term is attached.
	// Each term selects by tags, by name (the group name) or by id.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +listType=atomic
	// +required
	SecurityGroupSelectorTerms []SecurityGroupSelectorTerm `json:"securityGroupSelectorTerms"`
	// role is the name of the IAM role the nodes assume. Tailor does not call IAM: nodes launch with the existing
	// instance profile of the same name (the AWS console and most tooling create one alongside an EC2 role).
	// Exactly one of role and instanceProfile is set. It cannot change: create a new EC2NodeClass instead.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="role is immutable: create a new EC2NodeClass to use another role"
	// +optional
	Role string `json:"role,omitempty"`
	// instanceProfile is the name of an existing IAM instance profile the nodes use. Exactly one of role and
	// instanceProfile is set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +optional
	InstanceProfile string `json:"instanceProfile,omitempty"`
	// amiSelectorTerms select the AMIs nodes boot; for each instance type the newest matching AMI of the right
	// architecture is used. A term is either an alias such as "al2023@latest" (alone in the list) or selects by id,
	// name (with an optional owner) or tags.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=30
	// +kubebuilder:validation:XValidation:rule="!self.exists(t, has(t.alias)) || size(self) == 1",message="amiSelectorTerms with an alias must hold only that one term"
	// +listType=atomic
	// +required
	AMISelectorTerms []AMISelectorTerm `json:"amiSelectorTerms"`
	// amiFamily says how user data is laid out when the AMIs are chosen by id, name or tags: AL2023, AL2,
	// Bottlerocket, or Custom (user data passed as is, with no bootstrap added). With an alias, leave it unset.
	// Unset without an alias means Custom.
	// +kubebuilder:validation:Enum=AL2023;AL2;Bottlerocket;Custom
	// +optional
	AMIFamily string `json:"amiFamily,omitempty"`
	// userData is merged with the bootstrap script Tailor generates for the AMI family (with Custom it is used as is).
	// +kubebuilder:validation:MaxLength=16384
	// +optional
	UserData *string `json:"userData,omitempty"`
	// blockDeviceMappings are the nodes' disks. Unset gives the AMI family's default root volume.
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:XValidation:rule="size(self.filter(m, has(m.rootVolume) && m.rootVolume)) <= 1",message="blockDeviceMappings may mark at most one mapping as rootVolume"
	// +listType=atomic
	// +optional
	BlockDeviceMappings []BlockDeviceMapping `json:"blockDeviceMappings,omitempty"`
	// metadataOptions configure the instance metadata service. The default requires IMDSv2 tokens and a hop limit of
	// 1, so pods without host networking cannot reach the node's credentials.
	// +kubebuilder:default={httpEndpoint: enabled, httpProtocolIPv6: disabled, httpPutResponseHopLimit: 1, httpTokens: required}
	// +optional
	MetadataOptions *MetadataOptions `json:"metadataOptions,omitempty"`
	// tags are put, next to Tailor's own tags, on what each launch creates: the EC2 fleet, the instance, its volumes
	// and network interfaces, and the spot instance request of a spot launch. Launch templates carry only Tailor's
	// own tags.
	// +kubebuilder:validation:MaxProperties=40
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) >= 1 && size(k) <= 128 && size(self[k]) <= 256)",message="tags keys must be 1-128 characters and values at most 256"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['tailor.sh/nodepool', 'tailor.sh/nodeclaim', 'tailor.sh/ec2nodeclass', 'tailor.sh/cluster']) && !k.startsWith('kubernetes.io/cluster/'))",message="tags must not use the keys Tailor sets itself: tailor.sh/nodepool, tailor.sh/nodeclaim, tailor.sh/ec2nodeclass, tailor.sh/cluster and kubernetes.io/cluster/*"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// kubelet tunes the kubelet on every node; Tailor also accounts for these numbers when it decides what fits.
	// +optional
	Kubelet *KubeletConfiguration `json:"kubelet,omitempty"`
	// associatePublicIPAddress gives nodes a public IPv4 address. Unset follows the subnet's setting.
	// +optional
	AssociatePublicIPAddress *bool `json:"associatePublicIPAddress,omitempty"`
	// capacityReservationSelectorTerms select the on-demand capacity reservations (ODCRs) nodes may launch into; a
	// reservation matching any term is used while it is active and has room. Each term selects by id, or by tags
	// with an optional ownerID. NodePools use reservations only when their requirements allow the capacity type
	// "reserved" explicitly (docs/concepts.md, "Reserved capacity (ODCR)").
	// +kubebuilder:validation:MaxItems=30
	// +listType=atomic
	// +optional
	CapacityReservationSelectorTerms []CapacityReservationSelectorTerm `json:"capacityReservationSelectorTerms,omitempty"`
}

// CapacityReservationSelectorTerm selects capacity reservations by id, or by tags and an optional owner.
//
// +kubebuilder:validation:XValidation:rule="has(self.tags) || has(self.id)",message="capacityReservationSelectorTerms[] must each set id or tags"
// +kubebuilder:validation:XValidation:rule="!has(self.id) || !(has(self.tags) || has(self.ownerID))",message="capacityReservationSelectorTerms[].id selects one reservation and cannot be combined with tags or ownerID in the same term"
// +kubebuilder:validation:XValidation:rule="!has(self.ownerID) || has(self.tags)",message="capacityReservationSelectorTerms[].ownerID narrows a tags term: set tags with it"
type CapacityReservationSelectorTerm struct {
	// id selects the capacity reservation with this id, such as cr-0123456789abcdef0.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^cr-[0-9a-z]+$')",message="capacityReservationSelectorTerms[].id must be a capacity reservation id such as cr-0123456789abcdef0"
	// +optional
	ID string `json:"id,omitempty"`
	// tags selects reservations that carry all of these tags. A value of "*" matches any value.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="capacityReservationSelectorTerms[].tags keys and values must not be empty; use \"*\" to match any value"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// ownerID is the AWS account id (12 digits) that owns the reservations a tags term selects, for reservations
	// shared with this account. Unset matches any owner.
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{12}$')",message="capacityReservationSelectorTerms[].ownerID must be a 12-digit AWS account id"
	// +optional
	OwnerID string `json:"ownerID,omitempty"`
}

// SubnetSelectorTerm selects subnets by tags, by name or by id.
//
// +kubebuilder:validation:XValidation:rule="has(self.tags) || has(self.id) || has(self.name)",message="subnetSelectorTerms[] must each set tags, name or id"
// +kubebuilder:validation:XValidation:rule="!has(self.id) || !(has(self.tags) || has(self.name))",message="subnetSelectorTerms[].id selects one subnet and cannot be combined with tags or name in the same term"
type SubnetSelectorTerm struct {
	// tags selects subnets that carry all of these tags. A value of "*" matches any value.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="tags keys and values must not be empty; use \"*\" to match any value"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// name selects subnets whose Name tag is this.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Name string `json:"name,omitempty"`
	// id selects the subnet with this id, such as subnet-0123456789abcdef0.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^subnet-[0-9a-z]+$')",message="id must be a subnet id such as subnet-0123456789abcdef0"
	// +optional
	ID string `json:"id,omitempty"`
}

// SecurityGroupSelectorTerm selects security groups by tags, by name or by id.
//
// +kubebuilder:validation:XValidation:rule="has(self.tags) || has(self.id) || has(self.name)",message="securityGroupSelectorTerms[] must each set tags, name or id"
// +kubebuilder:validation:XValidation:rule="!has(self.id) || !(has(self.tags) || has(self.name))",message="securityGroupSelectorTerms[].id selects one security group and cannot be combined with tags or name in the same term"
type SecurityGroupSelectorTerm struct {
	// tags selects security groups that carry all of these tags. A value of "*" matches any value.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="tags keys and values must not be empty; use \"*\" to match any value"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// name selects security groups with this group name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Name string `json:"name,omitempty"`
	// id selects the security group with this id, such as sg-0123456789abcdef0.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^sg-[0-9a-z]+$')",message="id must be a security group id such as sg-0123456789abcdef0"
	// +optional
	ID string `json:"id,omitempty"`
}

// AMISelectorTerm selects AMIs by alias, id, name or tags.
//
// +kubebuilder:validation:XValidation:rule="has(self.alias) || has(self.id) || has(self.name) || has(self.tags)",message="amiSelectorTerms[] must each set alias, id, name or tags"
// +kubebuilder:validation:XValidation:rule="!has(self.alias) || !(has(self.id) || has(self.name) || has(self.tags) || has(self.owner))",message="amiSelectorTerms[].alias cannot be combined with id, name, owner or tags in the same term"
// +kubebuilder:validation:XValidation:rule="!has(self.id) || !(has(self.name) || has(self.tags) || has(self.owner))",message="amiSelectorTerms[].id selects one AMI and cannot be combined with name, owner or tags in the same term"
type AMISelectorTerm struct {
	// alias picks the AMI family's recommended image: family@version, where family is al2023, al2 or bottlerocket
	// and version is "latest" or a pinned version such as v20240807.
	// +kubebuilder:validation:MaxLength=48
	// +kubebuilder:validation:XValidation:rule="self.matches('^(al2023|al2|bottlerocket)@(latest|v[0-9]+([.][0-9]+)*)$')",message="alias must be family@version: family is al2023, al2 or bottlerocket, version is latest or a version such as v20240807"
	// +optional
	Alias string `json:"alias,omitempty"`
	// id selects the AMI with this id, such as ami-0123456789abcdef0.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^ami-[0-9a-z]+$')",message="id must be an AMI id such as ami-0123456789abcdef0"
	// +optional
	ID string `json:"id,omitempty"`
	// name selects AMIs by name; "*" is a wildcard.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Name string `json:"name,omitempty"`
	// owner narrows a name or tags selection to AMIs of this account id or alias ("self", "amazon").
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Owner string `json:"owner,omitempty"`
	// tags selects AMIs that carry all of these tags. A value of "*" matches any value.
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=20
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != '' && self[k] != '')",message="tags keys and values must not be empty; use \"*\" to match any value"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// BlockDeviceMapping is one disk of a node.
type BlockDeviceMapping struct {
	// deviceName is the device the disk is attached as, such as /dev/xvda.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	DeviceName string `json:"deviceName"`
	// ebs describes the EBS volume.
	// +required
	EBS BlockDevice `json:"ebs"`
	// rootVolume marks the disk the node uses for its root file system and ephemeral storage; at most one mapping
	// may set it.
	// +optional
	RootVolume bool `json:"rootVolume,omitempty"`
}

// BlockDevice is an EBS volume.
//
// +kubebuilder:validation:XValidation:rule="!has(self.iops) || (has(self.volumeType) && self.volumeType in ['io1', 'io2', 'gp3'])",message="ebs.iops may only be set for volumeType io1, io2 or gp3"
// +kubebuilder:validation:XValidation:rule="!has(self.throughput) || (has(self.volumeType) && self.volumeType == 'gp3')",message="ebs.throughput may only be set for volumeType gp3"
type BlockDevice struct {
	// volumeSize is the size of the volume, from 1Gi to 64Ti, such as 100Gi.
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1073741824 && self <= 70368744177664) : (quantity(self).compareTo(quantity('1Gi')) >= 0 && quantity(self).compareTo(quantity('64Ti')) <= 0)",message="volumeSize must be a quantity from 1Gi to 64Ti, such as 100Gi"
	// +optional
	VolumeSize *resource.Quantity `json:"volumeSize,omitempty"`
	// volumeType is the EBS volume type: gp3 (the default), gp2, io1, io2, sc1, st1 or standard.
	// +kubebuilder:validation:Enum=standard;io1;io2;gp2;sc1;st1;gp3
	// +optional
	VolumeType string `json:"volumeType,omitempty"`
	// iops is the provisioned IOPS, for io1, io2 and gp3 volumes.
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=256000
	// +optional
	IOPS *int64 `json:"iops,omitempty"`
	// throughput is the provisioned throughput in MiB/s, for gp3 volumes.
	// +kubebuilder:validation:Minimum=125
	// +kubebuilder:validation:Maximum=2000
	// +optional
	Throughput *int64 `json:"throughput,omitempty"`
	// encrypted encrypts the volume. Defaults to true.
	// +kubebuilder:default=true
	// +optional
	Encrypted *bool `json:"encrypted,omitempty"`
	// kmsKeyID is the KMS key that encrypts the volume; unset uses the account's default EBS key.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`
	// deleteOnTermination deletes the volume with the instance. Defaults to true.
	// +kubebuilder:default=true
	// +optional
	DeleteOnTermination *bool `json:"deleteOnTermination,omitempty"`
	// snapshotID is the snapshot the volume starts from.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^snap-[0-9a-z]+$')",message="snapshotID must be a snapshot id such as snap-0123456789abcdef0"
	// +optional
	SnapshotID string `json:"snapshotID,omitempty"`
}

// MetadataOptions configure the instance metadata service (IMDS) of nodes.
type MetadataOptions struct {
	// httpEndpoint turns the metadata service on or off: enabled or disabled.
	// +kubebuilder:default=enabled
	// +kubebuilder:validation:Enum=enabled;disabled
	// +optional
	HTTPEndpoint string `json:"httpEndpoint,omitempty"`
	// httpProtocolIPv6 serves the metadata service on IPv6 too: enabled or disabled.
	// +kubebuilder:default=disabled
	// +kubebuilder:validation:Enum=enabled;disabled
	// +optional
	HTTPProtocolIPv6 string `json:"httpProtocolIPv6,omitempty"`
	// httpPutResponseHopLimit is how many network hops the token response may travel, 1-64. 1 keeps it from pods
	// in their own network namespace.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	HTTPPutResponseHopLimit *int64 `json:"httpPutResponseHopLimit,omitempty"`
	// httpTokens is required (IMDSv2 only) or optional (IMDSv1 allowed too).
	// +kubebuilder:default=required
	// +kubebuilder:validation:Enum=required;optional
	// +optional
	HTTPTokens string `json:"httpTokens,omitempty"`
}

// KubeletConfiguration is the part of the kubelet's configuration Tailor sets and accounts for.
type KubeletConfiguration struct {
	// maxPods caps the pods on a node. Unset uses the AMI family's default for the instance type.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxPods *int32 `json:"maxPods,omitempty"`
	// podsPerCore caps the pods on a node at this many per vCPU (the lower of this and maxPods wins).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	PodsPerCore *int32 `json:"podsPerCore,omitempty"`
	// systemReserved is what the node keeps for system daemons: cpu, memory, ephemeral-storage, pid.
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage', 'pid'])",message="systemReserved keys must be cpu, memory, ephemeral-storage or pid"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 32 && isQuantity(self[k]) && !self[k].startsWith('-'))",message="systemReserved values must be zero or positive quantities, such as 100m or 1Gi"
	// +optional
	SystemReserved map[string]string `json:"systemReserved,omitempty"`
	// kubeReserved is what the node keeps for the kubelet and container runtime: cpu, memory, ephemeral-storage,
	// pid. Unset uses the AMI family's default for the instance type.
	// +kubebuilder:validation:MaxProperties=4
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['cpu', 'memory', 'ephemeral-storage', 'pid'])",message="kubeReserved keys must be cpu, memory, ephemeral-storage or pid"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 32 && isQuantity(self[k]) && !self[k].startsWith('-'))",message="kubeReserved values must be zero or positive quantities, such as 100m or 1Gi"
	// +optional
	KubeReserved map[string]string `json:"kubeReserved,omitempty"`
	// evictionHard are the kubelet's hard eviction thresholds, such as memory.available: 100Mi or
	// nodefs.available: 10%.
	// +kubebuilder:validation:MaxProperties=6
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'])",message="evictionHard keys must be memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree or pid.available"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !self[k].startsWith('-') && isQuantity(self[k].endsWith('%') ? self[k].substring(0, size(self[k]) - 1) : self[k]))",message="evictionHard values must be a percentage such as 10% or a zero or positive quantity such as 100Mi"
	// +optional
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
}

// EC2NodeClassStatus is what an EC2NodeClass's selectors resolved to.
type EC2NodeClassStatus struct {
	// subnets are the subnets the selector terms matched.
	// +listType=atomic
	// +optional
	Subnets []Subnet `json:"subnets,omitempty"`
	// securityGroups are the security groups the selector terms matched.
	// +listType=atomic
	// +optional
	SecurityGroups []SecurityGroup `json:"securityGroups,omitempty"`
	// amis are the AMIs the selector terms matched, with the requirements (such as architecture) an instance type
	// must meet to boot each.
	// +listType=atomic
	// +optional
	AMIs []AMI `json:"amis,omitempty"`
	// instanceProfile is the instance profile nodes launch with: spec.instanceProfile, or else the profile named as
	// spec.role (Tailor creates none).
	// +optional
	InstanceProfile string `json:"instanceProfile,omitempty"`
	// capacityReservations are the active capacity reservations the selector terms matched, with the room each had
	// when last read.
	// +listType=atomic
	// +optional
	CapacityReservations []CapacityReservation `json:"capacityReservations,omitempty"`
	// conditions: Ready, SubnetsReady, SecurityGroupsReady, AMIsReady, InstanceProfileReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Subnet is a resolved subnet.
type Subnet struct {
	// id is the subnet id.
	// +required
	ID string `json:"id"`
	// zone is the availability zone of the subnet, such as us-west-2a.
	// +required
	Zone string `json:"zone"`
	// zoneID is the availability zone id, such as usw2-az1.
	// +optional
	ZoneID string `json:"zoneID,omitempty"`
}

// SecurityGroup is a resolved security group.
type SecurityGroup struct {
	// id is the security group id.
	// +required
	ID string `json:"id"`
	// name is the group name.
	// +optional
	Name string `json:"name,omitempty"`
}

// AMI is a resolved machine image.
type AMI struct {
	// id is the AMI id.
	// +required
	ID string `json:"id"`
	// name is the AMI name.
	// +optional
	Name string `json:"name,omitempty"`
	// requirements are what an instance type must satisfy to boot this AMI, such as kubernetes.io/arch In [arm64].
	// +listType=atomic
	// +optional
	Requirements []corev1.NodeSelectorRequirement `json:"requirements,omitempty"`
}

// CapacityReservation is a resolved on-demand capacity reservation.
type CapacityReservation struct {
	// id is the reservation id.
	// +required
	ID string `json:"id"`
	// instanceType is the instance type the reservation holds capacity for.
	// +required
	InstanceType string `json:"instanceType"`
	// availabilityZone is where the reserved capacity is.
	// +required
	AvailabilityZone string `json:"availabilityZone"`
	// ownerID is the AWS account that owns the reservation.
	// +optional
	OwnerID string `json:"ownerID,omitempty"`
	// instanceMatchCriteria is "open" (any matching launch uses it) or "targeted" (only launches that name it).
	// +optional
	InstanceMatchCriteria string `json:"instanceMatchCriteria,omitempty"`
	// endTime is when the reservation expires; unset means it does not.
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
	// reservationType is "default" (an ODCR) or "capacity-block".
	// +optional
	ReservationType string `json:"reservationType,omitempty"`
	// state is the reservation's state as EC2 reports it (only active ones are listed).
	// +optional
	State string `json:"state,omitempty"`
	// totalInstanceCount is how many instances the reservation holds.
	// +optional
	TotalInstanceCount int32 `json:"totalInstanceCount,omitempty"`
	// availableInstanceCount is how many of them were free when last read.
	// +optional
	AvailableInstanceCount int32 `json:"availableInstanceCount,omitempty"`
}
