package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestExplain builds a small cluster on a real kube-apiserver — three NodePools (spot only, on-demand, and one whose
// node class is missing), two Tailor nodes and an in-flight NodeClaim, pods in every state — and checks what
// `tailor explain` says about each.
//
// The control plane starts here rather than in TestMain: the package's other tests do not need one. The API server
// runs alone (no kube-scheduler), so pending pods stay pending and every state is set by the test.
func TestExplain(t *testing.T) {
	kube, cs := startExplainAPIServer(t)
	f := seedExplainCluster(t, kube, cs)

	t.Run("a pod that fits an existing node names it", func(t *testing.T) {
		x := f.explainPod(t, "fits")
		price := f.price(t, "m5.xlarge", "us-east-1a", apiv1.CapacityTypeOnDemand)
		want := PodDecision{Kind: DecisionExistingNode, Node: "kwok-small", NodeClaim: "general-abc", NodePool: "general",
			InstanceType: "m5.xlarge", Zone: "us-east-1a", CapacityType: apiv1.CapacityTypeOnDemand, PricePerHour: &price}
		if diff := cmp.Diff(want, x.Decision); diff != "" {
			t.Errorf("decision (-want +got):\n%s", diff)
		}
		text := f.text(t, ExplainOptions{Target: ExplainPod, Name: "fits"})
		wantLine := fmt.Sprintf("  Decision:   fits existing node kwok-small (nodeclaim general-abc, nodepool general, m5.xlarge, on-demand in us-east-1a, $%.4f/h)", price)
		if !strings.Contains(text, wantLine+"\n") {
			t.Errorf("text lacks %q:\n%s", wantLine, text)
		}
		if !strings.Contains(text, "Instance types and prices: catalogue aws-us-east-1") {
			t.Errorf("text does not say where prices come from:\n%s", text)
		}
	})

	t.Run("a nodeSelector that conflicts with a spot-only NodePool shows the reason", func(t *testing.T) {
		x := f.explainPod(t, "on-demand-only")
		if x.Status != PodPending || !strings.Contains(x.Detail, "0/2 nodes are available: 2 Insufficient cpu.") {
			t.Errorf("status %q %q, want Pending with the kube-scheduler's message", x.Status, x.Detail)
		}
		if got := poolNames(x.NodePools); !slices.Equal(got, []string{"spot-only", "general", "broken"}) {
			t.Errorf("nodepools %v, want them in the order tried: by weight, then name", got)
		}
		spot, general, broken := x.NodePools[0], x.NodePools[1], x.NodePools[2]
		if spot.CanHost || !strings.Contains(spot.Reason, "conflicts with pod nodeSelector tailor.sh/capacity-type=on-demand") {
			t.Errorf("spot-only verdict %+v, want the nodeSelector conflict", spot)
		}
		if !general.CanHost || general.CapacityType != apiv1.CapacityTypeOnDemand || general.InstanceType == "" {
			t.Errorf("general verdict %+v, want an on-demand node", general)
		}
		if broken.CanHost || broken.Reason != `EC2NodeClass "missing" does not exist` {
			t.Errorf("broken verdict %+v, want the missing node class", broken)
		}
		if x.Decision.Kind != DecisionNewNode || x.Decision.NodePool != "general" || x.Decision.CapacityType != apiv1.CapacityTypeOnDemand {
			t.Errorf("decision %+v, want a new on-demand node from general", x.Decision)
		}
		text := f.text(t, ExplainOptions{Target: ExplainPod, Name: "on-demand-only"})
		if !regexpMatch(`(?m)^    spot-only  no   requirement tailor\.sh/capacity-type In \[spot\] conflicts with pod nodeSelector tailor\.sh/capacity-type=on-demand$`, text) {
			t.Errorf("text lacks the aligned spot-only line:\n%s", text)
		}
	})

	t.Run("a big pod names the instance type that would be launched", func(t *testing.T) {
		x := f.explainPod(t, "big")
		d := x.Decision
		if d.Kind != DecisionNewNode || d.NodePool != "spot-only" || d.CapacityType != apiv1.CapacityTypeSpot || d.PricePerHour == nil {
			t.Fatalf("decision %+v, want a new spot node from spot-only", d)
		}
		// The cheapest spot offering of any catalogue type whose allocatable holds the pod, worked out here directly.
		need := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("30"), corev1.ResourceMemory: resource.MustParse("100Gi")}
		cheapest, fits := math.Inf(1), false
		for _, it := range f.types {
			alloc := it.Allocatable()
			ok := alloc.Cpu().Cmp(need[corev1.ResourceCPU]) >= 0 && alloc.Memory().Cmp(need[corev1.ResourceMemory]) >= 0
			for _, o := range it.Offerings {
				if ok && o.CapacityType == apiv1.CapacityTypeSpot && o.PricePerHour < cheapest {
					cheapest = o.PricePerHour
				}
			}
			if it.Name == d.InstanceType {
				fits = ok
			}
		}
		if !fits || *d.PricePerHour != cheapest || f.price(t, d.InstanceType, d.Zone, d.CapacityType) != cheapest {
			t.Errorf("launches %s %s %s at $%.4f (fits: %v), want the cheapest fitting spot offering at $%.4f",
				d.InstanceType, d.CapacityType, d.Zone, *d.PricePerHour, fits, cheapest)
		}
		text := f.text(t, ExplainOptions{Target: ExplainPod, Name: "big"})
		want := fmt.Sprintf("launch a node from nodepool spot-only: %s, spot in %s, $%.4f/h", d.InstanceType, d.Zone, cheapest)
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	})

	t.Run("a pod no NodePool can host gets a reason from each", func(t *testing.T) {
		x := f.explainPod(t, "impossible")
		if x.Decision.Kind != DecisionUnschedulable || len(x.Decision.Reasons) == 0 ||
			!strings.HasPrefix(x.Decision.Reasons[0], "existing nodes: none of ") {
			t.Errorf("decision %+v, want unschedulable with the existing nodes' reason first", x.Decision)
		}
		for _, v := range x.NodePools {
			if v.CanHost || v.Reason == "" {
				t.Errorf("nodepool %s: %+v, want a reason it cannot host the pod", v.NodePool, v)
			}
		}
		if r := x.NodePools[0].Reason; !strings.HasPrefix(r, "no instance type has 1k cpu") {
			t.Errorf("spot-only reason %q, want the largest-type reason", r)
		}
	})

	t.Run("a nominated pod waits for its in-flight NodeClaim", func(t *testing.T) {
		x := f.explainPod(t, "nominated")
		if x.Decision.Kind != DecisionNominated || x.Decision.NodeClaim != "general-inflight" || x.Decision.NodePool != "general" {
			t.Errorf("decision %+v, want nominated to general-inflight", x.Decision)
		}
	})

	t.Run("a bound pod names its node", func(t *testing.T) {
		x := f.explainPod(t, "bound")
		if x.Status != PodBound || x.Decision.Kind != DecisionBound || x.Decision.Node != "kwok-small" ||
			x.Decision.NodeClaim != "general-abc" || len(x.NodePools) != 0 {
			t.Errorf("explanation %+v, want bound to kwok-small of general-abc and no NodePool verdicts", x)
		}
	})

	t.Run("pending pods of one namespace, then of all", func(t *testing.T) {
		res := f.explain(t, ExplainOptions{Target: ExplainPending})
		want := []string{"default/big", "default/fits", "default/impossible", "default/nominated", "default/on-demand-only"}
		if diff := cmp.Diff(want, explainedPods(res)); diff != "" {
			t.Errorf("pending in default (-want +got):\n%s", diff)
		}
		res = f.explain(t, ExplainOptions{Target: ExplainPending, AllNamespaces: true})
		if diff := cmp.Diff(append(want, "other/waiting"), explainedPods(res)); diff != "" {
			t.Errorf("pending everywhere (-want +got):\n%s", diff)
		}
		if text := f.text(t, ExplainOptions{Target: ExplainPending, Namespace: "empty"}); text != "No pending pods in namespace empty.\n" {
			t.Errorf("no pending pods: %q", text)
		}
	})

	t.Run("a missing pod is an error", func(t *testing.T) {
		err := Explain(t.Context(), kube, ExplainOptions{Target: ExplainPod, Name: "nope"}, &bytes.Buffer{})
		if err == nil || err.Error() != "pod default/nope not found" {
			t.Errorf("error %v, want pod default/nope not found", err)
		}
	})

	t.Run("a drifted NodeClaim is blocked by do-not-disrupt and a PDB", func(t *testing.T) {
		x := f.explainClaim(t, "general-abc", nil)
		if x.Node != "kwok-small" || x.InstanceType != "m5.xlarge" || x.PricePerHour == nil {
			t.Errorf("node %q instance %q price %v", x.Node, x.InstanceType, x.PricePerHour)
		}
		if diff := cmp.Diff([]ClaimPod{{Pod: "default/bound", State: ClaimPodBound, Requests: "cpu 1, memory 1Gi", DoNotDisrupt: true}}, x.Pods); diff != "" {
			t.Errorf("pods (-want +got):\n%s", diff)
		}
		d := x.Disruption
		if got := appliesList(d.Methods); !slices.Equal(got, []string{"Unhealthy=false", "Expired=false", "Drifted=true", "Empty=false", "Underutilized=false"}) {
			t.Errorf("methods %v", d.Methods)
		}
		wantBlockers := []string{
			"pod default/bound is annotated tailor.sh/do-not-disrupt",
			"PodDisruptionBudget default/web allows no disruption of pod default/bound",
		}
		if diff := cmp.Diff(wantBlockers, d.Blockers); diff != "" {
			t.Errorf("blockers (-want +got):\n%s", diff)
		}
		if d.Eligible != "" || d.Summary != "Drifted, but blocked: "+wantBlockers[0] {
			t.Errorf("eligible %q, summary %q", d.Eligible, d.Summary)
		}
		if diff := cmp.Diff(BudgetNow{Reason: "Drifted", Allowed: 1, Nodes: 3}, d.Budgets[1]); diff != "" {
			t.Errorf("drift budget (-want +got):\n%s", diff)
		}
	})

	t.Run("an empty NodeClaim waits for consolidateAfter, then is eligible", func(t *testing.T) {
		x := f.explainClaim(t, "general-empty", clocktesting.NewFakeClock(f.emptyCreated.Add(3*time.Minute)))
		empty := method(x.Disruption, "Empty")
		if empty.Applies || empty.Detail != "empty for 2m of consolidateAfter 5m: eligible in 3m" {
			t.Errorf("at +3m: %+v", empty)
		}
		if x.Disruption.Summary != "not eligible for disruption: it is not unhealthy, has not expired, has not drifted, is not empty long enough and is no consolidation candidate" {
			t.Errorf("at +3m: summary %q", x.Disruption.Summary)
		}
		if diff := cmp.Diff([]ClaimPod{{Pod: "default/agent", State: ClaimPodBound, Owner: "DaemonSet", Requests: "cpu 100m"}}, x.Pods); diff != "" {
			t.Errorf("pods (-want +got):\n%s", diff)
		}
		x = f.explainClaim(t, "general-empty", clocktesting.NewFakeClock(f.emptyCreated.Add(10*time.Minute)))
		if x.Disruption.Eligible != "Empty" || !method(x.Disruption, "Empty").Applies {
			t.Errorf("at +10m: %+v", x.Disruption)
		}
		text := f.text(t, ExplainOptions{Target: ExplainNodeClaim, Name: "general-empty", Clock: clocktesting.NewFakeClock(f.emptyCreated.Add(10 * time.Minute))})
		for _, want := range []string{
			"  Disruption: eligible now: Empty;",
			"    Empty          yes      1 of 3 node(s)  empty for 9m (consolidateAfter 5m)\n",
			"    default/agent  Bound  DaemonSet, would not move\n",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("a NodeClaim's consolidation verdict per policy", func(t *testing.T) {
		x := f.explainClaim(t, "general-abc", nil)
		c := x.Consolidation
		if c == nil {
			t.Fatal("no consolidation section")
		}
		small, big := f.price(t, "m5.large", "us-east-1b", apiv1.CapacityTypeOnDemand), f.price(t, "m5.xlarge", "us-east-1a", apiv1.CapacityTypeOnDemand)
		// One node plus one default-priority pod; the pool adds kwok-empty, whose only pod is a DaemonSet's.
		if c.PricePerHour != big || math.Abs(c.DisruptionCost-2) > 0.01 || math.Abs(c.NodePoolPricePerHour-(big+small)) > 1e-9 ||
			math.Abs(c.NodePoolDisruptionCost-3) > 0.01 {
			t.Errorf("price %v disruption %v pool %v/%v, want %v, 2, %v, 3", c.PricePerHour, c.DisruptionCost,
				c.NodePoolPricePerHour, c.NodePoolDisruptionCost, big, big+small)
		}
		// Its pod fits nowhere else (kwok-empty is tainted): a cheaper node replaces it.
		if c.Move != "replace" || c.BestSavingsPerHour <= 0 || c.BestSavingsPerHour >= big {
			t.Fatalf("move %q saving %v, want a replace saving part of $%v/h", c.Move, c.BestSavingsPerHour, big)
		}
		verdicts := map[string]PolicyVerdict{}
		for _, v := range c.Policies {
			verdicts[v.Policy] = v
		}
		if v := verdicts["WhenEmpty"]; v.Moves || !strings.Contains(v.Why, "moves only empty nodes") {
			t.Errorf("WhenEmpty verdict %+v, want no: a pod would move", v)
		}
		if v := verdicts["WhenEmptyOrUnderutilized"]; v.Current || !v.Moves || v.SavingsPerHour < 0.1*big || v.RequiredPerHour != max(0.1*big, 0.01) {
			t.Errorf("WhenEmptyOrUnderutilized verdict %+v, want it moving the node for at least 10%% of $%v/h", v, big)
		}
		b := verdicts["Balanced"]
		wantScore := (b.SavingsPerHour / c.NodePoolPricePerHour) / (c.DisruptionCost / c.NodePoolDisruptionCost)
		if !b.Current || math.Abs(b.Score-wantScore) > 1e-6 || b.Moves != (b.Score >= 0.5) {
			t.Errorf("Balanced verdict %+v, want the current (default) policy, score %.4f and a move exactly when it is at least 1/2", b, wantScore)
		}
		text := f.text(t, ExplainOptions{Target: ExplainNodeClaim, Name: "general-abc"})
		for _, want := range []string{"  Consolidation: node $", "    Move: replace with ", "Balanced (current)"} {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, text)
			}
		}
		if e := f.explainClaim(t, "general-empty", nil).Consolidation; e == nil || e.Move != "delete" || !e.Policies[0].Moves {
			t.Errorf("empty node: %+v, want a delete every policy takes", e)
		}
	})

	t.Run("an in-flight NodeClaim shows its nominated pod", func(t *testing.T) {
		x := f.explainClaim(t, "general-inflight", nil)
		if diff := cmp.Diff([]ClaimPod{{Pod: "default/nominated", State: ClaimPodNominated, Requests: "cpu 2, memory 2Gi"}}, x.Pods); diff != "" {
			t.Errorf("pods (-want +got):\n%s", diff)
		}
		if x.Disruption.Summary != "not a disruption candidate yet: no node has registered for it" || x.Node != "" {
			t.Errorf("node %q, summary %q", x.Node, x.Disruption.Summary)
		}
		if !slices.Equal(x.InstanceTypeOptions, []string{"m5.large", "m5.xlarge"}) {
			t.Errorf("options %v", x.InstanceTypeOptions)
		}
	})

	t.Run("a budget of zero holds an eligible NodeClaim", func(t *testing.T) {
		np := &apiv1.NodePool{}
		if err := kube.Get(t.Context(), client.ObjectKey{Name: "general"}, np); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(np.DeepCopy())
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "0"}}
		if err := kube.Patch(t.Context(), np, patch); err != nil {
			t.Fatal(err)
		}
		x := f.explainClaim(t, "general-empty", clocktesting.NewFakeClock(f.emptyCreated.Add(10*time.Minute)))
		want := "Empty, but the NodePool's budget allows 0 of 3 node(s) to be disrupted now and 0 already are"
		if x.Disruption.Eligible != "" || x.Disruption.Summary != want {
			t.Errorf("eligible %q, summary %q, want %q", x.Disruption.Eligible, x.Disruption.Summary, want)
		}
	})

	t.Run("a NodeOverlay that prices the launch is named", func(t *testing.T) {
		ov := &apiv1.NodeOverlay{
			ObjectMeta: metav1.ObjectMeta{Name: "enterprise-discount"},
			Spec: apiv1.NodeOverlaySpec{
				Requirements:    []apiv1.NodeSelectorRequirementWithMinValues{{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeOnDemand}}},
				PriceAdjustment: ptr.To("-50%"),
			},
		}
		if err := kube.Create(t.Context(), ov); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kube.Delete(t.Context(), ov) })
		d := f.explainPod(t, "on-demand-only").Decision
		list := f.price(t, d.InstanceType, d.Zone, d.CapacityType)
		if d.Kind != DecisionNewNode || d.NodeOverlay != "enterprise-discount" || d.ListPricePerHour != list ||
			d.PricePerHour == nil || math.Abs(*d.PricePerHour-list/2) > 1e-9 {
			t.Errorf("decision %+v, want a new node priced by enterprise-discount at half its list price $%.4f", d, list)
		}
		text := f.text(t, ExplainOptions{Target: ExplainPod, Name: "on-demand-only"})
		if want := fmt.Sprintf("priced by NodeOverlay enterprise-discount (the provider lists it at $%.4f/h)", list); !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	})

	t.Run("a pod taking capacity buffer room names the buffer", func(t *testing.T) {
		cb := &apiv1.CapacityBuffer{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "room"},
			Spec: apiv1.CapacityBufferSpec{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Replicas: ptr.To[int32](1)},
		}
		if err := kube.Create(t.Context(), cb); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = kube.Delete(t.Context(), cb) }()
		x := f.explainPod(t, "fits")
		if x.Decision.Kind != DecisionExistingNode || !slices.Equal(x.Decision.CapacityBuffers, []string{"default/room"}) {
			t.Errorf("decision %+v, want kwok-small naming the buffer default/room", x.Decision)
		}
		text := f.text(t, ExplainOptions{Target: ExplainPod, Name: "fits"})
		if !regexpMatch(`(?m)^  Buffers:\s+default/room$`, text) {
			t.Errorf("text lacks the Buffers line:\n%s", text)
		}

		// A NodeClaim launched for a buffer: the pods that later run there took the buffer's room.
		nc := &apiv1.NodeClaim{}
		if err := kube.Get(t.Context(), client.ObjectKey{Name: "general-abc"}, nc); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(nc.DeepCopy())
		nc.Annotations[apiv1.CapacityBuffersAnnotationKey] = "default/room"
		if err := kube.Patch(t.Context(), nc, patch); err != nil {
			t.Fatal(err)
		}
		defer func() {
			patch := client.MergeFrom(nc.DeepCopy())
			delete(nc.Annotations, apiv1.CapacityBuffersAnnotationKey)
			_ = kube.Patch(t.Context(), nc, patch)
		}()
		x = f.explainPod(t, "bound")
		if x.Decision.Kind != DecisionBound || !slices.Equal(x.Decision.CapacityBuffers, []string{"default/room"}) {
			t.Errorf("decision %+v, want bound naming the buffer default/room", x.Decision)
		}
	})

	t.Run("a missing NodeClaim is an error", func(t *testing.T) {
		err := Explain(t.Context(), kube, ExplainOptions{Target: ExplainNodeClaim, Name: "nope"}, &bytes.Buffer{})
		if err == nil || err.Error() != "nodeclaim nope not found" {
			t.Errorf("error %v", err)
		}
	})
}

