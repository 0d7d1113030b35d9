package disruption

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestExplainAgreesWithController builds one cluster with a node for every disruption case — empty, expired (with
// and without a terminationGracePeriod), drifted, underutilized, do-not-disrupt on the node, the NodeClaim and pods
// ("true", a duration still running, one run out, a bad value), PodDisruptionBudgets (one allowing none, an empty
// selector, two selecting one pod), a budget two candidates compete for, a NodePool whose budget cannot be read and a
// node the provider drifted before it lost its machine — and checks that `tailor explain nodeclaim` says, for every
// node, what the controller's decision pass does with it: the method, the first blocker, and whether the budget lets
// it go now (or cannot be read).
func TestExplainAgreesWithController(t *testing.T) {
	f := newFixture(t)
	kube := f.kube
	a := f.pool(func(np *apiv1.NodePool) {
		np.Name = "a"
		np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	b := f.pool(func(np *apiv1.NodePool) {
		np.Name = "b"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "1"}}
	})
	c := f.pool(func(np *apiv1.NodePool) {
		np.Name = "c"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "0", Schedule: ptr.To(backwardsSchedule), Duration: &metav1.Duration{Duration: time.Hour}}}
	})
	expires := func(nc *apiv1.NodeClaim) { nc.Spec.ExpireAfter = "1h" }
	ns2 := testenv.Namespace(t, kube, "disrupt-pdb")
	pod := func(ns, node string, labels, annotations map[string]string) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "app-", Namespace: ns, Labels: labels, Annotations: annotations},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "pause",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
		}
		if err := kube.Create(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	dnd := func(v string) map[string]string { return map[string]string{apiv1.DoNotDisruptAnnotationKey: v} }
	pdb := func(ns, name string, sel *metav1.LabelSelector, allowed int32) {
		t.Helper()
		p := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: sel}}
		if err := kube.Create(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		// No kube-controller-manager runs here: the test sets what the budget allows.
		p.Status = policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
		if err := kube.Status().Update(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}

	f.claim("a-empty", a, nil)
	f.claim("a-expired", a, expires)
	f.pod("a-expired", nil)
	f.claim("a-expired-dnd", a, expires)
	f.pod("a-expired-dnd", dnd("true"))
	f.claim("a-expired-tgp", a, func(nc *apiv1.NodeClaim) {
		expires(nc)
		nc.Spec.TerminationGracePeriod = &metav1.Duration{Duration: time.Hour}
	})
	f.pod("a-expired-tgp", dnd("true"))
	f.claim("a-drifted", a, func(nc *apiv1.NodeClaim) { nc.Annotations[apiv1.NodePoolHashAnnotationKey] = "0000000000000000" })
	f.pod("a-drifted", nil)
	f.claim("a-under", a, nil)
	f.pod("a-under", nil)
	f.claim("a-dnd-node", a, nil)
	node := &corev1.Node{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: "a-dnd-node"}, node); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Annotations = dnd("true")
	if err := kube.Patch(t.Context(), node, patch); err != nil {
		t.Fatal(err)
	}
	f.claim("a-dnd-claim", a, func(nc *apiv1.NodeClaim) { nc.Annotations[apiv1.DoNotDisruptAnnotationKey] = "true" })
	f.claim("a-dnd-running", a, nil)
	f.pod("a-dnd-running", dnd("3h"))
	f.claim("a-dnd-ran-out", a, nil)
	f.pod("a-dnd-ran-out", dnd("1m"))
	f.claim("a-dnd-bad", a, nil)
	f.pod("a-dnd-bad", dnd("soon"))
	f.claim("a-pdb", a, nil)
	pod(f.ns, "a-pdb", map[string]string{"app": "guarded"}, nil)
	pdb(f.ns, "guarded", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}, 0)
	f.claim("a-pdb-two", a, nil)
	pod(f.ns, "a-pdb-two", map[string]string{"app": "double"}, nil)
	pdb(f.ns, "double-1", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "double"}}, 1)
	pdb(f.ns, "double-2", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "double"}}, 1)
	f.claim("a-pdb-everything", a, nil)
	pod(ns2, "a-pdb-everything", nil, nil)
	pdb(ns2, "everything", &metav1.LabelSelector{}, 0)
	f.claim("a-busy", a, func(nc *apiv1.NodeClaim) {
		nc.Annotations[apiv1.DisruptionCommandAnnotationKey] = `{"id":"x"}`
	})
	busy := f.exists("a-busy")
	busy.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, ReasonEmpty, "")
	if err := kube.Status().Update(t.Context(), busy); err != nil {
		t.Fatal(err)
	}
	// Drifted by the provider on an earlier pass; the provider no longer knows its machine now.
	lost := f.claim("a-lost", a, nil)
	f.pod("a-lost", nil)
	lost.StatusConditions().Set(metav1.NewTime(f.clk.Now()), apiv1.ConditionTypeDrifted, metav1.ConditionTrue, "AMIDrift", "the node no longer matches its node class")
	if err := kube.Status().Update(t.Context(), lost); err != nil {
		t.Fatal(err)
	}
	if err := f.cloud.Delete(t.Context(), lost); err != nil {
		t.Fatal(err)
	}
	f.claim("b-empty-1", b, nil)
	f.claim("b-empty-2", b, nil)
	f.claim("c-empty", c, nil)
	f.clk.Step(2 * time.Hour)

	want := map[string]string{
		"a-empty":          "Empty: eligible",
		"a-expired":        "Expired: eligible",
		"a-expired-dnd":    "Expired: blocked",
		"a-expired-tgp":    "Expired: eligible",
		"a-drifted":        "Drifted: eligible",
		"a-under":          "Underutilized: eligible",
		"a-dnd-node":       "Empty: blocked",
		"a-dnd-claim":      "Empty: blocked",
		"a-dnd-running":    "Underutilized: blocked",
		"a-dnd-ran-out":    "Underutilized: eligible",
		"a-dnd-bad":        "Underutilized: blocked",
		"a-pdb":            "Underutilized: blocked",
		"a-pdb-two":        "Underutilized: blocked",
		"a-pdb-everything": "Underutilized: blocked",
		"a-busy":           "none",
		"a-lost":           "Underutilized: eligible",
		"b-empty-1":        "Empty: eligible",
		"b-empty-2":        "Empty: over budget",
		"c-empty":          "Empty: budget unreadable",
	}
	controller := controllerOutcomes(t, f)
	// The blockers' wording names generated pods; the expectations stop at "blocked".
	short := map[string]string{}
	for name, outcome := range controller {
		short[name], _, _ = strings.Cut(outcome, " by ")
	}
	if diff := cmp.Diff(want, short); diff != "" {
		t.Errorf("the controller's decisions (-want +got):\n%s", diff)
	}
	explained := map[string]string{}
	for name := range want {
		explained[name] = explainOutcome(t, f, name)
	}
	if diff := cmp.Diff(controller, explained); diff != "" {
		t.Errorf("tailor explain disagrees with the controller (-controller +explain):\n%s", diff)
	}
}

