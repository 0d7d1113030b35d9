package disruption

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cli"
)

// backwardsSchedule passes the API's check of a budget schedule (each bound of the range is a minute) but runs
// backwards, which only the cron parser finds when the budget is evaluated.
const backwardsSchedule = "59-1 * * * *"

// TestUnreadableBudgetHoldsOnlyItsNodePool: a NodePool whose budget cannot be evaluated holds its own candidates,
// with one warning event naming the NodePool, the field and the fix; every other NodePool's disruption goes on.
func TestUnreadableBudgetHoldsOnlyItsNodePool(t *testing.T) {
	f := newFixture(t)
	recorder := &events.FakeRecorder{Events: make(chan string, 100)}
	f.c.recorder = recorder
	bad := f.pool(func(np *apiv1.NodePool) {
		np.Name = "bad"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"},
			{Nodes: "0", Schedule: ptr.To(backwardsSchedule), Duration: &metav1.Duration{Duration: time.Hour}}}
	})
	good := f.pool(func(np *apiv1.NodePool) {
		np.Name = "good"
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"}}
	})
	f.claim("bad-empty", bad, nil)
	f.claim("good-empty", good, nil)
	f.clk.Step(time.Minute)

	if got := f.disrupt(); !slices.Equal(got, []string{"good-empty"}) {
		t.Fatalf("disrupted %v, want [good-empty]: an unreadable budget holds only its own NodePool", got)
	}
	if f.exists("bad-empty") == nil {
		t.Fatalf("bad-empty was disrupted although its NodePool's budget cannot be read")
	}
	var warnings []string
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, eventInvalidBudget) {
			warnings = append(warnings, e)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("%d %s event(s), want 1: %q", len(warnings), eventInvalidBudget, warnings)
	}
	for _, want := range []string{`nodepool "bad"`, "spec.disruption.budgets[1].schedule", backwardsSchedule, "0 9 * * mon-fri"} {
		if !strings.Contains(warnings[0], want) {
			t.Errorf("event %q does not name %q", warnings[0], want)
		}
	}
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("second pass disrupted %v", got)
	}
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, eventInvalidBudget) {
			t.Errorf("the same budget error reported again: %q", e)
		}
	}
	if got := explain(t, f, "bad-empty"); got.Eligible != "" || !strings.Contains(got.Summary, "spec.disruption.budgets[1].schedule") {
		t.Errorf("explain says %q (eligible %q), want the budget error", got.Summary, got.Eligible)
	}
}

// explain runs `tailor explain nodeclaim NAME -o json` on the fixture's cluster and clock.
func explain(t *testing.T, f *fixture, name string) cli.ClaimDisruption {
	t.Helper()
	var buf bytes.Buffer
	if err := cli.Explain(t.Context(), f.kube, cli.ExplainOptions{Target: cli.ExplainNodeClaim, Name: name, Output: cli.OutputJSON, Clock: f.clk}, &buf); err != nil {
		t.Fatalf("explain nodeclaim %s: %v", name, err)
	}
	res := &cli.ExplainResult{}
	if err := json.Unmarshal(buf.Bytes(), res); err != nil {
		t.Fatal(err)
	}
	return res.NodeClaim.Disruption
}
