package scheduling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestWidenedClaimsShareOptions: in the diverse mix most claims hold one anti-affinity pod and a few others, and
// each may launch as hundreds of types. Claims whose requirements allow the same types and that the same types hold
// share one options list rather than each building its own (sharedtypes.go); every claim's options still hold its
// pods and agree with its zone and capacity-type requirements.
func TestWidenedClaimsShareOptions(t *testing.T) {
	types := catalogTypes(t)
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", types...).obj()}}
	res := solve(t, snap, diversePods(1000), Options{})
	lists := map[*InstanceTypeOption]bool{}
	for _, c := range res.NodeClaims {
		if len(c.InstanceTypeOptions) == 0 {
			t.Fatalf("claim %s has no options", c.Hostname)
		}
		lists[&c.InstanceTypeOptions[0]] = true
		var cpu, mem resource.Quantity
		for _, p := range c.Pods {
			cpu.Add(p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU])
			mem.Add(p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory])
		}
		for _, o := range c.InstanceTypeOptions {
			alloc := o.InstanceType.Allocatable()
			if alloc.Cpu().Cmp(cpu) < 0 || alloc.Memory().Cmp(mem) < 0 {
				t.Errorf("claim %s: option %s (%v cpu, %v memory) cannot hold its pods (%v cpu, %v memory)", c.Hostname, o.InstanceType.Name, alloc.Cpu(), alloc.Memory(), &cpu, &mem)
			}
			if !c.Requirements.Has(apiv1.ZoneLabelKey, o.Offering.Zone) || !c.Requirements.Has(apiv1.CapacityTypeLabelKey, o.Offering.CapacityType) {
				t.Errorf("claim %s: option %s in %s (%s) is outside its requirements %s", c.Hostname, o.InstanceType.Name, o.Offering.Zone, o.Offering.CapacityType, c.Requirements)
			}
		}
	}
	if len(res.NodeClaims) < 200 {
		t.Fatalf("%d claims, want at least 200 (one per anti-affinity pod)", len(res.NodeClaims))
	}
	if len(lists) > len(res.NodeClaims)/4 {
		t.Errorf("%d claims hold %d distinct options lists, want at most %d: claims with the same types should share one", len(res.NodeClaims), len(lists), len(res.NodeClaims)/4)
	}
	t.Logf("%d claims, %d options lists", len(res.NodeClaims), len(lists))
}
