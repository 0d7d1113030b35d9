package aws

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

func TestSimResolveNodeClass(t *testing.T) {
	e := newSimEnv(t)
	nc := e.addNodeClass(nodeClass("default"))
	conds := nc.StatusConditions()
	for _, ct := range []string{apiv1.ConditionTypeReady, apiv1.ConditionTypeSubnetsReady, apiv1.ConditionTypeSecurityGroupsReady,
		apiv1.ConditionTypeAMIsReady, apiv1.ConditionTypeInstanceProfileReady} {
		if !conds.IsTrue(ct) {
			t.Errorf("condition %s is not True: %+v", ct, conds.Get(ct))
		}
	}
	var zones []string
	for _, s := range nc.Status.Subnets {
		zones = append(zones, s.Zone)
	}
	if diff := cmp.Diff([]string{"us-east-1a", "us-east-1b", "us-east-1c"}, zones); diff != "" {
		t.Errorf("subnet zones (-want +got):\n%s", diff)
	}
	if len(nc.Status.SecurityGroups) != 1 || nc.Status.SecurityGroups[0].Name != testCluster+"-node" {
		t.Errorf("security groups = %+v, want the one %s-node group", nc.Status.SecurityGroups, testCluster)
	}
	var archs []string
	for _, ami := range nc.Status.AMIs {
		if !strings.Contains(ami.Name, "al2023") || !strings.Contains(ami.Name, "-"+testKubernetesVersion+"-") {
			t.Errorf("AMI %s (%s) is not an AL2023 image for Kubernetes %s", ami.ID, ami.Name, testKubernetesVersion)
		}
		archs = append(archs, ami.Requirements[0].Values...)
	}
	slices.Sort(archs)
	// Standard, NVIDIA and Neuron on amd64; standard and NVIDIA on arm64.
	if diff := cmp.Diff([]string{"amd64", "amd64", "amd64", "arm64", "arm64"}, archs); diff != "" {
		t.Errorf("AMI architectures (-want +got):\n%s", diff)
	}
	if nc.Status.InstanceProfile != "tailor-node" {
		t.Errorf("instance profile = %q, want tailor-node", nc.Status.InstanceProfile)
	}
}

func TestSimNodeClassWithoutMatchingSubnetIsNotReady(t *testing.T) {
	e := newSimEnv(t)
	nc := nodeClass("nowhere")
	nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"team": "nobody"}}}
	nc = e.addNodeClass(nc)
	ready := nc.StatusConditions().Get(apiv1.ConditionTypeReady)
	if ready == nil || ready.Status != "False" {
		t.Fatalf("Ready = %+v, want False", ready)
	}
	const want = "no subnet matches spec.subnetSelectorTerms [{tags: team=nobody}]"
	if !strings.Contains(ready.Message, want) {
		t.Errorf("Ready message = %q, want it to contain %q", ready.Message, want)
	}
	if c := nc.StatusConditions().Get(apiv1.ConditionTypeSubnetsReady); c == nil || c.Reason != ReasonNoSubnets {
		t.Errorf("SubnetsReady = %+v, want False with reason %s", c, ReasonNoSubnets)
	}
	claim := testNodeClaim("nc-nowhere", "1")
	claim.Spec.NodeClassRef.Name = "nowhere"
	if _, err := e.provider.Create(t.Context(), claim); !cloudprovider.IsNodeClassNotReadyError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("Create = %v, want NodeClassNotReadyError carrying the message", err)
	}
	pool := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{NodeClassRef: claim.Spec.NodeClassRef}}}}
	if _, err := e.provider.GetInstanceTypes(t.Context(), pool); !cloudprovider.IsNodeClassNotReadyError(err) {
		t.Errorf("GetInstanceTypes = %v, want NodeClassNotReadyError", err)
	}
	if len(e.sim.Instances()) != 0 {
		t.Errorf("instances were launched for a NodeClass that is not ready")
	}
}

