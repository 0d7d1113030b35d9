package disruption

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestUnreadableBudget: a NodePool whose budget cannot be evaluated holds its own candidates of the methods that
// budget covers, and says which field is wrong and how to fix it; other NodePools and other methods are untouched.
func TestUnreadableBudget(t *testing.T) {
	c := &cluster{}
	c.pool("bad", func(np *apiv1.NodePool) {
		np.Spec.Disruption.Budgets = []apiv1.Budget{{Nodes: "100%"},
			{Nodes: "0", Schedule: ptr.To("59-1 * * * *"), Duration: &metav1.Duration{Duration: time.Hour}, Reasons: []apiv1.DisruptionReason{apiv1.DisruptionReasonEmpty}}}
	})
	c.pool("good", nil)
	c.claim("bad-empty", "bad", nil, nil)
	c.claim("bad-under", "bad", []map[string]string{nil}, nil)
	c.claim("good-empty", "good", nil, nil)
	verdicts := Evaluate(c.view(), t0.Add(time.Hour))
	want := map[string]string{"bad-empty": "Empty budget error", "bad-under": "Underutilized eligible", "good-empty": "Empty eligible"}
	if diff := cmp.Diff(want, outcomes(verdicts)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	summary := verdicts[0].Summary()
	for _, part := range []string{`nodepool "bad"`, "spec.disruption.budgets[1].schedule", `"59-1 * * * *"`, "0 9 * * mon-fri", "held"} {
		if !strings.Contains(summary, part) {
			t.Errorf("summary %q does not name %q", summary, part)
		}
	}
}
