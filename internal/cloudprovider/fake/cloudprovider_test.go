package fake

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

func instanceType(name, cpu string, offerings ...cloudprovider.Offering) *cloudprovider.InstanceType {
	return &cloudprovider.InstanceType{
		Name:      name,
		Labels:    map[string]string{apiv1.InstanceTypeLabelKey: name},
		Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		Offerings: offerings,
	}
}

func offering(zone, ct string, price float64) cloudprovider.Offering {
	return cloudprovider.Offering{Zone: zone, CapacityType: ct, PricePerHour: price, Available: true}
}

func nodeClaim(name, cpu string, reqs ...apiv1.NodeSelectorRequirementWithMinValues) *apiv1.NodeClaim {
	return &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.NodeClaimSpec{
			Requirements: reqs,
			Resources:    apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: "EC2NodeClass", Name: "default"},
		},
	}
}

func TestCreatePicksCheapestFittingOffering(t *testing.T) {
	small := instanceType("small", "1", offering("z1", apiv1.CapacityTypeSpot, 0.01))
	medium := instanceType("medium", "2", offering("z1", apiv1.CapacityTypeSpot, 0.05), offering("z2", apiv1.CapacityTypeSpot, 0.03),
		offering("z2", apiv1.CapacityTypeOnDemand, 0.02))
	tests := []struct {
		name      string
		claim     *apiv1.NodeClaim
		wantType  string
		wantZone  string
		wantCT    string
		wantICErr bool
	}{
		{name: "cheapest that fits", claim: nodeClaim("a", "1500m"), wantType: "medium", wantZone: "z2", wantCT: apiv1.CapacityTypeOnDemand},
		{name: "spot only", claim: nodeClaim("b", "1500m", apiv1.NodeSelectorRequirementWithMinValues{
			Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeSpot}}),
			wantType: "medium", wantZone: "z2", wantCT: apiv1.CapacityTypeSpot},
		{name: "small fits", claim: nodeClaim("c", "500m"), wantType: "small", wantZone: "z1", wantCT: apiv1.CapacityTypeSpot},
		{name: "nothing fits", claim: nodeClaim("d", "3"), wantICErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := New(small, medium)
			got, err := cp.Create(t.Context(), tt.claim)
			if tt.wantICErr {
				if !cloudprovider.IsInsufficientCapacityError(err) {
					t.Fatalf("Create error = %v, want InsufficientCapacityError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			gotSummary := []string{got.Labels[apiv1.InstanceTypeLabelKey], got.Labels[apiv1.ZoneLabelKey], got.Labels[apiv1.CapacityTypeLabelKey]}
			if diff := cmp.Diff([]string{tt.wantType, tt.wantZone, tt.wantCT}, gotSummary); diff != "" {
				t.Errorf("launched (-want +got):\n%s", diff)
			}
			if tt.claim.Status.ProviderID != "" {
				t.Errorf("Create changed its argument")
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	ctx := t.Context()
	cp := New(instanceType("small", "1", offering("z1", apiv1.CapacityTypeSpot, 0.01)))
	first, err := cp.Create(ctx, nodeClaim("a", "0"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	again, err := cp.Create(ctx, nodeClaim("a", "0"))
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if again.Status.ProviderID != first.Status.ProviderID {
		t.Errorf("second Create launched %s, want the existing %s", again.Status.ProviderID, first.Status.ProviderID)
	}
	if _, err := cp.Get(ctx, first.Status.ProviderID); err != nil {
		t.Errorf("Get: %v", err)
	}
	cp.SetDrifted(first.Status.ProviderID, cloudprovider.DriftReasonAMI)
	if reason, err := cp.IsDrifted(ctx, first); err != nil || reason != cloudprovider.DriftReasonAMI {
		t.Errorf("IsDrifted = %q, %v; want AMIDrift", reason, err)
	}
	list, err := cp.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %d machines, %v; want 1", len(list), err)
	}
	if err := cp.Delete(ctx, first); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := cp.Delete(ctx, first); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("second Delete = %v, want NodeClaimNotFoundError", err)
	}
	if _, err := cp.Get(ctx, first.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("Get after Delete = %v, want NodeClaimNotFoundError", err)
	}
	if got := cp.Calls(MethodDelete); got != 2 {
		t.Errorf("Calls(Delete) = %d, want 2", got)
	}
}

func TestQueuedErrorsAndNodeClassReadiness(t *testing.T) {
	ctx := t.Context()
	cp := New(instanceType("small", "1", offering("z1", apiv1.CapacityTypeSpot, 0.01)))
	boom := errors.New("boom")
	cp.QueueError(MethodCreate, boom)
	if _, err := cp.Create(ctx, nodeClaim("a", "0")); !errors.Is(err, boom) {
		t.Errorf("first Create = %v, want the queued error", err)
	}
	if _, err := cp.Create(ctx, nodeClaim("a", "0")); err != nil {
		t.Errorf("second Create = %v, want success once the queue is empty", err)
	}
	cp.SetNodeClassReady(false)
	if _, err := cp.GetInstanceTypes(ctx, &apiv1.NodePool{}); !cloudprovider.IsNodeClassNotReadyError(err) {
		t.Errorf("GetInstanceTypes = %v, want NodeClassNotReadyError", err)
	}
	cp.SetNodeClassReady(true)
	cp.SetAvailable("small", "z1", apiv1.CapacityTypeSpot, false)
	if _, err := cp.Create(ctx, nodeClaim("b", "0")); !cloudprovider.IsInsufficientCapacityError(err) {
		t.Errorf("Create with the only offering unavailable = %v, want InsufficientCapacityError", err)
	}
}
