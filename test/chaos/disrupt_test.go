package chaos

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

var disruptRounds = flag.Int("chaos.disrupt-rounds", 1, "rounds of the disruption scenario (consolidation, drift, expiry, each with a kill aimed at it; make chaos: 3)")

// Disruption reasons, as the Disrupting condition and the command records name them.
const (
	reasonEmpty         = "Empty"
	reasonUnderutilized = "Underutilized"
	reasonDrifted       = "Drifted"
	reasonExpired       = "Expired"
)

// disruptExpireAfter is the template's expireAfter while the scenario wants nodes to expire: the nodes the drift
// launches expire this long after their creation.
const disruptExpireAfter = "40s"

// disruptBig and disruptSmall are the workload's steps in each round: scaled up to several nodes, then down so that
// consolidation has empty and underused nodes to delete or replace by cheaper ones.
var (
	disruptBig   = step{"web": 12, "batch": 5, "apart": 4, "mem": 6}
	disruptSmall = step{"web": 4, "batch": 0, "apart": 2, "mem": 2}
)

// TestDisruptionKills runs every disruption method Tailor has with consolidation on (WhenEmptyOrUnderutilized,
// consolidateAfter 5s) and SIGKILLs the controller in the middle of each, round after round:
//
//  1. the workload scales up, then down: consolidation deletes empty nodes and deletes or replaces underused ones;
//     the controller is killed while a consolidation (Empty or Underutilized) is in flight, and the restarted one
//     must leave the fleet quiet (every pod Running, no NodeClaim disrupting, no command left);
//  2. the template changes (a label, and expireAfter from Never to 40s): every node drifts; the controller is killed
//     while a drift is in flight;
//  3. the nodes the drift launched expire 40 s later; the controller is killed while an expiry is in flight;
//  4. the template changes back to expireAfter Never (and a new label): what is left drifts or expires, and the
//     restarted controller must finish it: every pod Running, every NodeClaim of the new template, no stranded
//     candidate, no orphan command.
//
// Throughout, the monitor's invariants hold (no pod lost, no PDB broken, no leaked instance, no double launch). The
// test fails when a kill found no disruption of its kind in flight, or when the controller's log shows no
// consolidation, drift or expiry carried out: the scenario would prove nothing. The launch ratio of the kill
// scenario does not apply: with expiry, launches grow with the time the run takes, not with the sequence.
func TestDisruptionKills(t *testing.T) {
	h := startHarness(t, false)
	// On-demand only: a spot node is replaced by a cheaper spot one only when 15 cheaper spot types exist
	// (MinSpotToSpotOptions), which these small types rarely offer, so on spot consolidation would only delete.
	h.applyPoolWith(`"on-demand"`, "Never", "WhenEmptyOrUnderutilized", "5s")
	w := h.createWorkload()
	const name = "disruption with kills"
	m := h.startMonitor(name, w.ns)
	started := time.Now()
	generation := 0
	hits := map[string]int{}
	kill := func(what string, reasons []string, target string, timeout time.Duration) {
		reason, moment := h.waitDisruption(reasons, target, timeout)
		if time.Since(started) >= 5*time.Second {
			m.sampleGoroutines("before the kill aimed at "+what, h.stack.Controller.Pid(), h.metricsAddr)
		}
		if err := h.stack.KillController(); err != nil {
			t.Fatal(err)
		}
		m.controllerDown()
		if err := h.stack.StartController(); err != nil {
			t.Fatal(err)
		}
		started = time.Now()
		m.controllerUp()
		if reason == "" {
			m.fault("SIGKILL aimed at "+what+": none in flight", 1)
			t.Errorf("the kill aimed at %s found none in flight within %s: the scenario proves nothing", what, timeout)
			return
		}
		m.fault(fmt.Sprintf("SIGKILL mid-%s: %s", strings.ToLower(reason), moment), 1)
		hits[fmt.Sprintf("%s, %s", reason, moment)]++
		t.Logf("kill aimed at %s (%s) hit %s: %s", what, cmp.Or(target, "any moment"), reason, moment)
	}
	settled := func(i int, what string, hold time.Duration) {
		took := h.waitDriftDone(m, w, w.last, 4*time.Minute)
		if hold > 0 {
			took += h.waitQuiet(m, w, hold, 4*time.Minute)
		}
		h.sleep(5*time.Second - time.Since(started))
		m.sampleGoroutines(fmt.Sprintf("round %d %s settled", i+1, what), h.stack.Controller.Pid(), h.metricsAddr)
		t.Logf("round %d: %s settled %s after the kill", i+1, what, took.Round(100*time.Millisecond))
	}
	aimed := 0 // kills aimed at a moment of a replace: drift's and expiry's, in turn
	for i := range *disruptRounds {
		w.scaleTo(disruptBig)
		w.waitSettled(m, disruptBig, 3*time.Minute)
		w.scaleTo(disruptSmall)
		// Consolidation may delete without a replace, so its kill takes the first moment it sees. The restarted
		// controller then gets the time to make every move it finds (consolidateAfter 5 s, then a 10 s validation
		// window, so a move every 15 s or so): the fleet must stay quiet for 30 s.
		kill("consolidation", []string{reasonEmpty, reasonUnderutilized}, "", 90*time.Second)
		settled(i, "consolidation", 30*time.Second)

		generation++
		h.patchTemplate(generation, disruptExpireAfter)
		kill("drift", []string{reasonDrifted}, replaceMomentOrder[aimed%len(replaceMomentOrder)], 90*time.Second)
		aimed++
		kill("expiry", []string{reasonExpired}, replaceMomentOrder[aimed%len(replaceMomentOrder)], 2*time.Minute)
		aimed++

		generation++
		h.patchTemplate(generation, "Never")
		settled(i, "drift back to expireAfter Never", 0)
	}
	m.checkGoroutines()

	var kills []string
	for k, n := range hits {
		kills = append(kills, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(kills)
	m.note("kills that hit a disruption in flight: %s", strings.Join(kills, "; "))
	done := h.disruptionsDone()
	m.note("disruptions carried out (from the controller's log, restarts included): %s", done)
	for _, want := range []struct {
		what string
		n    int
	}{
		{"consolidation moves (empty or underutilized)", done.consolidations()},
		{"drift replacements or deletions", done.count(reasonDrifted)},
		{"expirations", done.count(reasonExpired)},
	} {
		if want.n == 0 {
			t.Errorf("no %s in the controller's log: the scenario proves nothing", want.what)
		}
	}
	h.deleteAllClaims(m, w)
}

// scaleTo is scale remembering the step (w.last), the one the waits check.
func (w *workload) scaleTo(s step) {
	w.h.t.Helper()
	w.scale(s)
	w.last = s
}

// patchTemplate sets the chaos NodePool's template label example.com/generation and expireAfter: any change of the
// template drifts every node; expireAfter applies to the NodeClaims created after it.
func (h *harness) patchTemplate(generation int, expireAfter string) {
	t := h.t
	t.Helper()
	pool := &apiv1.NodePool{}
	if err := h.kube.Get(t.Context(), client.ObjectKey{Name: "chaos"}, pool); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pool.DeepCopy())
	pool.Spec.Template.ObjectMeta.Labels = map[string]string{"example.com/generation": fmt.Sprint(generation)}
	pool.Spec.Template.Spec.ExpireAfter = apiv1.NillableDuration(expireAfter)
	if err := h.kube.Patch(t.Context(), pool, patch); err != nil {
		t.Fatal(err)
	}
}

// waitDisruption polls (every 20 ms) until a disruption for one of the reasons is in flight at the target moment
// ("": any) and returns its reason and moment. A target not reached within 10 s of the first disruption of those
// reasons seen gives way to any moment in flight (a short moment, a few API calls wide, is often missed, and the
// disruptions may run out). After timeout it returns "" (none in flight).
func (h *harness) waitDisruption(reasons []string, target string, timeout time.Duration) (string, string) {
	var reason, moment string
	var firstSeen time.Time
	_ = wait.PollUntilContextTimeout(h.t.Context(), 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		in := h.disruptionsInFlight(ctx)
		anyMoment := target == "" || (!firstSeen.IsZero() && time.Since(firstSeen) > 10*time.Second)
		for _, r := range reasons {
			for _, mo := range append(slices.Clone(replaceMomentOrder), momentDeleting) {
				if !in[r][mo] {
					continue
				}
				if firstSeen.IsZero() {
					firstSeen = time.Now()
				}
				if anyMoment || mo == target {
					reason, moment = r, mo
				}
			}
		}
		return reason != "", nil
	})
	return reason, moment
}

