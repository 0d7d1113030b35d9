package disruption

import (
	"errors"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// restart replaces the fixture's controller by a new instance with no memory, as a restarted or failed-over leader.
func (f *fixture) restart() {
	f.t.Helper()
	c, err := New(f.clk, f.kube, f.kube, f.cloud, &events.FakeRecorder{}, state.NewCluster(f.clk, f.kube))
	if err != nil {
		f.t.Fatal(err)
	}
	f.c = c
}

// startDriftReplace drifts one node with a pod and runs the pass that launches its replacement; it returns the
// replacement.
func startDriftReplace(f *fixture, names ...string) []string {
	f.t.Helper()
	np := f.pool(nil)
	for _, name := range names {
		f.claim(name, np, nil)
		f.pod(name, nil)
	}
	f.drift(np)
	if got := f.disrupt(); len(got) != 0 {
		f.t.Fatalf("deleted %v before any replacement existed", got)
	}
	var out []string
	for _, nc := range f.others(names...) {
		out = append(out, nc.Name)
	}
	if len(out) == 0 {
		f.t.Fatal("no replacement launched")
	}
	return out
}

// assertReleased: the candidate stays, untainted, without Disrupting or a command record, and no replacement is left.
func assertReleased(t *testing.T, f *fixture, candidates ...string) {
	t.Helper()
	for _, name := range candidates {
		nc := f.exists(name)
		if nc == nil || !nc.DeletionTimestamp.IsZero() {
			t.Fatalf("candidate %s deleted although its command was abandoned", name)
		}
		if cond := nc.StatusConditions().Get(apiv1.ConditionTypeDisrupting); cond != nil {
			t.Errorf("candidate %s still Disrupting: %+v", name, cond)
		}
		if v, ok := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]; ok {
			t.Errorf("candidate %s still carries its command record %q", name, v)
		}
		if f.tainted(name) {
			t.Errorf("candidate %s's node still tainted %s (stranded)", name, disruptedTaint.Key)
		}
	}
	if left := f.others(candidates...); len(left) != 0 {
		t.Errorf("%d orphan replacement(s) left: %s", len(left), left[0].Name)
	}
	if marks := f.c.cluster.Replacing(); len(marks) != 0 {
		t.Errorf("cluster state still holds room: %v", marks)
	}
}

// TestRestartResumesReplace: a leader that restarts while a replace waits for its replacement picks the command up
// from the NodeClaims: once the replacement is initialized the new instance deletes the candidate.
func TestRestartResumesReplace(t *testing.T) {
	f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
	replacements := startDriftReplace(f, "old")
	f.restart()
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("restarted leader deleted %v before the replacement initialized", got)
	}
	old := f.exists("old")
	if old == nil || !old.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting) || !f.tainted("old") {
		t.Fatalf("restarted leader released the candidate of a replace in flight: %+v", old)
	}
	if f.exists(replacements[0]) == nil {
		t.Fatalf("restarted leader deleted the replacement %s of a replace in flight", replacements[0])
	}
	f.initialize(f.exists(replacements[0]))
	if got := f.disrupt(); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("restarted leader deleted %v once the replacement initialized, want [old]", got)
	}
	r := f.exists(replacements[0])
	if r == nil || !r.DeletionTimestamp.IsZero() {
		t.Fatal("replacement deleted after the command finished")
	}
	if v, ok := r.Annotations[apiv1.DisruptionCommandAnnotationKey]; ok {
		t.Errorf("finished command's record left on the replacement: %q", v)
	}
}