func startExplainAPIServer(t *testing.T) (client.Client, kubernetes.Interface) {
	t.Helper()
	env := testenv.StartAPIServer(t)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return env.DirectClient(t), cs
}

type explainFixture struct {
	kube         client.Client
	types        []*cloudprovider.InstanceType
	emptyCreated time.Time
}

func (f *explainFixture) explain(t *testing.T, opts ExplainOptions) *ExplainResult {
	t.Helper()
	opts.Output = OutputJSON
	var out bytes.Buffer
	if err := Explain(t.Context(), f.kube, opts, &out); err != nil {
		t.Fatalf("explain %+v: %v", opts, err)
	}
	res := &ExplainResult{}
	if err := json.Unmarshal(out.Bytes(), res); err != nil {
		t.Fatalf("reading the JSON back: %v\n%s", err, out.String())
	}
	return res
}

func (f *explainFixture) text(t *testing.T, opts ExplainOptions) string {
	t.Helper()
	var out bytes.Buffer
	if err := Explain(t.Context(), f.kube, opts, &out); err != nil {
		t.Fatalf("explain %+v: %v", opts, err)
	}
	return out.String()
}

func (f *explainFixture) explainPod(t *testing.T, name string) PodExplanation {
	t.Helper()
	res := f.explain(t, ExplainOptions{Target: ExplainPod, Name: name})
	if len(res.Pods) != 1 || res.Pods[0].Pod != "default/"+name {
		t.Fatalf("explained %v, want default/%s", explainedPods(res), name)
	}
	return res.Pods[0]
}

