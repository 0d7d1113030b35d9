package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// CreateFleet's control-flow errors, injected through ec2sim's admin API as an instant fleet reports them (in the
// answer's Errors list), and what the provider makes of each.

func TestSimCreateFallsBackToOnDemandWithoutSpotServiceLinkedRole(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	e.putFaults(`{"fleetErrors":[{"code":"AuthFailure.ServiceLinkedRoleCreationNotPermitted"}]}`)
	claim := testNodeClaim("nc-1", "1", requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	got, err := e.provider.Create(t.Context(), claim)
	if err != nil {
		t.Fatalf("Create with spot refused and on-demand allowed: %v", err)
	}
	if ct := got.Labels[apiv1.CapacityTypeLabelKey]; ct != apiv1.CapacityTypeOnDemand {
		t.Errorf("launched %s, want on-demand", ct)
	}
	inst, ok := e.simInstance(instanceIDOf(t, got))
	if !ok || inst.CapacityType != apiv1.CapacityTypeOnDemand {
		t.Errorf("ec2sim instance %+v, want an on-demand one", inst)
	}
	// Spot is out as a whole, for every type and zone, so planning stops offering it too.
	for _, typ := range []string{"m5.large", "c6g.large", "m5.xlarge"} {
		if !e.provider.UnavailableOfferings().IsUnavailable(typ, "us-east-1c", apiv1.CapacityTypeSpot) {
			t.Errorf("spot %s not marked unavailable", typ)
		}
	}
	if e.available(ec2sim.CapacityRule{InstanceType: "m5.xlarge", Zone: "us-east-1a", CapacityType: apiv1.CapacityTypeSpot}) {
		t.Errorf("GetInstanceTypes still offers spot")
	}
	if !e.available(ec2sim.CapacityRule{InstanceType: "m5.xlarge", Zone: "us-east-1a", CapacityType: apiv1.CapacityTypeOnDemand}) {
		t.Errorf("GetInstanceTypes lost on-demand too")
	}
}

func TestSimCreateSpotOnlyWithoutServiceLinkedRoleIsInsufficientCapacity(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	e.putFaults(`{"fleetErrors":[{"code":"AuthFailure.ServiceLinkedRoleCreationNotPermitted"}]}`)
	claim := testNodeClaim("nc-1", "1", requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, "spot"))
	_, err := e.provider.Create(t.Context(), claim)
	if !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("Create = %v, want InsufficientCapacityError (no spot, and on-demand not allowed)", err)
	}
	if n := len(e.sim.Instances()); n != 0 {
		t.Errorf("%d instances launched, want none", n)
	}
	// The refusal expires with the cache, so a role created meanwhile is used.
	e.putFaults(`{}`)
	e.step(4 * time.Minute)
	got, err := e.provider.Create(t.Context(), claim)
	if err != nil || got.Labels[apiv1.CapacityTypeLabelKey] != apiv1.CapacityTypeSpot {
		t.Fatalf("Create after the role exists = %v, %v; want a spot launch", got, err)
	}
}

func TestSimCreateControlFlowErrorsMarkPools(t *testing.T) {
	tests := []struct {
		name  string
		fault string
		// marked are the pools the error took out: type/zone/capacity-type.
		marked   []string
		wantType string
		wantZone string
	}{
		{name: "InsufficientInstanceCapacity on the cheapest override",
			fault:  `{"fleetErrors":[{"code":"InsufficientInstanceCapacity","instanceType":"c6g.large","zone":"us-east-1a","capacityType":"spot"}]}`,
			marked: []string{"c6g.large/us-east-1a/spot"}, wantType: "c6g.large", wantZone: "us-east-1b"},
		{name: "UnfulfillableCapacity on every c6g override",
			fault:    `{"fleetErrors":[{"code":"UnfulfillableCapacity","instanceType":"c6g.*","capacityType":"spot"}]}`,
			marked:   []string{"c6g.large/us-east-1a/spot", "c6g.large/us-east-1b/spot", "c6g.large/us-east-1c/spot"},
			wantType: "m5.large", wantZone: "us-east-1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t)
			e.addNodeClass(nodeClass("default"))
			e.putFaults(tt.fault)
			got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "500m"))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			summary := []string{got.Labels[apiv1.InstanceTypeLabelKey], got.Labels[apiv1.ZoneLabelKey], got.Labels[apiv1.CapacityTypeLabelKey]}
			if diff := cmp.Diff([]string{tt.wantType, tt.wantZone, apiv1.CapacityTypeSpot}, summary); diff != "" {
				t.Errorf("launched (-want +got):\n%s", diff)
			}
			for _, m := range tt.marked {
				pool := strings.SplitN(m, "/", 3)
				if !e.provider.UnavailableOfferings().IsUnavailable(pool[0], pool[1], pool[2]) {
					t.Errorf("pool %s not marked unavailable", m)
				}
			}
			if e.provider.UnavailableOfferings().IsUnavailable("m5.large", "us-east-1a", apiv1.CapacityTypeOnDemand) {
				t.Errorf("an unrelated on-demand pool was marked unavailable")
			}
		})
	}
}

// The provider never tags a spot request on an on-demand fleet, which EC2 refuses with InvalidParameterCombination:
// an on-demand launch through ec2sim, which enforces the rule, succeeds.
func TestSimCreateOnDemandPassesSpotRequestTagRule(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	claim := testNodeClaim("nc-1", "1", requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, "on-demand"))
	got, err := e.provider.Create(t.Context(), claim)
	if err != nil {
		t.Fatalf("on-demand Create: %v", err)
	}
	if ct := got.Labels[apiv1.CapacityTypeLabelKey]; ct != apiv1.CapacityTypeOnDemand {
		t.Errorf("launched %s, want on-demand", ct)
	}
}
