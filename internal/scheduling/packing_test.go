package scheduling

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// cheapestSpotHolding computes, without the planner, the cheapest available spot offering among the types whose
// allocatable, after the daemonset pods that select them, holds the pods' requests and pod slots.
func cheapestSpotHolding(types []*cloudprovider.InstanceType, daemonsets []*corev1.Pod, pods []*corev1.Pod) (string, float64) {
	bestName, best := "", -1.0
	for _, it := range types {
		alloc := it.Allocatable()
		need := corev1.ResourceList{}
		addAll := func(p *corev1.Pod) {
			for name, q := range p.Spec.Containers[0].Resources.Requests {
				sum := need[name]
				sum.Add(q)
				need[name] = sum
			}
			n := need[corev1.ResourcePods]
			n.Add(resource.MustParse("1"))
			need[corev1.ResourcePods] = n
		}
		for _, ds := range daemonsets {
			if nodeAffinityMatches(ds, it.Labels) {
				addAll(ds)
			}
		}
		for _, p := range pods {
			addAll(p)
		}
		fits := true
		for name, q := range need {
			if a, ok := alloc[name]; !ok || a.Cmp(q) < 0 {
				fits = false
			}
		}
		if !fits {
			continue
		}
		for _, o := range it.Offerings {
			if o.Available && o.CapacityType == apiv1.CapacityTypeSpot && (best < 0 || o.PricePerHour < best) {
				bestName, best = it.Name, o.PricePerHour
			}
		}
	}
	return bestName, best
}

// TestReferencePacking is the tutorial's scale-up against the whole embedded catalogue: a spot-only NodePool and four
// 1-CPU pods make exactly one NodeClaim, launched as the cheapest spot offering that holds the four pods plus the
// daemonsets and the kubelet's reservations, even though four tiny nodes would cost less.
func TestReferencePacking(t *testing.T) {
	types := catalogTypes(t)
	tests := []struct {
		name       string
		daemonsets []*corev1.Pod
	}{
		{name: "no daemonsets"},
		{name: "two daemonsets", daemonsets: []*corev1.Pod{
			pod("kube-proxy").req("100m", "128Mi").obj(),
			pod("node-agent").req("200m", "256Mi").obj(),
		}},
		{name: "a daemonset that selects amd64 only", daemonsets: []*corev1.Pod{
			pod("kube-proxy").req("100m", "128Mi").obj(),
			pod("amd64-agent").req("500m", "512Mi").selector(apiv1.ArchLabelKey, "amd64").obj(),
		}},
		{name: "a daemonset heavy enough to need a larger node", daemonsets: []*corev1.Pod{
			pod("heavy").req("4", "1Gi").obj(),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			np := nodePool("default", types...).require(req(apiv1.CapacityTypeLabelKey, OpIn, apiv1.CapacityTypeSpot)).limit(corev1.ResourceCPU, "1000").obj()
			pods := replicas(4, "inflate", func(n string) *podBuilder { return pod(n).req("1", "") })
			r := solve(t, &Snapshot{NodePools: []*NodePool{np}, DaemonSetPods: tt.daemonsets}, pods, Options{})
			if len(r.NodeClaims) != 1 || len(r.Unschedulable) != 0 {
				t.Fatalf("want exactly one nodeclaim and nothing unschedulable, got %v, unschedulable %v", summary(r), reasonsOf(r))
			}
			c := r.NodeClaims[0]
			t.Logf("launches as %s at %v", c.Cheapest().InstanceType.Name, c.PricePerHour())
			if len(c.Pods) != 4 {
				t.Errorf("the nodeclaim holds %d pods, want 4", len(c.Pods))
			}
			wantName, wantPrice := cheapestSpotHolding(types, tt.daemonsets, pods)
			got := c.Cheapest()
			if got.Offering.PricePerHour != wantPrice || got.Offering.CapacityType != apiv1.CapacityTypeSpot {
				t.Errorf("launches as %s %s at %v, want the cheapest spot offering that holds 4 cpu: %s at %v",
					got.InstanceType.Name, got.Offering.CapacityType, got.Offering.PricePerHour, wantName, wantPrice)
			}
			for _, o := range c.InstanceTypeOptions {
				if o.Offering.CapacityType != apiv1.CapacityTypeSpot {
					t.Errorf("option %s is %s in a spot-only pool", o.InstanceType.Name, o.Offering.CapacityType)
				}
			}
		})
	}
}

