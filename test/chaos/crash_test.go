package chaos

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// crashStep is one step of the crash scenario: the replicas to scale to, whether to delete the busiest NodeClaim
// (a drain with evictions under the PDBs), and how long after the change to kill the controller.
type crashStep struct {
	replicas step
	disrupt  bool
	killAt   time.Duration
}

// crashSequence is the seeded sequence of n steps: random replicas within each shape's range, every fourth step a
// NodeClaim deletion, kill moments spread over the first 1.5 s after the change (when claims are being created,
// launched, registered and drained: batches close after 0.5 s idle, launches take 0.3 s, boots 0.5 s).
func crashSequence(seed uint64, n int) []crashStep {
	rng := rand.New(rand.NewPCG(seed, 0x6368616f73))
	out := make([]crashStep, n)
	for i := range out {
		s := step{}
		for _, sh := range shapes {
			s[sh.name] = sh.min + rng.Int32N(sh.max-sh.min+1)
		}
		out[i] = crashStep{replicas: s, disrupt: i%4 == 3, killAt: time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))}
	}
	return out
}

// TestControllerCrashes runs the seeded workload sequence twice on fresh simulated clouds: once without faults (the
// reference) and once SIGKILLing the controller at a random moment of every step and starting it again. After each
// step every pod must be Running; throughout, no instance may outlive garbage collection without a NodeClaim, no
// NodeClaim may lose its instance, no PDB may be broken and no pod lost; and the run with kills may launch at most
// 1.2 times the reference's instances. The minimum is measured, not computed: the same controller, the same
// sequence, the same waits, no kills (consolidation is off, so launches depend on the sequence, not on timing).
func TestControllerCrashes(t *testing.T) {
	seq := crashSequence(*seed, *cycles)
	var reference, withKills int
	t.Run("reference", func(t *testing.T) { reference = runCrashSequence(t, seq, false) })
	if t.Failed() {
		t.FailNow()
	}
	t.Run("kills", func(t *testing.T) {
		withKills = runCrashSequence(t, seq, true)
		limit := int(math.Floor(1.2 * float64(reference)))
		msg := fmt.Sprintf("instances launched: %d with %d kills, %d in the fault-free reference (limit 1.2× = %d)", withKills, len(seq), reference, limit)
		summary.note("controller kills", msg)
		if withKills > limit {
			t.Errorf("invariant violated: launches: %s", msg)
			summary.violation("controller kills", "launches: "+msg)
		}
	})
}

// runCrashSequence plays the sequence with or without kills and returns the instances launched.
func runCrashSequence(t *testing.T, seq []crashStep, kill bool) int {
	h := startHarness(t, false)
	h.applyPool("Never")
	w := h.createWorkload()
	name := "crash reference (no faults)"
	if kill {
		name = "controller kills"
	}
	m := h.startMonitor(name, w.ns)
	for i, s := range seq {
		w.scale(s.replicas)
		if s.disrupt {
			h.deleteBusiestClaim(w.ns)
		}
		select {
		case <-t.Context().Done():
			t.FailNow()
		case <-time.After(s.killAt):
		}
		if kill {
			moment := h.killMoment(t.Context())
			if err := h.stack.KillController(); err != nil {
				t.Fatal(err)
			}
			m.controllerDown()
			m.fault("SIGKILL "+moment, 1)
			if err := h.stack.StartController(); err != nil {
				t.Fatal(err)
			}
			m.controllerUp()
		}
		took := w.waitSettled(m, s.replicas, 3*time.Minute)
		if kill {
			m.sampleGoroutines(fmt.Sprintf("cycle%d", i+1), h.metricsAddr)
		}
		t.Logf("step %d/%d (%s, disrupt=%t, kill at +%s): settled in %s, %d instances launched so far",
			i+1, len(seq), s.replicas, s.disrupt, s.killAt.Round(time.Millisecond), took.Round(time.Millisecond), m.launchedCount())
	}
	m.settleInstances()
	launched := m.launchedCount()
	if kill {
		m.checkGoroutines()
	}
	h.deleteAllClaims(m, w)
	return launched
}

// killMoment says what the controller is in the middle of: a NodeClaim being drained, one created but not launched,
// one launched whose node has not registered, or nothing (steady).
func (h *harness) killMoment(ctx context.Context) string {
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(ctx, list); err != nil {
		return "unknown"
	}
	var draining, unlaunched, unregistered bool
	for _, nc := range list.Items {
		switch {
		case !nc.DeletionTimestamp.IsZero():
			draining = true
		case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeLaunched):
			unlaunched = true
		case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered):
			unregistered = true
		}
	}
	switch {
	case draining:
		return "mid-drain"
	case unlaunched:
		return "before launch"
	case unregistered:
		return "before registration"
	}
	return "steady"
}

// deleteBusiestClaim deletes the NodeClaim whose node runs the most of the workload's pods (ties: the node name), so
// the termination flow drains it through the Eviction API under the PDBs.
func (h *harness) deleteBusiestClaim(ns string) {
	t := h.t
	t.Helper()
	pods, err := h.cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning {
			perNode[p.Spec.NodeName]++
		}
	}
	var nodes []string
	for n := range perNode {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool {
		if perNode[nodes[i]] != perNode[nodes[j]] {
			return perNode[nodes[i]] > perNode[nodes[j]]
		}
		return nodes[i] < nodes[j]
	})
	for _, name := range nodes {
		node, err := h.cs.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		list := &apiv1.NodeClaimList{}
		if err := h.kube.List(t.Context(), list); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			nc := &list.Items[i]
			if nc.Status.ProviderID == node.Spec.ProviderID && nc.DeletionTimestamp.IsZero() {
				if err := h.kube.Delete(t.Context(), nc); err != nil {
					t.Fatal(err)
				}
				t.Logf("deleted nodeclaim %s (node %s, %d workload pods)", nc.Name, name, perNode[name])
				return
			}
		}
	}
}