func TestSimGetInstanceTypes(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	pool := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
		NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}}}}}
	types, err := e.provider.GetInstanceTypes(t.Context(), pool)
	if err != nil {
		t.Fatalf("GetInstanceTypes: %v", err)
	}
	var names []string
	for _, it := range types {
		names = append(names, it.Name)
	}
	if diff := cmp.Diff([]string{"c6g.large", "m5.large", "m5.xlarge", "t3.micro"}, names); diff != "" {
		t.Fatalf("instance types (-want +got):\n%s", diff)
	}
	// BurstablePerformanceSupported from DescribeInstanceTypes marks t3.micro, and only it.
	for _, it := range types {
		if want := it.Name == "t3.micro"; it.Burstable != want {
			t.Errorf("%s: Burstable = %v, want %v", it.Name, it.Burstable, want)
		}
	}
	m5 := types[1]
	// m5.large: 3 ENIs × (10-1) + 2 = 29 pods; 8192Mi less 7.5% = 7577Mi; kube-reserved 70m and 11×29+255 = 574Mi.
	wantCapacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("7577Mi"),
		corev1.ResourcePods: resource.MustParse("29"), corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"),
	}
	if diff := cmp.Diff(wantCapacity, m5.Capacity, quantityCmp); diff != "" {
		t.Errorf("m5.large capacity (-want +got):\n%s", diff)
	}
	wantKubeReserved := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("70m"), corev1.ResourceMemory: resource.MustParse("574Mi")}
	if diff := cmp.Diff(wantKubeReserved, m5.Overhead.KubeReserved, quantityCmp); diff != "" {
		t.Errorf("m5.large kube-reserved (-want +got):\n%s", diff)
	}
	wantOfferings := []cloudprovider.Offering{
		{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 0.096, Available: true},
		{Zone: "us-east-1a", CapacityType: "spot", PricePerHour: 0.035, Available: true},
		{Zone: "us-east-1b", CapacityType: "on-demand", PricePerHour: 0.096, Available: true},
		{Zone: "us-east-1b", CapacityType: "spot", PricePerHour: 0.030, Available: true},
		{Zone: "us-east-1c", CapacityType: "on-demand", PricePerHour: 0.096, Available: true},
		{Zone: "us-east-1c", CapacityType: "spot", PricePerHour: 0.040, Available: true},
	}
	got := slices.Clone(m5.Offerings)
	slices.SortFunc(got, func(a, b cloudprovider.Offering) int {
		return strings.Compare(a.Zone+a.CapacityType, b.Zone+b.CapacityType)
	})
	if diff := cmp.Diff(wantOfferings, got); diff != "" {
		t.Errorf("m5.large offerings (-want +got):\n%s", diff)
	}
	if l := m5.Labels; l[apiv1.ArchLabelKey] != "amd64" || l[apiv1.InstanceFamilyLabelKey] != "m5" || l[apiv1.RegionLabelKey] != testRegion {
		t.Errorf("m5.large labels = %v", l)
	}
	if again, err := e.provider.GetInstanceTypes(t.Context(), pool); err != nil || again[0] != types[0] {
		t.Errorf("a second call within the TTL did not return the cached types (err %v)", err)
	}
	if n, _ := e.transport.counts("DescribeInstanceTypes"); n != 1 {
		t.Errorf("DescribeInstanceTypes called %d times for two GetInstanceTypes within the TTL, want 1", n)
	}
}

