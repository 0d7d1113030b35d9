package disruption

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/state"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// cluster builds a View for the pure tests: NodePools, and per NodeClaim its node and pods.
type cluster struct {
	pools  []apiv1.NodePool
	claims []apiv1.NodeClaim
	nodes  []corev1.Node
	pods   []*corev1.Pod
	pdbs   []policyv1.PodDisruptionBudget
}

func (c *cluster) pool(name string, mutate func(*apiv1.NodePool)) {
	np := apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: name}}
	np.Spec.Disruption.ConsolidateAfter = "30s"
	np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
	np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	if mutate != nil {
		mutate(&np)
	}
	c.pools = append(c.pools, np)
}

// claim adds an initialized NodeClaim of pool, created and initialized at t0, with its node and pods (nil: empty).
func (c *cluster) claim(name, pool string, pods []map[string]string, mutate func(*apiv1.NodeClaim, *corev1.Node)) {
	np := c.poolNamed(pool)
	nc := apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0),
		Labels: map[string]string{apiv1.NodePoolLabelKey: pool}, Annotations: state.NodePoolHashAnnotations(np)},
		Spec: apiv1.NodeClaimSpec{ExpireAfter: apiv1.Never}}
	nc.Status.ProviderID = "fake://" + name
	nc.StatusConditions().Set(metav1.NewTime(t0), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	node := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0)}, Spec: corev1.NodeSpec{ProviderID: nc.Status.ProviderID}}
	if mutate != nil {
		mutate(&nc, &node)
	}
	c.claims, c.nodes = append(c.claims, nc), append(c.nodes, node)
	for i, annotations := range pods {
		c.pods = append(c.pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("%s-%d", name, i),
			Labels: map[string]string{"app": name}, Annotations: annotations, CreationTimestamp: metav1.NewTime(t0)},
			Spec: corev1.PodSpec{NodeName: name}})
	}
}

func (c *cluster) poolNamed(name string) *apiv1.NodePool {
	for i := range c.pools {
		if c.pools[i].Name == name {
			return &c.pools[i]
		}
	}
	panic("no nodepool " + name)
}

func (c *cluster) view() *View {
	v := NewView(c.pools, c.claims, c.nodes, c.pods, c.pdbs, nil)
	v.RepairPolicies = cloudprovider.DefaultRepairPolicies()
	return v
}

// outcome words a verdict: "METHOD eligible", "METHOD over budget (allowed/disrupting/taken)", "METHOD blocked: …",
// "not a candidate: …" or "none".
func outcome(v *Verdict) string {
	switch {
	case v.NotCandidate != "":
		return "not a candidate: " + string(v.NotCandidate)
	case v.Method == "":
		return "none"
	case v.Blocked():
		return v.Method + " blocked: " + v.Blockers[0].String()
	case v.Budget == nil:
		return v.Method + " without budget"
	case v.Budget.Err != nil:
		return v.Method + " budget error"
	case !v.Budget.Within:
		return fmt.Sprintf("%s over budget (%d/%d/%d)", v.Method, v.Budget.Allowed, v.Budget.Disrupting, v.Budget.Taken)
	}
	return v.Method + " eligible"
}

