package v1

// Group is the API group of every Tailor kind.
const Group = "tailor.sh"

// Well-known label and annotation keys. Tailor sets the instance attribute labels on every node it launches, and
// NodePool and NodeClaim requirements may select on them.
const (
	// NodePoolLabelKey names the NodePool a node was launched for.
	NodePoolLabelKey = Group + "/nodepool"
	// CapacityTypeLabelKey is the purchase option of a node: CapacityTypeSpot or CapacityTypeOnDemand.
	CapacityTypeLabelKey = Group + "/capacity-type"
	// RegisteredLabelKey is set on a node once its NodeClaim saw it register.
	RegisteredLabelKey = Group + "/registered"
	// InitializedLabelKey is set on a node once it is Ready, its startup taints are gone and its resources registered.
	InitializedLabelKey = Group + "/initialized"
	// DoNotDisruptAnnotationKey on a pod or node keeps disruption away from that node.
	DoNotDisruptAnnotationKey = Group + "/do-not-disrupt"

	InstanceCategoryLabelKey   = Group + "/instance-category"
	InstanceFamilyLabelKey     = Group + "/instance-family"
	InstanceGenerationLabelKey = Group + "/instance-generation"
	InstanceSizeLabelKey       = Group + "/instance-size"
	InstanceCPULabelKey        = Group + "/instance-cpu"
	InstanceMemoryLabelKey     = Group + "/instance-memory"
	InstanceGPUCountLabelKey   = Group + "/instance-gpu-count"
	InstanceGPUNameLabelKey    = Group + "/instance-gpu-name"
	InstanceGPUMemoryLabelKey  = Group + "/instance-gpu-memory"

	// Kubernetes' own well-known keys.
	InstanceTypeLabelKey = "node.kubernetes.io/instance-type"
	ZoneLabelKey         = "topology.kubernetes.io/zone"
	RegionLabelKey       = "topology.kubernetes.io/region"
	ArchLabelKey         = "kubernetes.io/arch"
	OSLabelKey           = "kubernetes.io/os"
	HostnameLabelKey     = "kubernetes.io/hostname"
)

// Capacity types.
const (
	CapacityTypeSpot     = "spot"
	CapacityTypeOnDemand = "on-demand"
)
