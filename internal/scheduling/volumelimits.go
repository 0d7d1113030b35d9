package scheduling

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// CSI volume attach limits. kube-scheduler's NodeVolumeLimits plugin refuses a pod on a node when the node's CSINode
// says the driver can attach no more volumes (spec.drivers[].allocatable.count) than the node's pods already use. A
// plan that ignored it would buy a node the kube-scheduler then refuses to use. The simulator counts the volumes of
// the AWS EBS CSI driver (the attachable storage Tailor's nodes have; in-tree aws-ebs volumes are migrated to it) as
// a resource of its own, ebsVolumeResource: a pod requests one per distinct EBS volume it mounts, a new node of any
// instance type has DefaultEBSAttachLimit, and an existing node what its CSINode says (ExistingNode.VolumeLimits).
// Packing, opening another node when one is full, and reasons then follow from the resource arithmetic.

// EBSCSIDriver is the name of the AWS EBS CSI driver, as in CSINode spec.drivers[].name and StorageClass provisioner.
const EBSCSIDriver = "ebs.csi.aws.com"

// inTreeEBSProvisioner is the in-tree EBS provisioner; CSI migration hands its volumes to EBSCSIDriver.
const inTreeEBSProvisioner = "kubernetes.io/aws-ebs"

// DefaultEBSAttachLimit is how many EBS CSI volumes the simulator lets a new node attach. The catalogue has no EBS
// attachment data, so it follows the EBS CSI driver's own count for a Nitro instance type (what it reports to the
// kubelet, which writes it to the CSINode): 28 attachments shared by EBS volumes, network interfaces and NVMe
// instance-store volumes, less the network interfaces attached when the driver starts and less the root volume.
// With the primary interface and one more the VPC CNI attaches, that is 28 - 2 - 1 = 25. Types with instance
// storage, several network cards or a dedicated EBS limit have other counts; once a node exists its CSINode's count
// (ExistingNode.VolumeLimits) is used instead.
const DefaultEBSAttachLimit = 25

// unlimitedVolumes is the attach limit of a node nothing is known about: not launched by Tailor, no CSINode count.
// kube-scheduler does not limit a driver the CSINode does not report either.
const unlimitedVolumes = 1 << 40

// ebsVolumeResource is the resource the simulator counts EBS CSI volumes in (the name kube-scheduler used for its
// attachable-volumes-csi-* resources). It never leaves the simulator: NodeClaims request only the pods' resources.
const ebsVolumeResource corev1.ResourceName = "attachable-volumes-csi-" + EBSCSIDriver

// Reasons of the volume limit.
const (
	// reasonCSIVolumesFormat: a pod mounts more EBS volumes than any allowed instance type attaches.
	reasonCSIVolumesFormat = "needs %d CSI volumes of %s; the most any allowed instance type attaches is %d"
	// reasonCSIVolumesFull: the node's EBS attach limit is used up by the volumes of its pods.
	reasonCSIVolumesFull = "the node's " + EBSCSIDriver + " volume attach limit is used up"
)

// ebsVolumes counts the distinct EBS CSI volumes the pod mounts (see ebsVolumeKeys).
func (v *volumeIndex) ebsVolumes(pod *corev1.Pod) int64 { return int64(len(v.ebsVolumeKeys(pod))) }

// ebsVolumeKeys names the distinct EBS CSI volumes the pod mounts: claims bound to a volume of the driver (or an
// in-tree EBS volume), unbound claims whose storage class the driver (or the in-tree EBS provisioner) provisions,
// generic ephemeral volumes of such a class, and inline in-tree EBS volumes. A claim the snapshot lacks is not
// counted (the pod is refused for it anyway).
func (v *volumeIndex) ebsVolumeKeys(pod *corev1.Pod) []string {
	if v == nil {
		return nil
	}
	var keys []string
	for _, vol := range pod.Spec.Volumes {
		key := ""
		switch {
		case vol.PersistentVolumeClaim != nil:
			name := pod.Namespace + "/" + vol.PersistentVolumeClaim.ClaimName
			if pvc := v.pvcs[name]; pvc != nil && v.claimIsEBS(pvc.Spec.VolumeName, pvc.Spec.StorageClassName) {
				key = "pvc/" + name
				if pvc.Spec.VolumeName != "" {
					key = "pv/" + pvc.Spec.VolumeName
				}
			}
		case vol.Ephemeral != nil && vol.Ephemeral.VolumeClaimTemplate != nil:
			if v.claimIsEBS("", vol.Ephemeral.VolumeClaimTemplate.Spec.StorageClassName) {
				// The claim Kubernetes makes for it is named <pod>-<volume>.
				key = "pvc/" + pod.Namespace + "/" + pod.Name + "-" + vol.Name
			}
		case vol.AWSElasticBlockStore != nil:
			key = "ebs/" + vol.AWSElasticBlockStore.VolumeID
		}
		if key != "" && !slices.Contains(keys, key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// claimIsEBS tells whether a claim bound to volumeName (or, unbound, of class className) is an EBS CSI volume.
func (v *volumeIndex) claimIsEBS(volumeName string, className *string) bool {
	if volumeName != "" {
		pv := v.pvs[volumeName]
		return pv != nil && (pv.Spec.CSI != nil && pv.Spec.CSI.Driver == EBSCSIDriver || pv.Spec.AWSElasticBlockStore != nil)
	}
	sc := v.dflt
	if className != nil {
		sc = v.classes[*className]
	}
	return sc != nil && (sc.Provisioner == EBSCSIDriver || sc.Provisioner == inTreeEBSProvisioner)
}

// withVolumes adds the pod's EBS volumes to its requests.
func withVolumes(r Resources, volumes int64) Resources {
	if volumes == 0 {
		return r
	}
	return r.Add(Resources{Extended: map[corev1.ResourceName]int64{ebsVolumeResource: volumes}})
}

// withAttachLimit sets the EBS attach limit in an allocatable vector (which it may modify: callers pass their own).
func withAttachLimit(alloc Resources, limit int64) Resources {
	if alloc.Extended == nil {
		alloc.Extended = map[corev1.ResourceName]int64{}
	}
	alloc.Extended[ebsVolumeResource] = limit
	return alloc
}

// existingAttachLimit is an existing node's EBS attach limit: its CSINode's count when the snapshot has it; for a
// node Tailor launched (or a NodeClaim in flight) whose CSINode is not known yet, DefaultEBSAttachLimit; otherwise
// no limit.
func existingAttachLimit(en *ExistingNode) int64 {
	if limit, ok := en.VolumeLimits[EBSCSIDriver]; ok {
		return limit
	}
	if en.InFlight || en.Labels[apiv1.NodePoolLabelKey] != "" {
		return DefaultEBSAttachLimit
	}
	return unlimitedVolumes
}

// volumeLimitReason words a pod's EBS volume count that no type attaches.
func volumeLimitReason(need, largest Resources) Reason {
	return Reason{Kind: ReasonVolumeLimit, Resource: ebsVolumeResource,
		Message: fmt.Sprintf(reasonCSIVolumesFormat, need.Extended[ebsVolumeResource], EBSCSIDriver, largest.Extended[ebsVolumeResource])}
}
