package scheduling

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// claimOf builds a planned NodeClaim by hand, launched as the named type of the pool in zone and capacity type.
func claimOf(t *testing.T, np *NodePool, hostname, typeName, zone, capacityType string, pods ...*corev1.Pod) *NodeClaim {
	t.Helper()
	var it *cloudprovider.InstanceType
	for _, x := range np.InstanceTypes {
		if x.Name == typeName {
			it = x
		}
	}
	if it == nil {
		t.Fatalf("nodepool %s has no type %s", np.Name, typeName)
	}
	var off cloudprovider.Offering
	for _, o := range it.Offerings {
		if o.Zone == zone && o.CapacityType == capacityType {
			off = o
		}
	}
	lbls := maps.Clone(it.Labels)
	maps.Copy(lbls, np.Labels)
	lbls[apiv1.ZoneLabelKey], lbls[apiv1.CapacityTypeLabelKey] = zone, capacityType
	lbls[apiv1.NodePoolLabelKey], lbls[apiv1.HostnameLabelKey] = np.Name, hostname
	return &NodeClaim{
		Hostname: hostname, NodePool: np.Name, Pods: pods, Labels: lbls, Taints: np.Taints,
		InstanceTypeOptions: []InstanceTypeOption{{InstanceType: it, Offering: off}},
	}
}

// TestValidatorCatchesViolations feeds the validator hand-made plans that break one rule each; it must name the
// rule. (Every planner test also runs the validator on the planner's own plans, which must come out clean.)
func TestValidatorCatchesViolations(t *testing.T) {
	sel := map[string]string{"app": "a"}
	pool := defaultPool()
	tainted := nodePool("gpu", smallCatalog()...).taint("gpu", "true", corev1.TaintEffectNoSchedule).obj()
	limited := nodePool("small", smallCatalog()...).limit(corev1.ResourceCPU, "4").obj()
	nodesLimited := nodePool("one", smallCatalog()...).limit(ResourceNodes, "1").obj()
	anti := replicas(2, "db", func(n string) *podBuilder {
		return pod(n).req("100m", "100Mi").label("app", "a").antiAffinity(apiv1.HostnameLabelKey, sel)
	})
	spread := replicas(4, "web", func(n string) *podBuilder {
		return pod(n).req("100m", "100Mi").label("app", "a").spread(apiv1.ZoneLabelKey, 1, corev1.DoNotSchedule, sel)
	})
	big := replicas(3, "big", func(n string) *podBuilder { return pod(n).req("1", "1Gi") })
	ports := replicas(2, "agent", func(n string) *podBuilder { return pod(n).req("100m", "100Mi").hostPort(9100) })
	plain := pod("plain").req("100m", "100Mi").obj()
	tests := []struct {
		name  string
		pools []*NodePool
		pods  []*corev1.Pod
		plan  func(t *testing.T) *Results
		want  string
	}{
		{
			name: "a pending pod left out", pools: []*NodePool{pool}, pods: []*corev1.Pod{plain, big[0]},
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, pool, "n1", "c6.large", "test-1a", "spot", plain)}}
			},
			want: "appears 0 times",
		},
		{
			name: "more requests than allocatable", pools: []*NodePool{pool}, pods: big,
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, pool, "n1", "c6.large", "test-1a", "spot", big...)}}
			},
			want: "allocatable",
		},
		{
			name: "hostname anti-affinity on one node", pools: []*NodePool{pool}, pods: anti,
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, pool, "n1", "c6.large", "test-1a", "spot", anti...)}}
			},
			want: "anti-affinity",
		},
		{
			name: "zone spread skewed by two", pools: []*NodePool{pool}, pods: spread,
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{
					claimOf(t, pool, "n1", "c6.large", "test-1a", "spot", spread[:3]...),
					claimOf(t, pool, "n2", "c6.large", "test-1b", "spot", spread[3]),
				}}
			},
			want: "topology spread",
		},
		{
			name: "untolerated taint", pools: []*NodePool{tainted}, pods: []*corev1.Pod{plain},
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, tainted, "n1", "c6.large", "test-1a", "spot", plain)}}
			},
			want: "not tolerated",
		},
		{
			name: "host port twice", pools: []*NodePool{pool}, pods: ports,
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, pool, "n1", "c6.large", "test-1a", "spot", ports...)}}
			},
			want: "host port",
		},
		{
			name: "nodepool cpu limit", pools: []*NodePool{limited}, pods: []*corev1.Pod{plain},
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{claimOf(t, limited, "n1", "c6.2xlarge", "test-1a", "spot", plain)}}
			},
			want: "cpu limit 4 exceeded",
		},
		{
			name: "nodepool nodes limit", pools: []*NodePool{nodesLimited}, pods: []*corev1.Pod{plain, big[0]},
			plan: func(t *testing.T) *Results {
				return &Results{NodeClaims: []*NodeClaim{
					claimOf(t, nodesLimited, "n1", "c6.large", "test-1a", "spot", plain),
					claimOf(t, nodesLimited, "n2", "c6.large", "test-1a", "spot", big[0]),
				}}
			},
			want: "nodes limit 1 exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := (Validator{Snapshot: &Snapshot{NodePools: tt.pools}, Pods: tt.pods}).Validate(tt.plan(t))
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.want) {
				t.Errorf("want a violation mentioning %q, got %q", tt.want, msgs)
			}
		})
	}
}