// TestRestartAbandonsReplace: a restarted leader gives up a replace whose replacement failed or timed out while it
// was down: replacements deleted, candidates released.
func TestRestartAbandonsReplace(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(f *fixture, replacement string)
	}{
		{name: "replacement gone", fail: func(f *fixture, r string) {
			if err := f.kube.Delete(f.t.Context(), f.exists(r)); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "timeout", fail: func(f *fixture, _ string) { f.clk.Step(ReplacementTimeout + time.Second) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
			replacements := startDriftReplace(f, "old")
			f.restart()
			tt.fail(f, replacements[0])
			if got := f.disrupt(); len(got) != 0 {
				t.Fatalf("deleted %v although the replacement failed", got)
			}
			assertReleased(t, f, "old")
		})
	}
}

// TestCrashMidReplace stops the controller after each step of a replace, as a kill there would, and starts a new
// instance: a command whose replacements were not all created is abandoned (candidates released, nothing orphaned);
// one whose replacements exist is resumed, including when the kill came between two candidates' deletions.
func TestCrashMidReplace(t *testing.T) {
	for _, tt := range []struct {
		point      string
		candidates []string
		resume     bool
	}{
		{point: crashAfterRecord, candidates: []string{"a"}},
		{point: crashAfterTaint, candidates: []string{"a"}},
		{point: crashAfterReplacement, candidates: []string{"a"}, resume: true},
		{point: crashAfterDelete, candidates: []string{"a", "b"}, resume: true},
	} {
		t.Run(tt.point, func(t *testing.T) {
			f := newFixture(t, instanceType("m5.xlarge", 4, onDemand(0.192)))
			np := f.pool(func(np *apiv1.NodePool) { np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}} })
			for _, name := range tt.candidates {
				f.claim(name, np, nil)
				f.pod(name, nil)
			}
			f.drift(np)
			f.c.crashAfter = func(step string) bool { return step == tt.point }
			_, err := f.c.Disrupt(t.Context())
			if tt.point == crashAfterDelete {
				if err != nil {
					t.Fatalf("launch: %v", err)
				}
				replacements := f.others(tt.candidates...)
				if len(replacements) != 1 {
					t.Fatalf("%d replacements, want 1", len(replacements))
				}
				f.initialize(&replacements[0])
				_, err = f.c.Disrupt(t.Context())
			}
			if err == nil || !errors.Is(err, errCrashed) {
				t.Fatalf("the controller did not stop at %s: %v", tt.point, err)
			}
			f.restart()
			if !tt.resume {
				if got := f.disrupt(); len(got) != 0 {
					t.Fatalf("restarted leader deleted %v", got)
				}
				assertReleased(t, f, tt.candidates...)
				return
			}
			replacements := f.others(tt.candidates...)
			if len(replacements) != 1 {
				t.Fatalf("%d replacements after the restart, want 1", len(replacements))
			}
			if !replacements[0].StatusConditions().IsTrue(apiv1.ConditionTypeInitialized) {
				if got := f.disrupt(); len(got) != 0 {
					t.Fatalf("restarted leader deleted %v before the replacement initialized", got)
				}
				f.initialize(&replacements[0])
			}
			f.disrupt()
			for _, name := range tt.candidates {
				if nc := f.exists(name); nc != nil && nc.DeletionTimestamp.IsZero() {
					t.Errorf("candidate %s kept after its replacement initialized (stranded: tainted=%v)", name, f.tainted(name))
				}
			}
			r := f.exists(replacements[0].Name)
			if r == nil {
				t.Fatal("replacement deleted")
			}
			if v, ok := r.Annotations[apiv1.DisruptionCommandAnnotationKey]; ok {
				t.Errorf("finished command's record left on the replacement: %q", v)
			}
		})
	}
}

// TestStrayTaintLifted: a node carrying the disrupted taint with no command, no Disrupting condition and no deletion
// gets the taint back off.
func TestStrayTaintLifted(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("stray", np, nil)
	f.pod("stray", nil)
	if err := f.c.taint(t.Context(), "stray", true); err != nil {
		t.Fatal(err)
	}
	f.restart()
	f.disrupt()
	if f.tainted("stray") {
		t.Error("stray disrupted taint left on a node no command holds")
	}
}
