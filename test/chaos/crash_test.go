package chaos

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// crashStep is one step of the crash scenario: the replicas to scale to, whether to delete the busiest NodeClaim
// (a drain with evictions under the PDBs), and when to kill the controller: at the first moment within 3 s that
// target is in flight (a NodeClaim being drained, one created but not launched, one launched whose node has not
// registered), or, with no target, killAt after the change.
type crashStep struct {
	replicas step
	disrupt  bool
	target   string
	killAt   time.Duration
}

// Kill moments.
const (
	momentDrain        = "mid-drain"
	momentBeforeLaunch = "before launch"
	momentBeforeReg    = "before registration"
	momentSteady       = "steady"
)

// crashSequence is the seeded sequence of n steps: random replicas within each shape's range; every fourth step a
// NodeClaim deletion killed mid-drain; the other steps aim, in turn, before a launch, before a registration, and at
// a random moment within 1.5 s of the change (batches close after 0.5 s idle, launches take 0.3 s, boots 0.5 s).
func crashSequence(seed uint64, n int) []crashStep {
	rng := rand.New(rand.NewPCG(seed, 0x6368616f73))
	out := make([]crashStep, n)
	for i := range out {
		s := step{}
		for _, sh := range shapes {
			s[sh.name] = sh.min + rng.Int32N(sh.max-sh.min+1)
		}
		c := crashStep{replicas: s, disrupt: i%4 == 3, killAt: time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))}
		switch {
		case c.disrupt:
			c.target = momentDrain
		case i%4 == 0:
			c.target = momentBeforeLaunch
		case i%4 == 1:
			c.target = momentBeforeReg
		}
		out[i] = c
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
	started := time.Now()
	for i, s := range seq {
		w.scale(s.replicas)
		if s.disrupt {
			h.deleteBusiestClaim(w.ns)
		}
		h.waitMoment(s)
		moment := ""
		if kill {
			// Sampled before the kill, from a process that has run for 5 s at least (one younger may not have
			// started its controllers yet): the same process was sampled when the step before settled, so the
			// leak check compares a process with itself over a step.
			if time.Since(started) >= 5*time.Second {
				m.sampleGoroutines(fmt.Sprintf("cycle%d-before-kill", i+1), h.stack.Controller.Pid(), h.metricsAddr)
			}
			moment = "after a kill " + h.killMoment(t.Context())
			if err := h.stack.KillController(); err != nil {
				t.Fatal(err)
			}
			m.controllerDown()
			m.fault("SIGKILL "+strings.TrimPrefix(moment, "after a kill "), 1)
			if err := h.stack.StartController(); err != nil {
				t.Fatal(err)
			}
			started = time.Now()
			m.controllerUp()
		}
		took := w.waitSettled(m, s.replicas, 3*time.Minute)
		if kill && i+1 < len(seq) {
			// The restarted process, once its step settled and it has run 5 s: the first of its two samples.
			h.sleep(5*time.Second - time.Since(started))
			m.sampleGoroutines(fmt.Sprintf("cycle%d-settled", i+1), h.stack.Controller.Pid(), h.metricsAddr)
		}
		if took > 20*time.Second {
			m.note("step %d (%s) took %s to settle", i+1, cmp.Or(moment, "no kill"), took.Round(100*time.Millisecond))
		}
		t.Logf("step %d/%d (%s, disrupt=%t, kill aimed at %q): settled in %s, %d instances launched so far",
			i+1, len(seq), s.replicas, s.disrupt, cmp.Or(s.target, "+"+s.killAt.Round(time.Millisecond).String()), took.Round(time.Millisecond), m.launchedCount())
	}
	m.settleInstances()
	launched := m.launchedCount()
	if kill {
		m.checkGoroutines()
	}
	h.deleteAllClaims(m, w)
	return launched
}

// inFlight tells what the controller is in the middle of: NodeClaims being drained, created but not launched, and
// launched whose node has not registered.
func (h *harness) inFlight(ctx context.Context) map[string]bool {
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(ctx, list); err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, nc := range list.Items {
		switch {
		case !nc.DeletionTimestamp.IsZero():
			out[momentDrain] = true
		case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeLaunched):
			out[momentBeforeLaunch] = true
		case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered):
			out[momentBeforeReg] = true
		}
	}
	return out
}

// sleep waits d (nothing if d ≤ 0) or until the test ends.
func (h *harness) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-h.t.Context().Done():
		h.t.FailNow()
	case <-time.After(d):
	}
}

// waitMoment waits for the step's kill moment: its target in flight (polled every 20 ms, at most 3 s), or killAt.
func (h *harness) waitMoment(s crashStep) {
	t := h.t
	if s.target == "" {
		select {
		case <-t.Context().Done():
			t.FailNow()
		case <-time.After(s.killAt):
		}
		return
	}
	_ = wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 3*time.Second, true, func(ctx context.Context) (bool, error) {
		return h.inFlight(ctx)[s.target], nil
	})
}

// killMoment names what is in flight, the most interesting first.
func (h *harness) killMoment(ctx context.Context) string {
	in := h.inFlight(ctx)
	for _, m := range []string{momentDrain, momentBeforeLaunch, momentBeforeReg} {
		if in[m] {
			return m
		}
	}
	return momentSteady
}

// deleteBusiestClaim deletes the NodeClaim whose node runs the most of the workload's pods (ties: the node name), so
// the termination flow drains it through the Eviction API under the PDBs; it returns the claim's provider ID ("" if
// no node ran workload pods).
func (h *harness) deleteBusiestClaim(ns string) string {
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
				return nc.Status.ProviderID
			}
		}
	}
	return ""
}