func (f *explainFixture) explainClaim(t *testing.T, name string, clk *clocktesting.FakeClock) *NodeClaimExplanation {
	t.Helper()
	opts := ExplainOptions{Target: ExplainNodeClaim, Name: name}
	if clk != nil {
		opts.Clock = clk
	}
	res := f.explain(t, opts)
	if res.NodeClaim == nil || res.NodeClaim.Name != name {
		t.Fatalf("explained %+v, want nodeclaim %s", res.NodeClaim, name)
	}
	return res.NodeClaim
}

// price is the catalogue's price of an offering.
func (f *explainFixture) price(t *testing.T, instanceType, zone, capacityType string) float64 {
	t.Helper()
	for _, it := range f.types {
		for _, o := range it.Offerings {
			if it.Name == instanceType && o.Zone == zone && o.CapacityType == capacityType {
				return o.PricePerHour
			}
		}
	}
	t.Fatalf("the catalogue does not sell %s %s in %s", instanceType, capacityType, zone)
	return 0
}

func regexpMatch(pattern, text string) bool {
	return regexp.MustCompile(pattern).MatchString(text)
}

func explainedPods(res *ExplainResult) []string {
	var out []string
	for _, p := range res.Pods {
		out = append(out, p.Pod)
	}
	return out
}