// controllerOutcomes runs the controller's decision pass up to the plan — evaluation and budgets — and says, per
// NodeClaim, what it does: "METHOD: eligible", "METHOD: over budget", "METHOD: blocked by BLOCKER" or "none".
func controllerOutcomes(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	ctx := t.Context()
	w, err := f.c.read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cands, recorded, err := f.c.candidates(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, nc := range w.NodeClaims {
		out[nc.Name] = "none"
	}
	for _, v := range recorded {
		if v.Blocked() {
			out[v.Claim.Name] = v.Method + ": blocked by " + v.Blockers[0].String()
		}
	}
	for _, reason := range methods {
		if reason == ReasonUnhealthy {
			continue
		}
		chosen := f.c.withinBudgets(ctx, w, cands[reason])
		for _, cand := range cands[reason] {
			out[cand.claim.Name] = reason + ": over budget"
			if cand.verdict.Budget.Err != nil {
				out[cand.claim.Name] = reason + ": budget unreadable"
			}
		}
		for _, cand := range chosen {
			out[cand.claim.Name] = reason + ": eligible"
		}
	}
	return out
}

// explainOutcome runs `tailor explain nodeclaim NAME -o json` on the same cluster and clock and words its verdict as
// controllerOutcomes does.
func explainOutcome(t *testing.T, f *fixture, name string) string {
	t.Helper()
	d := explain(t, f, name)
	method := d.Method
	switch {
	case d.Eligible != "":
		return d.Eligible + ": eligible"
	case method == "":
		return "none"
	case strings.Contains(d.Summary, "but blocked"):
		return method + ": blocked by " + d.Blockers[0]
	case strings.Contains(d.Summary, "budget cannot be read"):
		return method + ": budget unreadable"
	case strings.Contains(d.Summary, "budget"):
		return method + ": over budget"
	}
	return "unexplained: " + d.Summary
}
