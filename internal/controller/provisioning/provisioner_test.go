package provisioning

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// fixture is one test's world: a namespace, a client, a fake cloud and a Provisioner reading the real API server.
type fixture struct {
	t           *testing.T
	kube        client.Client
	ns          string
	cloud       *fake.CloudProvider
	recorder    *events.FakeRecorder
	provisioner *Provisioner
}

func newFixture(t *testing.T, types ...string) *fixture {
	t.Helper()
	kube := env.DirectClient(t)
	ns := testenv.Namespace(t, kube, "prov")
	cloud := fake.New(instanceTypes(t, types...)...)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	recorder := events.NewFakeRecorder(1000)
	p, err := New(clk, kube, state.NewCluster(clk, kube), cloud, recorder, NewBatcher(clk, time.Second, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, kube: kube, ns: ns, cloud: cloud, recorder: recorder, provisioner: p}
	t.Cleanup(f.cleanup)
	return f
}

// cleanup removes what the test made that is cluster-scoped, so tests do not see each other's NodePools and claims.
func (f *fixture) cleanup() {
	ctx := context.WithoutCancel(f.t.Context())
	_ = f.kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
	_ = f.kube.DeleteAllOf(ctx, &apiv1.NodePool{})
	_ = f.kube.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(f.ns))
}

func instanceTypes(t *testing.T, names ...string) []*cloudprovider.InstanceType {
	t.Helper()
	c, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Named(catalog.Options{}, names...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// spotPrices is the cheapest spot price of each named type in the catalogue.
func spotPrices(t *testing.T, names ...string) []float64 {
	t.Helper()
	var out []float64
	for _, it := range instanceTypes(t, names...) {
		best := -1.0
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeSpot && (best < 0 || o.PricePerHour < best) {
				best = o.PricePerHour
			}
		}
		out = append(out, best)
	}
	return out
}

func (f *fixture) nodePool(name string, mutate func(*apiv1.NodePool)) *apiv1.NodePool {
	f.t.Helper()
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		}}},
	}
	if mutate != nil {
		mutate(np)
	}
	if err := f.kube.Create(f.t.Context(), np); err != nil {
		f.t.Fatalf("creating nodepool: %v", err)
	}
	return np
}

// pendingPods creates n pods requesting cpu each and marks them Unschedulable, as the kube-scheduler would.
func (f *fixture) pendingPods(n int, cpu string, mutate func(*corev1.Pod)) []*corev1.Pod {
	f.t.Helper()
	var pods []*corev1.Pod
	for range n {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "inflate-", Namespace: f.ns, Labels: map[string]string{"app": "inflate"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "pause", Image: "pause",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
			}}},
		}
		if mutate != nil {
			mutate(pod)
		}
		if err := f.kube.Create(f.t.Context(), pod); err != nil {
			f.t.Fatalf("creating pod: %v", err)
		}
		pod.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/0 nodes are available", LastTransitionTime: metav1.Now(),
		}}
		if err := f.kube.Status().Update(f.t.Context(), pod); err != nil {
			f.t.Fatalf("marking pod unschedulable: %v", err)
		}
		pods = append(pods, pod)
	}
	return pods
}

func (f *fixture) nodeClaims() []apiv1.NodeClaim {
	f.t.Helper()
	list := &apiv1.NodeClaimList{}
	if err := f.kube.List(f.t.Context(), list); err != nil {
		f.t.Fatal(err)
	}
	return list.Items
}

func (f *fixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func requirement(nc apiv1.NodeClaim, key string) *apiv1.NodeSelectorRequirementWithMinValues {
	for i := range nc.Spec.Requirements {
		if nc.Spec.Requirements[i].Key == key {
			return &nc.Spec.Requirements[i]
		}
	}
	return nil
}

// TestReferenceScaleUp is the tutorial's scale-up at the controller level: a spot-only pool with a cpu limit of
// 1000 and four 1-CPU pods → one NodeClaim, spot, sized for the four pods, cheapest types first, every pod nominated.
func TestReferenceScaleUp(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge", "m5.2xlarge", "c5.xlarge", "c5.2xlarge", "m5.4xlarge")
	np := f.nodePool("default", func(np *apiv1.NodePool) {
		np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{{
			Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeSpot},
		}}
		np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}
	})
	pods := f.pendingPods(4, "1", nil)

	results, err := f.provisioner.Provision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if results == nil || len(results.NodeClaims) != 1 {
		t.Fatalf("planned %v, want exactly one nodeclaim", results)
	}
	claims := f.nodeClaims()
	if len(claims) != 1 {
		t.Fatalf("created %d nodeclaims, want 1", len(claims))
	}
	nc := claims[0]
	if got := nc.Labels[apiv1.NodePoolLabelKey]; got != "default" {
		t.Errorf("nodepool label = %q, want default", got)
	}
	if len(nc.OwnerReferences) != 1 || nc.OwnerReferences[0].UID != np.UID {
		t.Errorf("owner references = %v, want the nodepool", nc.OwnerReferences)
	}
	if ct := requirement(nc, apiv1.CapacityTypeLabelKey); ct == nil || !cmp.Equal(ct.Values, []string{apiv1.CapacityTypeSpot}) {
		t.Errorf("capacity-type requirement = %v, want In [spot]", ct)
	}
	types := requirement(nc, apiv1.InstanceTypeLabelKey)
	if types == nil || len(types.Values) == 0 {
		t.Fatalf("no instance-type requirement in %v", nc.Spec.Requirements)
	}
	// Four 1-CPU pods do not fit 2 or 4 vCPU (allocatable is below capacity); every option must have 8+ vCPUs.
	for _, name := range types.Values {
		if slices.Contains([]string{"m5.large", "m5.xlarge", "c5.xlarge"}, name) {
			t.Errorf("instance-type option %s cannot hold four 1-CPU pods", name)
		}
	}
	// Options come cheapest spot offering first.
	prices := spotPrices(t, types.Values...)
	if !slices.IsSorted(prices) {
		t.Errorf("options %v are not ordered by spot price %v", types.Values, prices)
	}
	if cpu := nc.Spec.Resources.Requests[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("4")) != 0 {
		t.Errorf("requested cpu = %s, want 4", cpu.String())
	}
	for _, p := range pods {
		if got, ok := f.provisioner.cluster.Nominations().Nomination(p); !ok || got != nc.Name {
			t.Errorf("pod %s nominated to %q, want %s", p.Name, got, nc.Name)
		}
	}
	nominated := 0
	for _, e := range f.drainEvents() {
		if strings.Contains(e, ReasonNominated) && strings.Contains(e, nc.Name) {
			nominated++
		}
	}
	if nominated != 4 {
		t.Errorf("%d Nominated events, want 4", nominated)
	}

	// The same pods, still pending, are not planned twice while their nodeclaim is on its way.
	results, err = f.provisioner.Provision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if results != nil && len(results.NodeClaims) > 0 {
		t.Errorf("second batch planned %d more nodeclaims for nominated pods", len(results.NodeClaims))
	}
	if n := len(f.nodeClaims()); n != 1 {
		t.Errorf("%d nodeclaims after the second batch, want 1", n)
	}
}

