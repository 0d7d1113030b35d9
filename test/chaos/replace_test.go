package chaos

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

var replaceKills = flag.Int("chaos.replace-kills", 3, "controller SIGKILLs aimed at a replace in flight (drift) in the mid-replace scenario (make chaos: 15)")

// Moments of a replace a kill is aimed at.
const (
	momentRecorded             = "command recorded on the candidate, replacement not yet created"
	momentReplacementLaunching = "replacement created, not initialized"
	momentReplacementReady     = "replacement initialized, candidate not yet deleted"
	momentCandidateDeleting    = "candidate deletion under way"
	momentFinishing            = "candidate gone, command record still on the replacement"
)

// replaceMomentOrder is the order kills are aimed in: the three long moments first (make test's three kills), then
// the two short ones (a few API calls wide: a 20 ms poll often misses them, and the kill is reported by what it hit).
var replaceMomentOrder = []string{momentReplacementLaunching, momentReplacementReady, momentCandidateDeleting, momentRecorded, momentFinishing}

// commandRecord is the part of the disruption command record (apiv1.DisruptionCommandAnnotationKey) the scenario
// reads.
type commandRecord struct {
	ID           string   `json:"id"`
	Reason       string   `json:"reason"`
	Candidates   []string `json:"candidates"`
	Replacements []string `json:"replacements"`
}

// TestKillsMidReplace drifts the pool (a new template label) again and again and SIGKILLs the controller each time
// at a moment of the replace in flight, in turn: a replacement created but not initialized, the replacements
// initialized but the candidate not yet deleted, the candidate's deletion under way. After each kill the restarted
// controller must finish the drift: every pod Running, every NodeClaim of the new template, and then no stranded
// candidate (a node tainted tailor.sh/disrupted whose NodeClaim is not being deleted), no orphan replacement (a live
// NodeClaim still carrying a command record) and, throughout, the monitor's invariants (no pod lost, no PDB broken,
// no instance without a NodeClaim).
func TestKillsMidReplace(t *testing.T) {
	h := startHarness(t, false)
	h.applyPool("Never")
	w := h.createWorkload()
	m := h.startMonitor("kills mid-replace", w.ns)
	s := step{"web": 6, "batch": 2, "apart": 3, "mem": 3}
	w.scale(s)
	w.waitSettled(m, s, 3*time.Minute)
	hit := map[string]int{}
	resumedBefore := h.logCount(resumedLine)
	for i := range *replaceKills {
		target := replaceMomentOrder[i%len(replaceMomentOrder)]
		h.driftPool(strconv.Itoa(i + 1))
		got := h.waitReplaceMoment(target, 90*time.Second)
		moment := "none in flight"
		if got != "" {
			moment = got
			hit[got]++
		}
		if err := h.stack.KillController(); err != nil {
			t.Fatal(err)
		}
		m.controllerDown()
		m.fault("SIGKILL mid-replace: "+moment, 1)
		if err := h.stack.StartController(); err != nil {
			t.Fatal(err)
		}
		m.controllerUp()
		took := h.waitDriftDone(m, w, s, 4*time.Minute)
		t.Logf("kill %d/%d aimed at %q (hit %q): drift finished %s later", i+1, *replaceKills, target, moment, took.Round(100*time.Millisecond))
	}
	var parts []string
	for _, mo := range replaceMomentOrder {
		parts = append(parts, fmt.Sprintf("%s: %d", mo, hit[mo]))
	}
	m.note("kills that hit a replace in flight: %s (of %d); commands a restarted controller resumed from their records: %d",
		strings.Join(parts, ", "), *replaceKills, h.logCount(resumedLine)-resumedBefore)
	h.deleteAllClaims(m, w)
}

// resumedLine is what the controller logs when it rebuilds a command from its records.
const resumedLine = "resuming a disruption command recorded by an earlier leader"

// logCount counts the controller log's lines containing s (the log file is appended to across restarts).
func (h *harness) logCount(s string) int {
	b, err := os.ReadFile(h.stack.Controller.LogPath())
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

// driftPool changes the chaos NodePool's template (a label), which drifts every node.
func (h *harness) driftPool(generation string) {
	t := h.t
	t.Helper()
	pool := &apiv1.NodePool{}
	if err := h.kube.Get(t.Context(), client.ObjectKey{Name: "chaos"}, pool); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(pool.DeepCopy())
	pool.Spec.Template.ObjectMeta.Labels = map[string]string{"example.com/generation": generation}
	if err := h.kube.Patch(t.Context(), pool, patch); err != nil {
		t.Fatal(err)
	}
}

// replaceMoments tells which moments of a replace are in flight now, read from the command records on the
// NodeClaims.
func (h *harness) replaceMoments(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	for _, moments := range h.disruptionsInFlight(ctx) {
		for mo := range moments {
			if mo != momentDeleting {
				out[mo] = true
			}
		}
	}
	return out
}

// momentDeleting is a disruption that deletes a node without a replace: its NodeClaim Disrupting and being deleted,
// with no command record.
const momentDeleting = "deleted without a replace, drain under way"

// disruptionsInFlight tells, by disruption reason (Drifted, Expired, Empty, Underutilized), which moments of a
// disruption are in flight now: the moments of a replace, read from the command records on the NodeClaims, and
// momentDeleting for a NodeClaim being deleted with the Disrupting condition and no record.
func (h *harness) disruptionsInFlight(ctx context.Context) map[string]map[string]bool {
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(ctx, list); err != nil {
		return nil
	}
	byName := map[string]*apiv1.NodeClaim{}
	records := map[string]commandRecord{}
	out := map[string]map[string]bool{}
	add := func(reason, moment string) {
		if out[reason] == nil {
			out[reason] = map[string]bool{}
		}
		out[reason][moment] = true
	}
	for i := range list.Items {
		nc := &list.Items[i]
		byName[nc.Name] = nc
		raw, ok := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]
		var rec commandRecord
		if ok && json.Unmarshal([]byte(raw), &rec) == nil {
			records[rec.ID] = rec
			continue
		}
		if cond := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); !nc.DeletionTimestamp.IsZero() && cond != nil && cond.Status == "True" {
			add(cond.Reason, momentDeleting)
		}
	}
	for _, rec := range records {
		for mo := range recordMoments(rec, byName) {
			add(rec.Reason, mo)
		}
	}
	return out
}