func poolNames(vs []NodePoolVerdict) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.NodePool)
	}
	return out
}

// method is the disruption method of that reason.
func method(d ClaimDisruption, reason string) DisruptionMethod {
	for _, m := range d.Methods {
		if m.Reason == reason {
			return m
		}
	}
	return DisruptionMethod{}
}

func appliesList(ms []DisruptionMethod) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s=%v", m.Reason, m.Applies))
	}
	return out
}

// seedExplainCluster creates the cluster every explain test reads.
func seedExplainCluster(t *testing.T, kube client.Client, cs kubernetes.Interface) *explainFixture {
	t.Helper()
	ctx := t.Context()
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	f := &explainFixture{kube: kube, types: cat.ToInstanceTypes(catalog.Options{})}
	create := func(obj client.Object) {
		t.Helper()
		if err := kube.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	updateStatus := func(obj client.Object) {
		t.Helper()
		if err := kube.Status().Update(ctx, obj); err != nil {
			t.Fatalf("updating the status of %T %s: %v", obj, obj.GetName(), err)
		}
	}

	class := &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			Role:                       "TailorNodeRole",
		},
	}
	create(class)
	class.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Resolved", "")
	updateStatus(class)

	pool := func(name string, weight *int32, class string, capacityType string) *apiv1.NodePool {
		np := &apiv1.NodePool{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: apiv1.NodePoolSpec{
				Weight: weight,
				Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
					NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: "EC2NodeClass", Name: class},
					Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
						{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{capacityType}},
					},
				}},
				Disruption: apiv1.Disruption{ConsolidateAfter: "5m"},
			},
		}
		create(np)
		return np
	}
	pool("spot-only", ptr.To[int32](50), "default", apiv1.CapacityTypeSpot)
	general := pool("general", ptr.To[int32](10), "default", apiv1.CapacityTypeOnDemand)
	pool("broken", nil, "missing", apiv1.CapacityTypeOnDemand)

	node := func(name, instanceType, zone, cpu, memory string, taints []corev1.Taint) {
		n, err := testenv.CreateKWOKNode(ctx, cs, name, corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory), corev1.ResourcePods: resource.MustParse("110"),
		}, map[string]string{
			apiv1.NodePoolLabelKey: "general", apiv1.InstanceTypeLabelKey: instanceType, apiv1.ZoneLabelKey: zone,
			apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand,
		})
		if err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(n.DeepCopy())
		n.Spec.ProviderID = "kwok://" + name
		n.Spec.Taints = taints
		if err := kube.Patch(ctx, n, patch); err != nil {
			t.Fatal(err)
		}
	}
	node("kwok-small", "m5.xlarge", "us-east-1a", "4", "16Gi", nil)
	// Tainted so the pending pods' only existing home is kwok-small.
	node("kwok-empty", "m5.large", "us-east-1b", "2", "8Gi", []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}})

	if err := kube.Get(ctx, client.ObjectKey{Name: "general"}, general); err != nil {
		t.Fatal(err)
	}
	claim := func(name string, labels, annotations map[string]string, mutate func(*apiv1.NodeClaim)) *apiv1.NodeClaim {
		nc := &apiv1.NodeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
			Spec: apiv1.NodeClaimSpec{
				NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: "EC2NodeClass", Name: "default"},
				Resources:    apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}},
				Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
					{Key: apiv1.InstanceTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"m5.large", "m5.xlarge"}},
					{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeOnDemand}},
				},
			},
		}
		create(nc)
		if mutate != nil {
			mutate(nc)
			updateStatus(nc)
		}
		return nc
	}
	launched := func(node string, initialized time.Duration) func(*apiv1.NodeClaim) {
		return func(nc *apiv1.NodeClaim) {
			at := metav1.NewTime(nc.CreationTimestamp.Add(initialized))
			nc.Status.ProviderID, nc.Status.NodeName = "kwok://"+node, node
			for _, c := range []string{apiv1.ConditionTypeLaunched, apiv1.ConditionTypeRegistered, apiv1.ConditionTypeInitialized, apiv1.ConditionTypeReady} {
				nc.StatusConditions().Set(at, c, metav1.ConditionTrue, c, "")
			}
		}
	}
	onNode := func(instanceType, zone string) map[string]string {
		return map[string]string{apiv1.NodePoolLabelKey: "general", apiv1.InstanceTypeLabelKey: instanceType,
			apiv1.ZoneLabelKey: zone, apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand}
	}
	// Launched under an older template: drifted.
	claim("general-abc", onNode("m5.xlarge", "us-east-1a"), map[string]string{apiv1.NodePoolHashAnnotationKey: "0000000000000000", apiv1.NodePoolHashVersionAnnotationKey: state.NodePoolHashVersion}, launched("kwok-small", time.Minute))
	empty := claim("general-empty", onNode("m5.large", "us-east-1b"), state.NodePoolHashAnnotations(general), launched("kwok-empty", time.Minute))
	f.emptyCreated = empty.CreationTimestamp.Time
	claim("general-inflight", map[string]string{apiv1.NodePoolLabelKey: "general"}, state.NodePoolHashAnnotations(general), nil)

	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}})
	// No controller-manager runs to create the service accounts pods need.
	for _, ns := range []string{"default", "other"} {
		create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}})
	}
	pod := func(ns, name, cpu, memory string, mutate func(*corev1.Pod)) *corev1.Pod {
		requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		if memory != "" {
			requests[corev1.ResourceMemory] = resource.MustParse(memory)
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{Requests: requests},
			}}},
		}
		if mutate != nil {
			mutate(p)
		}
		create(p)
		return p
	}
	unschedulable := func(p *corev1.Pod, message string) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: message}}
		updateStatus(p)
	}
	pod("default", "bound", "1", "1Gi", func(p *corev1.Pod) {
		p.Labels["app"] = "web"
		p.Annotations = map[string]string{apiv1.DoNotDisruptAnnotationKey: "true"}
		p.Spec.NodeName = "kwok-small"
	})
	pod("default", "agent", "100m", "", func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "0d6f2a8e-agent"}}
		p.Spec.NodeName = "kwok-empty"
	})
	pod("default", "fits", "500m", "512Mi", nil)
	pod("default", "big", "30", "100Gi", nil)
	pod("default", "impossible", "1000", "", nil)
	pod("other", "waiting", "250m", "256Mi", nil)
	onDemand := pod("default", "on-demand-only", "8", "16Gi", func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand}
	})
	unschedulable(onDemand, "0/2 nodes are available: 2 Insufficient cpu.")
	nominated := pod("default", "nominated", "2", "2Gi", nil)
	unschedulable(nominated, "0/2 nodes are available: 1 Insufficient cpu.")
	now := metav1.Now()
	create(&corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "default", Name: "nominated.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "nominated", UID: nominated.UID},
		Reason:         reasonNominated, Type: corev1.EventTypeNormal,
		Message:        "pod should schedule on nodeclaim general-inflight (m5.large, on-demand us-east-1a, $0.0960/h)",
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		Source: corev1.EventSource{Component: "tailor"},
	})

	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	create(pdb)
	pdb.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
	updateStatus(pdb)
	return f
}
