package provisioning

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// samples is how many observations a histogram holds.
func samples(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestProvisionRecordsDecisionAndPassDurations: a batch with pending pods observes one decision (read and plan) and
// one pass (plan and NodeClaims created); a batch with nothing pending observes neither, so idle polls do not drown
// the quantiles `make scale` reports.
func TestProvisionRecordsDecisionAndPassDurations(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge")
	f.nodePool("default", nil)
	decisions, passes := samples(t, decisionDuration), samples(t, passDuration)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d, p := samples(t, decisionDuration)-decisions, samples(t, passDuration)-passes; d != 0 || p != 0 {
		t.Errorf("a batch with no pending pod observed %d decisions and %d passes, want none", d, p)
	}
	f.pendingPods(2, "1", nil)
	if _, err := f.provisioner.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d, p := samples(t, decisionDuration)-decisions, samples(t, passDuration)-passes; d != 1 || p != 1 {
		t.Errorf("a batch of 2 pending pods observed %d decisions and %d passes, want 1 and 1", d, p)
	}
}