func TestSimCreateLaunchesCheapestSpot(t *testing.T) {
	tests := []struct {
		name     string
		reqs     []apiv1.NodeSelectorRequirementWithMinValues
		wantType string
		wantZone string
	}{
		{name: "any architecture", wantType: "c6g.large", wantZone: "us-east-1a"},
		{name: "amd64 only", reqs: []apiv1.NodeSelectorRequirementWithMinValues{requirement(apiv1.ArchLabelKey, corev1.NodeSelectorOpIn, "amd64")},
			wantType: "m5.large", wantZone: "us-east-1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t)
			e.addNodeClass(nodeClass("default"))
			got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1", tt.reqs...))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			summary := []string{got.Labels[apiv1.InstanceTypeLabelKey], got.Labels[apiv1.ZoneLabelKey], got.Labels[apiv1.CapacityTypeLabelKey]}
			if diff := cmp.Diff([]string{tt.wantType, tt.wantZone, apiv1.CapacityTypeSpot}, summary); diff != "" {
				t.Errorf("launched (-want +got):\n%s", diff)
			}
			inst, ok := e.simInstance(instanceIDOf(t, got))
			if !ok {
				t.Fatalf("ec2sim has no instance %s", got.Status.ProviderID)
			}
			if inst.InstanceType != tt.wantType || inst.Zone != tt.wantZone || inst.CapacityType != apiv1.CapacityTypeSpot {
				t.Errorf("ec2sim instance = %s/%s/%s, want %s/%s/spot", inst.InstanceType, inst.Zone, inst.CapacityType, tt.wantType, tt.wantZone)
			}
			wantTags := map[string]string{
				TagCluster: testCluster, "kubernetes.io/cluster/" + testCluster: "owned", TagNodeClaim: "nc-1",
				TagNodePool: "default", TagEC2NodeClass: "default", TagName: "nc-1",
			}
			for k, v := range wantTags {
				if inst.Tags[k] != v {
					t.Errorf("instance tag %s = %q, want %q", k, inst.Tags[k], v)
				}
			}
			if got.Status.ProviderID != inst.ProviderID {
				t.Errorf("provider ID = %q, ec2sim says %q", got.Status.ProviderID, inst.ProviderID)
			}
			if got.Status.ImageID == "" || got.Status.Allocatable.Cpu().IsZero() || got.Annotations[AnnotationNodeClassHash] == "" {
				t.Errorf("returned NodeClaim lacks image, allocatable or node class hash: %+v", got)
			}
		})
	}
}

func TestSimCreateMovesOnAfterInsufficientCapacity(t *testing.T) {
	tests := []struct {
		name string
		// empty is the cheapest offering of the NodeClaim, which has no capacity.
		empty    ec2sim.CapacityRule
		reqs     []apiv1.NodeSelectorRequirementWithMinValues
		wantType string
		wantZone string
		// wantMarked: EC2 reported the empty pool (lowest-price tries it; price-capacity-optimized skips empty
		// pools without a word, as EC2 does), so the provider marks it unavailable.
		wantMarked bool
	}{
		{name: "spot, price-capacity-optimized",
			empty:    ec2sim.CapacityRule{InstanceType: "c6g.large", Zone: "us-east-1a", CapacityType: "spot"},
			wantType: "c6g.large", wantZone: "us-east-1b"},
		{name: "on-demand, lowest-price",
			empty:    ec2sim.CapacityRule{InstanceType: "t3.micro", Zone: "us-east-1a", CapacityType: "on-demand"},
			reqs:     []apiv1.NodeSelectorRequirementWithMinValues{requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, "on-demand")},
			wantType: "c6g.large", wantZone: "us-east-1a", wantMarked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t)
			e.addNodeClass(nodeClass("default"))
			if err := e.sim.SetCapacity([]ec2sim.CapacityRule{tt.empty}); err != nil {
				t.Fatalf("SetCapacity: %v", err)
			}
			got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "500m", tt.reqs...))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if typ, zone := got.Labels[apiv1.InstanceTypeLabelKey], got.Labels[apiv1.ZoneLabelKey]; typ != tt.wantType || zone != tt.wantZone {
				t.Errorf("launched %s in %s, want the next cheapest offering %s in %s", typ, zone, tt.wantType, tt.wantZone)
			}
			if !tt.wantMarked {
				return
			}
			if !e.provider.UnavailableOfferings().IsUnavailable(tt.empty.InstanceType, tt.empty.Zone, tt.empty.CapacityType) {
				t.Fatalf("the offering with no capacity was not marked unavailable")
			}
			if e.available(tt.empty) {
				t.Errorf("GetInstanceTypes reports the offering with no capacity as available")
			}
			e.step(3 * time.Minute)
			if !e.available(tt.empty) {
				t.Errorf("the offering is still unavailable 3 minutes later")
			}
		})
	}
}

