package disruption

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestDisruptRecordsPassDuration: every pass, with candidates or none, observes its duration once, the figure
// `make scale` reports for a pass over every node.
func TestDisruptRecordsPassDuration(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("empty", np, nil)
	count := func() uint64 {
		var m dto.Metric
		if err := passDuration.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	before := count()
	f.disrupt()
	f.disrupt()
	if got := count() - before; got != 2 {
		t.Errorf("two passes observed %d durations, want 2", got)
	}
}