func outcomes(vs []*Verdict) map[string]string {
	out := map[string]string{}
	for _, v := range vs {
		out[v.Claim.Name] = outcome(v)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	dnd := func(v string) map[string]string { return map[string]string{apiv1.DoNotDisruptAnnotationKey: v} }
	now := t0.Add(2 * time.Hour)
	for _, tc := range []struct {
		name  string
		build func(c *cluster)
		want  map[string]string
	}{{
		name: "methods in order: expiry before drift before emptiness",
		build: func(c *cluster) {
			c.pool("a", nil)
			c.claim("expired-drifted", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) {
				nc.Spec.ExpireAfter = "1h"
				nc.Annotations[apiv1.NodePoolHashAnnotationKey] = "0"
			})
			c.claim("drifted-empty", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.Annotations[apiv1.NodePoolHashAnnotationKey] = "0" })
			c.claim("empty", "a", nil, nil)
			c.claim("busy", "a", []map[string]string{nil}, nil)
		},
		want: map[string]string{"expired-drifted": "Expired eligible", "drifted-empty": "Drifted eligible", "empty": "Empty eligible", "busy": "Underutilized eligible"},
	}, {
		name: "a budget is taken in name order, after the nodes being disrupted",
		build: func(c *cluster) {
			c.pool("a", func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "2"}} })
			c.claim("going", "a", []map[string]string{nil}, func(nc *apiv1.NodeClaim, _ *corev1.Node) {
				nc.StatusConditions().Set(metav1.NewTime(t0), apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, ReasonDrifted, "")
			})
			c.claim("e1", "a", nil, nil)
			c.claim("e2", "a", nil, nil)
			c.claim("u1", "a", []map[string]string{nil}, nil) // another method: its own count
		},
		want: map[string]string{"going": "not a candidate: Busy", "e1": "Empty eligible", "e2": "Empty over budget (2/1/1)", "u1": "Underutilized eligible"},
	}, {
		name: "do-not-disrupt: node, NodeClaim, a running duration, one run out, a bad value",
		build: func(c *cluster) {
			c.pool("a", nil)
			c.claim("node", "a", nil, func(_ *apiv1.NodeClaim, n *corev1.Node) { n.Annotations = dnd("true") })
			c.claim("claim", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.Annotations[apiv1.DoNotDisruptAnnotationKey] = "true" })
			c.claim("running", "a", []map[string]string{dnd("3h")}, nil)
			c.claim("ran-out", "a", []map[string]string{dnd("1h")}, nil)
			c.claim("bad", "a", []map[string]string{dnd("soon")}, nil)
			c.claim("false", "a", []map[string]string{dnd("false")}, nil)
		},
		want: map[string]string{
			"node":    "Empty blocked: node node is annotated tailor.sh/do-not-disrupt",
			"claim":   "Empty blocked: the NodeClaim is annotated tailor.sh/do-not-disrupt",
			"running": "Underutilized blocked: pod default/running-0 is annotated tailor.sh/do-not-disrupt=3h, until 2026-01-01T03:00:00Z",
			"ran-out": "Underutilized eligible",
			"bad":     `Underutilized blocked: pod default/bad-0 is annotated tailor.sh/do-not-disrupt=soon, which is neither "true" nor a duration: treated as "true" until fixed`,
			"false":   "Underutilized eligible",
		},
	}, {
		name: "PodDisruptionBudgets: none allowed, an empty selector, two selecting one pod, a nil selector",
		build: func(c *cluster) {
			c.pool("a", nil)
			for _, name := range []string{"zero", "two", "nil-selector", "allowed"} {
				c.claim(name, "a", []map[string]string{nil}, nil)
			}
			pdb := func(name string, sel *metav1.LabelSelector, allowed int32) {
				c.pdbs = append(c.pdbs, policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
					Spec: policyv1.PodDisruptionBudgetSpec{Selector: sel}, Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}})
			}
			app := func(name string) *metav1.LabelSelector {
				return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
			}
			pdb("zero", app("zero"), 0)
			pdb("two-a", app("two"), 1)
			pdb("two-b", app("two"), 1)
			pdb("nil", nil, 0)
			pdb("allowed", app("allowed"), 1)
		},
		want: map[string]string{
			"zero":         "Underutilized blocked: PodDisruptionBudget default/zero allows no disruption of pod default/zero-0",
			"two":          "Underutilized blocked: pod default/two-0 is selected by 2 PodDisruptionBudgets (default/two-a, default/two-b), which the Eviction API refuses to evict",
			"nil-selector": "Underutilized eligible",
			"allowed":      "Underutilized eligible",
		},
	}, {
		name: "expiry with a terminationGracePeriod is forceful; without, do-not-disrupt holds it",
		build: func(c *cluster) {
			c.pool("a", nil)
			c.claim("bounded", "a", []map[string]string{dnd("true")}, func(nc *apiv1.NodeClaim, _ *corev1.Node) {
				nc.Spec.ExpireAfter = "1h"
				nc.Spec.TerminationGracePeriod = &metav1.Duration{Duration: time.Minute}
			})
			c.claim("unbounded", "a", []map[string]string{dnd("true")}, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.Spec.ExpireAfter = "1h" })
		},
		want: map[string]string{"bounded": "Expired eligible", "unbounded": "Expired blocked: pod default/unbounded-0 is annotated tailor.sh/do-not-disrupt"},
	}, {
		name: "repair: overdue goes despite do-not-disrupt, one at a time, not in a NodePool too broken",
		build: func(c *cluster) {
			notReady := func(_ *apiv1.NodeClaim, n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(t0)}}
			}
			c.pool("a", nil)
			c.claim("a-broken-1", "a", []map[string]string{dnd("true")}, notReady)
			c.claim("a-broken-2", "a", nil, notReady)
			for i := range 8 {
				c.claim(fmt.Sprintf("a-ok-%d", i), "a", []map[string]string{nil}, func(nc *apiv1.NodeClaim, _ *corev1.Node) {
					nc.Status.LastPodEventTime = metav1.NewTime(now)
				})
			}
			c.pool("b", nil)
			c.claim("b-broken-1", "b", nil, notReady)
			c.claim("b-broken-2", "b", nil, notReady)
		},
		want: map[string]string{
			"a-broken-1": "Unhealthy eligible", "a-broken-2": "Unhealthy over budget (2/2/1)",
			"a-ok-0": "none", "a-ok-1": "none", "a-ok-2": "none", "a-ok-3": "none", "a-ok-4": "none", "a-ok-5": "none", "a-ok-6": "none", "a-ok-7": "none",
			"b-broken-1": "Unhealthy over budget (1/2/1)", "b-broken-2": "Unhealthy over budget (1/2/1)",
		},
	}, {
		name: "not candidates: deleting, no NodePool, no node, not initialized",
		build: func(c *cluster) {
			c.pool("a", nil)
			c.claim("deleting", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.DeletionTimestamp = ptr.To(metav1.NewTime(t0)) })
			c.claim("orphan", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.Labels[apiv1.NodePoolLabelKey] = "gone" })
			c.claim("unregistered", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.Status.ProviderID = "" })
			c.claim("starting", "a", nil, func(nc *apiv1.NodeClaim, _ *corev1.Node) { nc.StatusConditions().Clear(apiv1.ConditionTypeInitialized) })
		},
		want: map[string]string{"deleting": "not a candidate: Deleting", "orphan": "not a candidate: NoNodePool",
			"unregistered": "not a candidate: NoNode", "starting": "not a candidate: NotInitialized"},
	}, {
		name: "consolidation: WhenEmpty keeps nodes with pods, a static NodePool and consolidateAfter Never keep empty ones, a bad budget is an error",
		build: func(c *cluster) {
			c.pool("when-empty", func(np *apiv1.NodePool) { np.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmpty })
			c.claim("with-pods", "when-empty", []map[string]string{nil}, nil)
			c.pool("static", func(np *apiv1.NodePool) { np.Spec.Replicas = ptr.To[int64](1) })
			c.claim("static-empty", "static", nil, nil)
			c.pool("never", func(np *apiv1.NodePool) { np.Spec.Disruption.ConsolidateAfter = apiv1.Never })
			c.claim("never-empty", "never", nil, nil)
			c.pool("bad-budget", func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "many"}} })
			c.claim("bad-empty", "bad-budget", nil, nil)
		},
		want: map[string]string{"with-pods": "none", "static-empty": "none", "never-empty": "none", "bad-empty": "Empty budget error"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cluster{}
			tc.build(c)
			if diff := cmp.Diff(tc.want, outcomes(Evaluate(c.view(), now))); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConsolidationOf: where consolidateAfter stands, counted from the last pod event or initialization.
func TestConsolidationOf(t *testing.T) {
	pool := &apiv1.NodePool{}
	pool.Spec.Disruption.ConsolidateAfter = "5m"
	nc := &apiv1.NodeClaim{}
	nc.StatusConditions().Set(metav1.NewTime(t0), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	nc.Status.LastPodEventTime = metav1.NewTime(t0.Add(time.Minute))
	for _, tc := range []struct {
		at    time.Duration
		empty bool
		want  ConsolidationState
	}{
		{3 * time.Minute, true, ConsolidationEmptyWaiting},
		{3 * time.Minute, false, ConsolidationActive},
		{6 * time.Minute, true, ConsolidationEmpty},
		{6 * time.Minute, false, ConsolidationQuiet},
	} {
		got := ConsolidationOf(nc, pool, tc.empty, t0.Add(tc.at))
		if got.State != tc.want || !got.Due.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("at +%s, empty %v: %s due %s, want %s due +6m", tc.at, tc.empty, got.State, got.Due, tc.want)
		}
	}
	v := &Verdict{Method: ReasonEmpty, Budget: &Budget{Allowed: 1, Nodes: 3, Disrupting: 1}}
	if s := v.Summary(); !strings.Contains(s, "allows 1 of 3 node(s) to be disrupted now and 1 already are") {
		t.Errorf("summary %q", s)
	}
}