// available is what GetInstanceTypes says of one offering.
func (e *simEnv) available(r ec2sim.CapacityRule) bool {
	e.t.Helper()
	pool := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
		NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}}}}}
	types := must[[]*cloudprovider.InstanceType](e.t, "GetInstanceTypes")(e.provider.GetInstanceTypes(e.t.Context(), pool))
	for _, it := range types {
		for _, o := range it.Offerings {
			if it.Name == r.InstanceType && o.Zone == r.Zone && o.CapacityType == r.CapacityType {
				return o.Available
			}
		}
	}
	e.t.Fatalf("offering %s %s %s is missing", r.InstanceType, r.Zone, r.CapacityType)
	return false
}

func TestSimCreateInsufficientCapacityEverywhere(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	if err := e.sim.SetCapacity([]ec2sim.CapacityRule{{InstanceType: "c6g.large", Capacity: 0}}); err != nil {
		t.Fatalf("SetCapacity: %v", err)
	}
	claim := testNodeClaim("nc-1", "1", requirement(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpIn, "c6g.large"))
	_, err := e.provider.Create(t.Context(), claim)
	if !cloudprovider.IsInsufficientCapacityError(err) {
		t.Fatalf("Create = %v, want InsufficientCapacityError", err)
	}
	// Spot first (three zones), then on-demand (three zones): every pool was tried and marked.
	for _, zone := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		for _, ct := range []string{"spot", "on-demand"} {
			if !e.provider.UnavailableOfferings().IsUnavailable("c6g.large", zone, ct) {
				t.Errorf("c6g.large %s %s not marked unavailable", zone, ct)
			}
		}
	}
	if n := len(e.sim.Instances()); n != 0 {
		t.Errorf("%d instances launched, want none", n)
	}
}

func TestSimCreateRetriesThrottling(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	if err := e.sim.SetFaults(ec2sim.Faults{ThrottleRate: 0.5, Actions: []string{"CreateFleet", "DescribeInstances"}}); err != nil {
		t.Fatalf("SetFaults: %v", err)
	}
	const claims = 6
	for i := range claims {
		if _, err := e.provider.Create(t.Context(), testNodeClaim("nc-"+string(rune('a'+i)), "1")); err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
	}
	requests, throttled := e.transport.counts("CreateFleet")
	if throttled == 0 {
		t.Fatalf("no CreateFleet call was throttled; the test shows nothing")
	}
	if requests != claims+throttled {
		t.Errorf("CreateFleet sent %d times with %d throttled, want %d successful calls", requests, throttled, claims)
	}
	if n := len(e.sim.Instances()); n != claims {
		t.Errorf("%d instances launched for %d NodeClaims", n, claims)
	}
}

func TestSimCreateIsIdempotent(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	first, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(2 * time.Second)
	again, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1"))
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if again.Status.ProviderID != first.Status.ProviderID {
		t.Errorf("second Create returned %s, want the existing %s", again.Status.ProviderID, first.Status.ProviderID)
	}
	if diff := cmp.Diff(first.Labels, again.Labels); diff != "" {
		t.Errorf("labels of the found instance differ from the launch (-launch +found):\n%s", diff)
	}
	if n := len(e.sim.Instances()); n != 1 {
		t.Errorf("%d instances after two Creates of one NodeClaim, want 1", n)
	}
	if n, _ := e.transport.counts("CreateFleet"); n != 1 {
		t.Errorf("CreateFleet called %d times, want 1", n)
	}
}