// TestLimitStopsLaunches: a pool whose cpu limit is used up launches nothing and says so, on the pod and the pool.
func TestLimitStopsLaunches(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge")
	f.nodePool("small", func(np *apiv1.NodePool) {
		np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	})
	f.pendingPods(1, "1500m", nil)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.nodeClaims()); n != 0 {
		t.Fatalf("created %d nodeclaims past the cpu limit", n)
	}
	var failed, limit bool
	for _, e := range f.drainEvents() {
		failed = failed || (strings.Contains(e, ReasonFailedScheduling) && strings.Contains(e, `nodepool "small" cpu limit 1 would be exceeded`))
		limit = limit || strings.Contains(e, ReasonLimitReached)
	}
	if !failed || !limit {
		t.Errorf("want a FailedScheduling event naming the limit (%v) and a LimitReached event (%v)", failed, limit)
	}
}

// TestPodNoPoolCanHost: the pod's nodeSelector conflicts with the only pool; it gets the reason and no claim is made.
func TestPodNoPoolCanHost(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.nodePool("spot-only", func(np *apiv1.NodePool) {
		np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{{
			Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeSpot},
		}}
	})
	f.pendingPods(1, "100m", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand}
	})
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.nodeClaims()); n != 0 {
		t.Fatalf("created %d nodeclaims for a pod no pool can host", n)
	}
	var reason string
	for _, e := range f.drainEvents() {
		if strings.Contains(e, ReasonFailedScheduling) {
			reason = e
		}
	}
	if !strings.Contains(reason, `nodepool "spot-only"`) || !strings.Contains(reason, "on-demand") {
		t.Errorf("FailedScheduling event %q does not say why the spot-only pool cannot host the pod", reason)
	}
}

// TestNodeClaimForCarriesTemplate checks the template's labels, taints, startup taints, node class and lifetimes
// reach the NodeClaim, and that the hostname placeholder does not.
func TestNodeClaimForCarriesTemplate(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge")
	taint := corev1.Taint{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}
	startup := corev1.Taint{Key: "node.cilium.io/agent-not-ready", Effect: corev1.TaintEffectNoExecute}
	f.nodePool("batch", func(np *apiv1.NodePool) {
		np.Spec.Template.ObjectMeta.Labels = map[string]string{"team": "batch"}
		np.Spec.Template.Spec.Taints = []corev1.Taint{taint}
		np.Spec.Template.Spec.StartupTaints = []corev1.Taint{startup}
		np.Spec.Template.Spec.TerminationGracePeriod = &metav1.Duration{Duration: time.Hour}
	})
	f.pendingPods(1, "500m", func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
		p.Spec.NodeSelector = map[string]string{"team": "batch"}
	})
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	claims := f.nodeClaims()
	if len(claims) != 1 {
		t.Fatalf("created %d nodeclaims, want 1", len(claims))
	}
	nc := claims[0]
	if nc.Labels["team"] != "batch" {
		t.Errorf("labels = %v, want team=batch", nc.Labels)
	}
	if diff := cmp.Diff([]corev1.Taint{taint}, []corev1.Taint(nc.Spec.Taints)); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Taint{startup}, []corev1.Taint(nc.Spec.StartupTaints)); diff != "" {
		t.Errorf("startup taints (-want +got):\n%s", diff)
	}
	if nc.Spec.NodeClassRef.Name != "default" {
		t.Errorf("nodeClassRef = %v", nc.Spec.NodeClassRef)
	}
	if nc.Spec.TerminationGracePeriod == nil || nc.Spec.TerminationGracePeriod.Duration != time.Hour {
		t.Errorf("terminationGracePeriod = %v, want 1h", nc.Spec.TerminationGracePeriod)
	}
	if requirement(nc, apiv1.HostnameLabelKey) != nil {
		t.Errorf("nodeclaim carries a hostname requirement: %v", nc.Spec.Requirements)
	}
}
