package provisioning

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// TestReportUnschedulableReadsReasonFields: the provisioner reads the planner's typed reasons, not their wording.
// The pod's FailedScheduling event carries every reason as the planner words it; only the Limit reason of a NodePool
// that exists gives that NodePool a LimitReached event (a reason whose wording mentions a limit does not), and every
// reason counts under its NodePool and kind.
func TestReportUnschedulableReadsReasonFields(t *testing.T) {
	small := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "small-reasons"}}
	tainted := &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "tainted-reasons"}}
	view := &state.View{NodePools: map[string]*apiv1.NodePool{small.Name: small, tainted.Name: tainted}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	limit := scheduling.Reason{Kind: scheduling.ReasonLimit, NodePool: small.Name, Resource: corev1.ResourceCPU, Message: "cpu limit 1 would be exceeded"}
	taint := scheduling.Reason{Kind: scheduling.ReasonTaint, NodePool: tainted.Name, Message: "the pod does not tolerate taint limit=1:NoSchedule"}
	existing := scheduling.Reason{Kind: scheduling.ReasonInsufficient, Resource: corev1.ResourceMemory, Message: `existing nodes: none of 1 fits (first: node "n": insufficient memory)`}
	results := &scheduling.Results{Unschedulable: []scheduling.Unschedulable{{Pod: pod, Reasons: []scheduling.Reason{existing, limit, taint}}}}

	counter := func(pool string, kind scheduling.ReasonKind) float64 {
		return testutil.ToFloat64(unschedulableReasons.WithLabelValues(pool, string(kind)))
	}
	before := []float64{counter(small.Name, scheduling.ReasonLimit), counter(tainted.Name, scheduling.ReasonTaint), counter("", scheduling.ReasonInsufficient)}
	recorder := events.NewFakeRecorder(10)
	p := &Provisioner{recorder: recorder}
	p.reportUnschedulable(results, view)
	close(recorder.Events)
	var got []string
	for e := range recorder.Events {
		got = append(got, e)
	}
	if len(got) != 2 {
		t.Fatalf("events %q, want a FailedScheduling on the pod and one LimitReached", got)
	}
	want := "Warning FailedScheduling Tailor cannot launch a node for this pod: " + strings.Join([]string{existing.Message,
		`nodepool "small-reasons" cpu limit 1 would be exceeded`, `nodepool "tainted-reasons": the pod does not tolerate taint limit=1:NoSchedule`}, "; ")
	if got[0] != want {
		t.Errorf("event\n%s\nwant\n%s", got[0], want)
	}
	if want := `Warning LimitReached nodepool "small-reasons" cpu limit 1 would be exceeded: pending pods wait until usage drops or the limit is raised`; got[1] != want {
		t.Errorf("event\n%s\nwant\n%s", got[1], want)
	}
	after := []float64{counter(small.Name, scheduling.ReasonLimit), counter(tainted.Name, scheduling.ReasonTaint), counter("", scheduling.ReasonInsufficient)}
	for i := range after {
		if after[i] != before[i]+1 {
			t.Errorf("tailor_pods_unschedulable_reasons_total counters %v after the batch, want each one more than %v", after, before)
			break
		}
	}
}