func TestSimDeleteListGet(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	ctx := t.Context()
	a := must[*apiv1.NodeClaim](t, "Create a")(e.provider.Create(ctx, testNodeClaim("nc-a", "1")))
	b := must[*apiv1.NodeClaim](t, "Create b")(e.provider.Create(ctx, testNodeClaim("nc-b", "1")))
	// A foreign instance: launched by another cluster's Tailor, in the same account.
	other := newProviderOn(t, e, "other-cluster")
	liftIAMPolicy(t, e) // the other cluster's controller has its own policy
	foreign := must[*apiv1.NodeClaim](t, "Create foreign")(other.Create(ctx, testNodeClaim("nc-foreign", "1")))
	restoreIAMPolicy(t, e)
	e.step(2 * time.Second)

	list, err := e.provider.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var names []string
	for _, nc := range list {
		names = append(names, nc.Name)
	}
	if diff := cmp.Diff([]string{"nc-a", "nc-b"}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if list[0].Labels[apiv1.NodePoolLabelKey] != "default" || list[0].Status.ProviderID != a.Status.ProviderID || list[0].CreationTimestamp.IsZero() {
		t.Errorf("List entry = %+v", list[0])
	}
	if _, err := e.provider.Get(ctx, b.Status.ProviderID); err != nil {
		t.Errorf("Get own instance: %v", err)
	}
	if _, err := e.provider.Get(ctx, foreign.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("Get foreign instance = %v, want NodeClaimNotFoundError", err)
	}

	err = e.provider.Delete(ctx, foreign)
	if !errors.Is(err, ErrNotOwned) || cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("Delete of a foreign instance = %v, want ErrNotOwned", err)
	}
	if inst, _ := e.simInstance(instanceIDOf(t, foreign)); inst.State != "running" {
		t.Errorf("foreign instance is %s after the refused Delete, want running", inst.State)
	}
	if n, _ := e.transport.counts("TerminateInstances"); n != 0 {
		t.Errorf("TerminateInstances was called for a foreign instance")
	}

	if err := e.provider.Delete(ctx, a); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := e.provider.Delete(ctx, a); err != nil {
		t.Errorf("Delete while shutting down = %v, want nil", err)
	}
	e.step(5 * time.Second)
	if err := e.provider.Delete(ctx, a); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("Delete of a terminated instance = %v, want NodeClaimNotFoundError", err)
	}
	if _, err := e.provider.Get(ctx, a.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("Get of a terminated instance = %v, want NodeClaimNotFoundError", err)
	}
	list = must[[]*apiv1.NodeClaim](t, "List")(e.provider.List(ctx))
	if len(list) != 1 || list[0].Name != "nc-b" {
		t.Errorf("List after Delete = %d claims, want only nc-b", len(list))
	}
}

func TestSimDriftAfterAMIChange(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	ctx := t.Context()
	claim := must[*apiv1.NodeClaim](t, "Create")(e.provider.Create(ctx, testNodeClaim("nc-1", "1",
		requirement(apiv1.ArchLabelKey, corev1.NodeSelectorOpIn, "amd64"))))
	if reason, err := e.provider.IsDrifted(ctx, claim); err != nil || reason != "" {
		t.Fatalf("IsDrifted right after launch = %q, %v; want no drift", reason, err)
	}
	// The node class now selects the NVIDIA variant: a different AMI.
	e.updateNodeClass("default", func(nc *apiv1.EC2NodeClass) {
		nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Name: "amazon-eks-node-al2023-*-nvidia-" + testKubernetesVersion + "-*"}}
		nc.Spec.AMIFamily = AMIFamilyAL2023
		nc.Generation++
	})
	reason, err := e.provider.IsDrifted(ctx, claim)
	if err != nil || reason != cloudprovider.DriftReasonAMI {
		t.Errorf("IsDrifted after the AMI change = %q, %v; want %s", reason, err, cloudprovider.DriftReasonAMI)
	}
}

func TestSimDriftAfterNodeClassSpecChange(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	ctx := t.Context()
	claim := must[*apiv1.NodeClaim](t, "Create")(e.provider.Create(ctx, testNodeClaim("nc-1", "1")))
	e.updateNodeClass("default", func(nc *apiv1.EC2NodeClass) {
		nc.Spec.Tags = map[string]string{"cost-center": "42"}
		nc.Generation++
	})
	if reason, err := e.provider.IsDrifted(ctx, claim); err != nil || reason != cloudprovider.DriftReasonNodeClass {
		t.Errorf("IsDrifted after a tags change = %q, %v; want %s", reason, err, cloudprovider.DriftReasonNodeClass)
	}
}

// newProviderOn builds a second provider for another cluster against the same ec2sim.
func newProviderOn(t *testing.T, e *simEnv, cluster string) *Provider {
	t.Helper()
	opts := e.provider.opts
	opts.ClusterName = cluster
	p, err := New(opts, e.clients, e.kube, e.clock)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// quantityCmp compares quantities by value (1Gi equals 1024Mi).
var quantityCmp = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })
