package scheduling

import (
	"testing"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// domainsOf counts the distinct values of key across the new nodes that received pods.
func domainsOf(r *Results, key string) int {
	seen := map[string]bool{}
	for _, nc := range r.NodeClaims {
		if len(nc.Pods) > 0 {
			seen[nc.Labels[key]] = true
		}
	}
	return len(seen)
}

// TestSolveCostKeepsSoftHA: under the Cost policy, replicas of one owner with a preferred anti-affinity against each
// other (hostname or zone) still land in distinct domains, up to haDomains of them: 3 soft-HA replicas must not share
// one node (or zone) even though one node is cheaper. Ignore drops every preference.
func TestSolveCostKeepsSoftHA(t *testing.T) {
	sel := map[string]string{"app": "web"}
	for _, tt := range []struct {
		name   string
		key    string
		policy PreferencePolicy
		want   int
	}{
		{name: "cost hostname", key: apiv1.HostnameLabelKey, policy: PreferenceCost, want: 3},
		{name: "respect hostname", key: apiv1.HostnameLabelKey, policy: PreferenceRespect, want: 3},
		{name: "ignore hostname", key: apiv1.HostnameLabelKey, policy: PreferenceIgnore, want: 1},
		{name: "cost zone", key: apiv1.ZoneLabelKey, policy: PreferenceCost, want: 3},
		{name: "respect zone", key: apiv1.ZoneLabelKey, policy: PreferenceRespect, want: 3},
		{name: "ignore zone", key: apiv1.ZoneLabelKey, policy: PreferenceIgnore, want: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pods := replicas(3, "web", func(n string) *podBuilder {
				return pod(n).req("100m", "128Mi").label("app", "web").preferAnti(100, tt.key, sel)
			})
			r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, pods, Options{Preferences: tt.policy})
			if len(r.Unschedulable) > 0 {
				t.Fatalf("unschedulable: %v", reasonsOf(r))
			}
			if got := domainsOf(r, tt.key); got != tt.want {
				t.Errorf("3 replicas with a preferred %s anti-affinity landed in %d domain(s) of %s, want %d", tt.key, got, tt.key, tt.want)
			}
		})
	}
}

// TestSolveCostSoftHACapped: past haDomains domains the Cost policy packs again — 40 soft-HA replicas do not get 40
// nodes.
func TestSolveCostSoftHACapped(t *testing.T) {
	sel := map[string]string{"app": "web"}
	pods := replicas(40, "web", func(n string) *podBuilder {
		return pod(n).req("100m", "128Mi").label("app", "web").preferAnti(100, apiv1.HostnameLabelKey, sel)
	})
	r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, pods, Options{})
	if got := len(r.NodeClaims); got < haDomains || got > haDomains+2 {
		t.Errorf("40 soft-HA replicas got %d nodes, want about %d", got, haDomains)
	}
}
