package scheduling

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// solve runs Solve and the independent validator, failing the test on any violation.
func solve(t *testing.T, snap *Snapshot, pods []*corev1.Pod, opts Options) *Results {
	t.Helper()
	r, err := Solve(snap, pods, opts)
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	for _, err := range (Validator{Snapshot: snap, Pods: pods}).Validate(r) {
		t.Errorf("invalid plan: %v", err)
	}
	return r
}

// summary is a compact view of a plan for table tests: "type zone capacity-type: pods".
func summary(r *Results) []string {
	var out []string
	for _, c := range r.NodeClaims {
		o := c.Cheapest()
		var names []string
		for _, p := range c.Pods {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		out = append(out, fmt.Sprintf("%s %s %s: %s", o.InstanceType.Name, o.Offering.Zone, o.Offering.CapacityType, strings.Join(names, ",")))
	}
	for _, e := range r.ExistingNodes {
		var names []string
		for _, p := range e.Pods {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		out = append(out, fmt.Sprintf("existing %s: %s", e.Node, strings.Join(names, ",")))
	}
	return out
}

func reasonsOf(r *Results) map[string][]string {
	out := map[string][]string{}
	for _, u := range r.Unschedulable {
		out[u.Pod.Name] = ReasonStrings(u.Reasons)
	}
	return out
}

func defaultPool() *NodePool { return nodePool("default", smallCatalog()...).obj() }

func TestSolvePacksCheapestAndPrefersSpot(t *testing.T) {
	pods := replicas(3, "web", func(n string) *podBuilder { return pod(n).req("1", "2Gi") })
	r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, pods, Options{})
	// 3 cpu + 6Gi: c6.xlarge (4 cpu, 8Gi) is the cheapest type that fits, and spot is 40% of on-demand.
	want := []string{"c6.xlarge test-1a spot: web-0,web-1,web-2"}
	if diff := cmp.Diff(want, summary(r)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if got, want := r.TotalPricePerHour(), 0.17*0.4; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("total price %v, want %v", got, want)
	}
	opts := r.NodeClaims[0].InstanceTypeOptions
	if len(opts) < 2 || opts[0].Offering.PricePerHour > opts[1].Offering.PricePerHour {
		t.Errorf("options must list every fitting type, cheapest first: %v", opts)
	}
}

func TestSolveReasons(t *testing.T) {
	spotOnly := nodePool("default", smallCatalog()...).require(req(apiv1.CapacityTypeLabelKey, OpIn, "spot")).obj()
	limited := nodePool("default", smallCatalog()...).limit(corev1.ResourceCPU, "4").obj()
	tainted := nodePool("gpu", smallCatalog()...).taint("nvidia.com/gpu", "true", corev1.TaintEffectNoSchedule).obj()
	tests := []struct {
		name  string
		pools []*NodePool
		pod   *corev1.Pod
		want  []string
	}{
		{
			name:  "capacity type conflict",
			pools: []*NodePool{spotOnly},
			pod:   pod("p").req("1", "1Gi").selector(apiv1.CapacityTypeLabelKey, "on-demand").obj(),
			want:  []string{`nodepool "default": requirement tailor.sh/capacity-type In [spot] conflicts with pod nodeSelector tailor.sh/capacity-type=on-demand`},
		},
		{
			name:  "too much memory",
			pools: []*NodePool{defaultPool()},
			pod:   pod("p").req("1", "300Gi").obj(),
			want:  []string{`nodepool "default": no instance type has 300Gi memory (largest allowed: 256Gi)`},
		},
		{
			name:  "limit",
			pools: []*NodePool{limited},
			pod:   pod("p").req("6", "1Gi").obj(),
			want:  []string{`nodepool "default" cpu limit 4 would be exceeded`},
		},
		{
			name:  "taint and label missing",
			pools: []*NodePool{tainted, defaultPool()},
			pod:   pod("p").req("1", "1Gi").selector("team", "a").obj(),
			want: []string{
				`nodepool "default": label team (not set on the node) conflicts with pod nodeSelector team=a`,
				`nodepool "gpu": the pod does not tolerate taint nvidia.com/gpu=true:NoSchedule`,
			},
		},
		{
			name:  "arch affinity",
			pools: []*NodePool{defaultPool()},
			pod:   pod("p").req("1", "1Gi").nodeAffinity(nsr(apiv1.ArchLabelKey, corev1.NodeSelectorOpIn, "arm64")).obj(),
			want:  []string{`nodepool "default": requirement kubernetes.io/arch In [amd64] conflicts with pod node affinity kubernetes.io/arch In [arm64]`},
		},
		{
			name:  "missing claim",
			pools: []*NodePool{defaultPool()},
			pod:   pod("p").req("1", "1Gi").pvc("data").obj(),
			want:  []string{`persistentvolumeclaim "default/data" not found`},
		},
		{
			name:  "DRA resource claims",
			pools: []*NodePool{defaultPool()},
			pod: func() *corev1.Pod {
				p := pod("p").req("1", "1Gi").obj()
				p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: ptr.To("single-gpu")}}
				return p
			}(),
			want: []string{reasonDRA},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := solve(t, &Snapshot{NodePools: tt.pools}, []*corev1.Pod{tt.pod}, Options{})
			if diff := cmp.Diff(map[string][]string{"p": tt.want}, reasonsOf(r)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSolveConstraints(t *testing.T) {
	sel := map[string]string{"app": "a"}
	zonal := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-b"},
		Spec: corev1.PersistentVolumeSpec{NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{nsr(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "test-1b")},
		}}}}},
	}
	bound := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-b"}}
	scName := "zonal-c"
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: scName}, VolumeBindingMode: &wffc,
		AllowedTopologies: []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: apiv1.ZoneLabelKey, Values: []string{"test-1c"}}}}}}
	unbound := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "scratch", Namespace: "default"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &scName}}

	tests := []struct {
		name  string
		snap  *Snapshot
		pods  []*corev1.Pod
		check func(t *testing.T, r *Results)
	}{
		{
			name: "hostname anti-affinity puts each pod on its own node",
			pods: replicas(4, "db", func(n string) *podBuilder {
				return pod(n).req("500m", "1Gi").label("app", "a").antiAffinity(apiv1.HostnameLabelKey, sel)
			}),
			check: wantClaims(4),
		},
		{
			name: "zone spread balances across the three zones",
			pods: replicas(6, "web", func(n string) *podBuilder {
				return pod(n).req("500m", "1Gi").label("app", "a").spread(apiv1.ZoneLabelKey, 1, corev1.DoNotSchedule, sel)
			}),
			check: func(t *testing.T, r *Results) {
				perZone := map[string]int{}
				for _, c := range r.NodeClaims {
					perZone[c.Labels[apiv1.ZoneLabelKey]] += len(c.Pods)
				}
				if diff := cmp.Diff(map[string]int{"test-1a": 2, "test-1b": 2, "test-1c": 2}, perZone); diff != "" {
					t.Errorf("pods per zone (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "hostname spread with maxSkew 2 packs two per node",
			pods: replicas(6, "web", func(n string) *podBuilder {
				return pod(n).req("100m", "128Mi").label("app", "a").spread(apiv1.HostnameLabelKey, 2, corev1.DoNotSchedule, sel)
			}),
			check: wantClaims(3),
		},
		{
			name: "zone pod affinity keeps the group in one zone",
			pods: replicas(12, "cache", func(n string) *podBuilder {
				return pod(n).req("3", "6Gi").label("app", "a").podAffinity(apiv1.ZoneLabelKey, sel)
			}),
			check: func(t *testing.T, r *Results) {
				zones := map[string]bool{}
				for _, c := range r.NodeClaims {
					zones[c.Labels[apiv1.ZoneLabelKey]] = true
				}
				if len(zones) != 1 || len(r.NodeClaims) < 2 {
					t.Errorf("want several nodes in one zone, got %d nodes in zones %v", len(r.NodeClaims), zones)
				}
			},
		},
		{
			name:  "host ports force separate nodes",
			pods:  replicas(3, "agent", func(n string) *podBuilder { return pod(n).req("100m", "100Mi").hostPort(9100) }),
			check: wantClaims(3),
		},
		{
			name: "bound zonal volume and storage class topology",
			snap: &Snapshot{PersistentVolumes: []*corev1.PersistentVolume{zonal}, PersistentVolumeClaims: []*corev1.PersistentVolumeClaim{bound, unbound}, StorageClasses: []*storagev1.StorageClass{sc}},
			pods: []*corev1.Pod{pod("a").req("1", "1Gi").pvc("data").obj(), pod("b").req("1", "1Gi").pvc("scratch").obj()},
			check: func(t *testing.T, r *Results) {
				got := map[string]string{}
				for _, c := range r.NodeClaims {
					for _, p := range c.Pods {
						got[p.Name] = c.Labels[apiv1.ZoneLabelKey]
					}
				}
				if diff := cmp.Diff(map[string]string{"a": "test-1b", "b": "test-1c"}, got); diff != "" {
					t.Errorf("zones (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "daemonset overhead lands on new nodes",
			snap: &Snapshot{DaemonSetPods: []*corev1.Pod{pod("ds").req("1", "1Gi").obj()}},
			pods: []*corev1.Pod{pod("p").req("1", "2Gi").obj()},
			check: func(t *testing.T, r *Results) {
				c := r.NodeClaims[0]
				if got := c.Cheapest().InstanceType.Name; got != "m6.large" && got != "c6.large" {
					t.Errorf("2 cpu of pods and daemonsets fit a large type, got %s", got)
				}
				if len(c.DaemonSetPods) != 1 {
					t.Errorf("want the daemonset pod listed, got %d", len(c.DaemonSetPods))
				}
			},
		},
		{
			name: "existing capacity is used first",
			snap: &Snapshot{Nodes: []*ExistingNode{existingNode("n1", "test-1a", "4", "16Gi", pod("old").req("1", "1Gi").obj())}},
			pods: []*corev1.Pod{pod("a").req("2", "4Gi").obj(), pod("b").req("2", "4Gi").obj()},
			check: func(t *testing.T, r *Results) {
				if diff := cmp.Diff([]string{"c6.large test-1a spot: b", "existing n1: a"}, summary(r)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "existing pod anti-affinity is symmetric",
			snap: &Snapshot{Nodes: []*ExistingNode{existingNode("n1", "test-1a", "4", "16Gi",
				pod("old").req("100m", "100Mi").label("app", "old").antiAffinity(apiv1.HostnameLabelKey, map[string]string{"app": "new"}).obj())}},
			pods:  []*corev1.Pod{pod("a").req("1", "1Gi").label("app", "new").obj()},
			check: wantClaims(1),
		},
		{
			name: "init containers take the max, sidecars add",
			pods: []*corev1.Pod{func() *corev1.Pod {
				p := pod("p").req("1", "1Gi").obj()
				always := corev1.ContainerRestartPolicyAlways
				p.Spec.InitContainers = []corev1.Container{
					{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: p.Spec.Containers[0].Resources.Requests.DeepCopy()}},
					{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("7")}}},
				}
				return p
			}()},
			check: func(t *testing.T, r *Results) {
				// max(1+1, 7+1) = 8 cpu: needs more than an xlarge.
				if got := r.NodeClaims[0].Cheapest().InstanceType.Labels[apiv1.InstanceCPULabelKey]; got != "8" {
					t.Errorf("want an 8-cpu node for 8 cpu requested, got %s cpu", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := tt.snap
			if snap == nil {
				snap = &Snapshot{}
			}
			snap.NodePools = []*NodePool{defaultPool()}
			tt.check(t, solve(t, snap, tt.pods, Options{}))
		})
	}
}

func wantClaims(n int) func(t *testing.T, r *Results) {
	return func(t *testing.T, r *Results) {
		t.Helper()
		if len(r.NodeClaims) != n || len(r.Unschedulable) != 0 {
			t.Errorf("want %d nodeclaims and no unschedulable pods, got %d and %v (%v)", n, len(r.NodeClaims), reasonsOf(r), summary(r))
		}
	}
}

func TestSolveNodePoolWeightAndLimits(t *testing.T) {
	heavy := nodePool("heavy", smallCatalog()...).weight(10).limit(corev1.ResourceCPU, "8").obj()
	light := nodePool("light", smallCatalog()...).obj()
	pods := replicas(6, "p", func(n string) *podBuilder { return pod(n).req("1500m", "1Gi") })
	r := solve(t, &Snapshot{NodePools: []*NodePool{light, heavy}}, pods, Options{})
	perPool := map[string]int{}
	for _, c := range r.NodeClaims {
		perPool[c.NodePool] += len(c.Pods)
	}
	if perPool["heavy"] == 0 || perPool["light"] == 0 || perPool["heavy"]+perPool["light"] != 6 {
		t.Errorf("want the weighted pool filled to its limit and the rest on the other, got %v", perPool)
	}
}

func TestSolveMinValues(t *testing.T) {
	three := 3
	np := nodePool("flex", smallCatalog()...).obj()
	np.Requirements = MustRequirements(Requirement{Key: apiv1.InstanceFamilyLabelKey, Operator: OpExists, MinValues: &three})
	pods := replicas(2, "p", func(n string) *podBuilder { return pod(n).req("1", "1Gi") })
	r := solve(t, &Snapshot{NodePools: []*NodePool{np}}, pods, Options{})
	families := map[string]bool{}
	for _, o := range r.NodeClaims[0].InstanceTypeOptions {
		families[o.InstanceType.Labels[apiv1.InstanceFamilyLabelKey]] = true
	}
	if len(families) < 3 {
		t.Errorf("want options from at least 3 families, got %v", families)
	}
	// A pod only one family can hold cannot be placed.
	huge := pod("huge").req("30", "200Gi").obj()
	r = solve(t, &Snapshot{NodePools: []*NodePool{np}}, []*corev1.Pod{huge}, Options{})
	if diff := cmp.Diff(map[string][]string{"huge": {`nodepool "flex": requirement tailor.sh/instance-family Exists needs minValues 3 but only 1 values fit`}}, reasonsOf(r)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSolvePreferences(t *testing.T) {
	sel := map[string]string{"app": "a"}
	pods := replicas(400, "p", func(n string) *podBuilder {
		return pod(n).req("100m", "128Mi").label("app", "a").preferAnti(100, apiv1.HostnameLabelKey, sel)
	})
	cost := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, pods, Options{})
	if len(cost.NodeClaims) > 10 {
		t.Errorf("cost policy: a preferred anti-affinity must not open a node per pod, got %d nodes", len(cost.NodeClaims))
	}
	respect := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, pods, Options{Preferences: PreferenceRespect})
	if len(respect.NodeClaims) != 400 {
		t.Errorf("respect policy: want one node per pod, got %d", len(respect.NodeClaims))
	}
	// Preferred node affinity is honoured when it costs nothing extra to open the node there.
	p := pod("z").req("1", "1Gi").preferNode(50, nsr(apiv1.ZoneLabelKey, corev1.NodeSelectorOpIn, "test-1c")).obj()
	r := solve(t, &Snapshot{NodePools: []*NodePool{defaultPool()}}, []*corev1.Pod{p}, Options{})
	if got := r.NodeClaims[0].Labels[apiv1.ZoneLabelKey]; got != "test-1c" {
		t.Errorf("preferred zone not honoured: %s", got)
	}
}

func TestSolveIsDeterministic(t *testing.T) {
	pods := randomPods(newRand(7), 300)
	snap := &Snapshot{NodePools: []*NodePool{defaultPool()}}
	a := solve(t, snap, pods, Options{})
	b := solve(t, snap, pods, Options{})
	if diff := cmp.Diff(summary(a), summary(b)); diff != "" {
		t.Errorf("two runs differ (-first +second):\n%s", diff)
	}
}

func TestSolveNodesLimit(t *testing.T) {
	sel := map[string]string{"app": "a"}
	// Hostname anti-affinity: every pod needs a node of its own.
	solo := replicas(3, "solo", func(n string) *podBuilder {
		return pod(n).req("500m", "1Gi").label("app", "a").antiAffinity(apiv1.HostnameLabelKey, sel)
	})
	withUsage := func(np *NodePool, nodes string) *NodePool {
		np.Usage = corev1.ResourceList{ResourceNodes: resource.MustParse(nodes)}
		return np
	}
	tests := []struct {
		name      string
		pools     []*NodePool
		wantPools map[string]int
		want      map[string][]string
	}{
		{
			name:      "the limit caps new nodes",
			pools:     []*NodePool{nodePool("default", smallCatalog()...).limit(ResourceNodes, "2").obj()},
			wantPools: map[string]int{"default": 2},
			want:      map[string][]string{"solo-2": {`nodepool "default" nodes limit 2 would be exceeded`}},
		},
		{
			name:      "existing nodes count",
			pools:     []*NodePool{withUsage(nodePool("default", smallCatalog()...).limit(ResourceNodes, "2").obj(), "1")},
			wantPools: map[string]int{"default": 1},
			want: map[string][]string{
				"solo-1": {`nodepool "default" nodes limit 2 would be exceeded`},
				"solo-2": {`nodepool "default" nodes limit 2 would be exceeded`},
			},
		},
		{
			name: "the next nodepool takes the rest",
			pools: []*NodePool{
				nodePool("first", smallCatalog()...).weight(10).limit(ResourceNodes, "1").obj(),
				nodePool("second", smallCatalog()...).obj(),
			},
			wantPools: map[string]int{"first": 1, "second": 2},
			want:      map[string][]string{},
		},
		{
			name:      "usage of nodes without a limit is ignored",
			pools:     []*NodePool{withUsage(nodePool("default", smallCatalog()...).obj(), "50")},
			wantPools: map[string]int{"default": 3},
			want:      map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := solve(t, &Snapshot{NodePools: tt.pools}, solo, Options{})
			perPool := map[string]int{}
			for _, c := range r.NodeClaims {
				perPool[c.NodePool]++
			}
			if diff := cmp.Diff(tt.wantPools, perPool); diff != "" {
				t.Errorf("nodeclaims per nodepool (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, reasonsOf(r)); diff != "" {
				t.Errorf("unschedulable (-want +got):\n%s", diff)
			}
		})
	}
}