// recordMoments tells which moments of one replace command are in flight, from its record and the live NodeClaims.
func recordMoments(rec commandRecord, byName map[string]*apiv1.NodeClaim) map[string]bool {
	out := map[string]bool{}
	initialized := true
	candidatesLeft := slices.ContainsFunc(rec.Candidates, func(c string) bool { return byName[c] != nil })
	for _, r := range rec.Replacements {
		nc := byName[r]
		if nc == nil && candidatesLeft {
			out[momentRecorded] = true
		}
		if nc == nil || !nc.DeletionTimestamp.IsZero() {
			initialized = false
			continue
		}
		if !candidatesLeft && nc.Annotations[apiv1.DisruptionCommandAnnotationKey] != "" {
			out[momentFinishing] = true
		}
		if !nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized) {
			initialized = false
			out[momentReplacementLaunching] = true
		}
	}
	for _, c := range rec.Candidates {
		nc := byName[c]
		switch {
		case nc == nil:
		case !nc.DeletionTimestamp.IsZero():
			out[momentCandidateDeleting] = true
		case initialized && len(rec.Replacements) > 0:
			out[momentReplacementReady] = true
		}
	}
	return out
}

// waitReplaceMoment polls (every 20 ms) until the target moment is in flight and returns it; if it never comes
// within timeout, the last moment of a replace seen in flight ("" if none).
func (h *harness) waitReplaceMoment(target string, timeout time.Duration) string {
	last := ""
	_ = wait.PollUntilContextTimeout(h.t.Context(), 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		in := h.replaceMoments(ctx)
		for _, mo := range replaceMomentOrder {
			if in[mo] {
				last = mo
			}
		}
		return in[target], nil
	})
	if last == "" {
		return ""
	}
	if h.replaceMoments(h.t.Context())[target] {
		return target
	}
	return last
}

// waitDriftDone waits until every pod is Running and every NodeClaim is of the pool's current template with no
// command in flight, then checks for stranded candidates and orphan replacements; it returns how long that took.
func (h *harness) waitDriftDone(m *monitor, w *workload, s step, timeout time.Duration) time.Duration {
	t := h.t
	t.Helper()
	start := time.Now()
	var desc string
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := h.stack.Controller.Exited(); err != nil {
			return false, err
		}
		ok, why := w.settled(ctx, s)
		if !ok {
			desc = why
			return false, nil
		}
		desc = h.driftLeft(ctx)
		return desc == "", nil
	})
	if err != nil {
		m.violate("replace", "drift not finished %s after the kill (%v): %s", time.Since(start).Round(time.Second), err, desc)
		t.FailNow()
	}
	took := time.Since(start)
	for _, v := range h.commandLeftovers(t.Context()) {
		m.violate("replace", "%s", v)
	}
	m.stepDone()
	return took
}

// driftLeft describes what of the drift is not done: a NodeClaim still drifted, being deleted or Disrupting.
func (h *harness) driftLeft(ctx context.Context) string {
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(ctx, list); err != nil {
		return err.Error()
	}
	var left []string
	for _, nc := range list.Items {
		switch {
		case !nc.DeletionTimestamp.IsZero():
			left = append(left, nc.Name+" being deleted")
		case nc.StatusConditions().IsTrue(apiv1.ConditionTypeDrifted):
			left = append(left, nc.Name+" drifted")
		case nc.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting):
			left = append(left, nc.Name+" disrupting")
		case !nc.StatusConditions().IsTrue(apiv1.ConditionTypeInitialized):
			left = append(left, nc.Name+" not initialized")
		}
	}
	return strings.Join(left, ", ")
}

// commandLeftovers lists the invariant violations a finished replace may leave: a node tainted tailor.sh/disrupted
// whose NodeClaim is live (stranded candidate) and a live NodeClaim still carrying a command record (a replacement
// or candidate of a command nobody finished).
func (h *harness) commandLeftovers(ctx context.Context) []string {
	list := &apiv1.NodeClaimList{}
	nodes := &corev1.NodeList{}
	if err := h.kube.List(ctx, list); err != nil {
		return []string{err.Error()}
	}
	if err := h.kube.List(ctx, nodes); err != nil {
		return []string{err.Error()}
	}
	live := map[string]*apiv1.NodeClaim{}
	var out []string
	for i := range list.Items {
		nc := &list.Items[i]
		if !nc.DeletionTimestamp.IsZero() {
			continue
		}
		live[nc.Status.ProviderID] = nc
		if raw, ok := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]; ok {
			out = append(out, fmt.Sprintf("orphan command record on live nodeclaim %s after the drift finished: %s", nc.Name, raw))
		}
	}
	for _, n := range nodes.Items {
		nc := live[n.Spec.ProviderID]
		if nc == nil || !n.DeletionTimestamp.IsZero() {
			continue
		}
		if slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Key == apiv1.Group+"/disrupted" }) {
			out = append(out, fmt.Sprintf("stranded candidate: node %s (nodeclaim %s) tainted %s/disrupted with no deletion", n.Name, nc.Name, apiv1.Group))
		}
	}
	return out
}