// waitQuiet waits until the workload is settled and no NodeClaim is drifted, disrupting, being deleted or not yet
// initialized for hold without a break, then checks for command leftovers as waitDriftDone does; it returns how long
// that took.
func (h *harness) waitQuiet(m *monitor, w *workload, hold, timeout time.Duration) time.Duration {
	t := h.t
	t.Helper()
	start := time.Now()
	var quietSince time.Time
	var desc string
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := h.stack.Controller.Exited(); err != nil {
			return false, err
		}
		ok, why := w.settled(ctx, w.last)
		if ok {
			why = h.driftLeft(ctx)
		}
		if desc = why; desc != "" {
			quietSince = time.Time{}
			return false, nil
		}
		if quietSince.IsZero() {
			quietSince = time.Now()
		}
		return time.Since(quietSince) >= hold, nil
	})
	if err != nil {
		m.violate("replace", "fleet not quiet for %s within %s (%v): %s", hold, timeout, err, desc)
		t.FailNow()
	}
	for _, v := range h.commandLeftovers(t.Context()) {
		m.violate("replace", "%s", v)
	}
	return time.Since(start)
}

// disruptions counts the controller's "disrupting node(s) via ACTION, reason: REASON" log lines (each a decision
// carried out, on one or more nodes) by "reason/action".
type disruptions map[string]int

func (d disruptions) count(reason string) int {
	return d[reason+"/delete"] + d[reason+"/replace"]
}

func (d disruptions) consolidations() int {
	return d.count(reasonEmpty) + d.count(reasonUnderutilized)
}

func (d disruptions) String() string {
	var parts []string
	for _, r := range []string{reasonEmpty, reasonUnderutilized, reasonDrifted, reasonExpired} {
		for _, a := range []string{"delete", "replace"} {
			if n := d[r+"/"+a]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s via %s %d", strings.ToLower(r), a, n))
			}
		}
	}
	if n := d[reasonUnderutilized+"/launch"]; n > 0 {
		parts = append(parts, fmt.Sprintf("replacements launched by consolidation (replace by cheaper) %d", n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// disruptionsDone reads the decisions carried out from the controller's log (appended to across restarts; a
// decision a restarted controller resumed is logged again when it deletes the candidates).
func (h *harness) disruptionsDone() disruptions {
	d := disruptions{}
	for _, r := range []string{reasonEmpty, reasonUnderutilized, reasonDrifted, reasonExpired} {
		for _, a := range []string{"delete", "replace"} {
			d[r+"/"+a] = h.logCount(fmt.Sprintf("disrupting node(s) via %s, reason: %s", a, strings.ToLower(r)))
		}
	}
	d[reasonUnderutilized+"/launch"] = h.logCount("launching replacement(s) before disrupting node(s), reason: underutilized")
	return d
}
