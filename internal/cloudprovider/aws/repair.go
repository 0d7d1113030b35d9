package aws

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// repairPolicies follow Karpenter's AWS provider: Ready False or Unknown for 30 minutes, and the conditions the EKS
// node monitoring agent reports (accelerated hardware after 10 minutes, storage, networking, kernel and container
// runtime after 30).
var repairPolicies = append(cloudprovider.DefaultRepairPolicies(),
	cloudprovider.RepairPolicy{ConditionType: "AcceleratedHardwareReady", ConditionStatus: corev1.ConditionFalse, TolerationDuration: 10 * time.Minute},
	cloudprovider.RepairPolicy{ConditionType: "StorageReady", ConditionStatus: corev1.ConditionFalse, TolerationDuration: 30 * time.Minute},
	cloudprovider.RepairPolicy{ConditionType: "NetworkingReady", ConditionStatus: corev1.ConditionFalse, TolerationDuration: 30 * time.Minute},
	cloudprovider.RepairPolicy{ConditionType: "KernelReady", ConditionStatus: corev1.ConditionFalse, TolerationDuration: 30 * time.Minute},
	cloudprovider.RepairPolicy{ConditionType: "ContainerRuntimeReady", ConditionStatus: corev1.ConditionFalse, TolerationDuration: 30 * time.Minute},
)

// RepairPolicies implements cloudprovider.CloudProvider.
func (p *Provider) RepairPolicies() []cloudprovider.RepairPolicy { return repairPolicies }