// TestPackingJoinsOpenClaims pins down the packing policy on the small catalogue: a pod joins an open NodeClaim
// whenever some type the claim may launch as holds everything, and a new claim opens only when none can.
func TestPackingJoinsOpenClaims(t *testing.T) {
	tests := []struct {
		name string
		pods []*corev1.Pod
		want []string
	}{
		{
			// Three 2-cpu nodes would hold these too, but the claim grows to one 8-cpu node instead.
			name: "small pods share one node",
			pods: replicas(6, "p", func(n string) *podBuilder { return pod(n).req("1", "1Gi") }),
			want: []string{"c6.2xlarge test-1a spot: p-0,p-1,p-2,p-3,p-4,p-5"},
		},
		{
			// 20 + 20 cpu exceeds the largest type (32 cpu): the second pod opens a claim, the small one joins the first.
			name: "a new claim only when nothing fits",
			pods: []*corev1.Pod{pod("a").req("20", "1Gi").obj(), pod("b").req("20", "1Gi").obj(), pod("c").req("2", "1Gi").obj()},
			want: []string{"c6.8xlarge test-1a spot: a,c", "c6.8xlarge test-1a spot: b"},
		},
		{
			// The claim launches as the cheapest type that holds all its pods: memory picks the family.
			name: "the claim downsizes to the cheapest type that holds everything",
			pods: replicas(3, "m", func(n string) *podBuilder { return pod(n).req("500m", "4Gi") }),
			want: []string{"r6.large test-1a spot: m-0,m-1,m-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, tt.pods, Options{})
			if diff := cmp.Diff(tt.want, summary(r)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// TestManyZones runs the planner where the offerings have more zones than the bit-mask offering filter holds, so
// it compares zone strings instead; a zone selector must still be honoured and the cheapest zone chosen.
func TestManyZones(t *testing.T) {
	it := instanceType("c6.xlarge", 4, 8, 0.17).obj()
	it.Offerings = nil
	for z := range 70 {
		it.Offerings = append(it.Offerings, cloudprovider.Offering{Zone: fmt.Sprintf("zone-%02d", z), CapacityType: apiv1.CapacityTypeOnDemand, PricePerHour: 1 + float64(z%7)/100, Available: true})
	}
	pods := []*corev1.Pod{
		pod("pinned").req("1", "1Gi").selector(apiv1.ZoneLabelKey, "zone-66").obj(),
		pod("free").req("1", "1Gi").obj(),
	}
	r := solve(t, &Snapshot{NodePools: []*NodePool{nodePool("default", it).obj()}}, pods, Options{})
	got := map[string]string{}
	for _, c := range r.NodeClaims {
		for _, p := range c.Pods {
			got[p.Name] = c.Labels[apiv1.ZoneLabelKey]
		}
	}
	// Both pods share the node the pinned pod opened; zone-66 costs 1.03.
	if diff := cmp.Diff(map[string]string{"pinned": "zone-66", "free": "zone-66"}, got); diff != "" {
		t.Errorf("zones (-want +got):\n%s", diff)
	}
	r = solve(t, &Snapshot{NodePools: []*NodePool{nodePool("default", it).obj()}}, pods[1:], Options{})
	if z := r.NodeClaims[0].Labels[apiv1.ZoneLabelKey]; z != "zone-00" {
		t.Errorf("an unconstrained pod goes to the cheapest zone, zone-00, got %s", z)
	}
}
