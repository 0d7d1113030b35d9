package testenv

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestScrape serves a small exposition on loopback and checks every sample is keyed by its series text, comments
// (even one ending in a number) and unparsable values are skipped, a label value may hold spaces, and a line longer
// than bufio's default 64 KiB still parses.
func TestScrape(t *testing.T) {
	long := "long_labels{v=\"" + strings.Repeat("x", 100<<10) + "\"}"
	body := strings.Join([]string{
		"# HELP go_goroutines Number of goroutines that currently exist.",
		"# TYPE go_goroutines gauge",
		"go_goroutines 42",
		"",
		`leader_election_master_status{name="tailor"} 1`,
		"# HELP tailor_pass_duration_seconds Time one pass took, in buckets up to 10",
		`tailor_pass_duration_seconds_bucket{le="0.5"} 3`,
		`tailor_pass_duration_seconds_bucket{le="+Inf"} 4`,
		"tailor_pass_duration_seconds_sum 1.25",
		"tailor_pass_duration_seconds_count 4",
		`rest_client_requests_total{code="200",method="GET"} 1e+06`,
		`build_info{description="a label value with spaces"} 1`,
		"broken_gauge not-a-number",
		"no_value_at_all",
		"special NaN",
		long + " 7",
	}, "\n") + "\n"
	srv := serveMetrics(t, body)

	got, err := Scrape(t.Context(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got["special"]) {
		t.Errorf(`got["special"] = %v, want NaN`, got["special"])
	}
	delete(got, "special")
	want := map[string]float64{
		"go_goroutines": 42,
		`leader_election_master_status{name="tailor"}`:        1,
		`tailor_pass_duration_seconds_bucket{le="0.5"}`:       3,
		`tailor_pass_duration_seconds_bucket{le="+Inf"}`:      4,
		"tailor_pass_duration_seconds_sum":                    1.25,
		"tailor_pass_duration_seconds_count":                  4,
		`rest_client_requests_total{code="200",method="GET"}`: 1e6,
		`build_info{description="a label value with spaces"}`: 1,
		long: 7,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scrape (-want +got):\n%s", diff)
	}
}

// TestScrapeErrors checks a malformed URL is told apart (ErrScrapeRequest) from a server that does not answer.
func TestScrapeErrors(t *testing.T) {
	if _, err := Scrape(t.Context(), "http://127.0.0.1:bad/metrics"); !errors.Is(err, ErrScrapeRequest) {
		t.Errorf("malformed URL: err = %v, want one wrapping ErrScrapeRequest", err)
	}
	srv := serveMetrics(t, "go_goroutines 1\n")
	srv.Close() // nothing listens on its port any more
	m, err := Scrape(t.Context(), srv.URL+"/metrics")
	if err == nil || errors.Is(err, ErrScrapeRequest) || m != nil {
		t.Errorf("closed port: (%v, %v), want a nil map and an error not wrapping ErrScrapeRequest", m, err)
	}
}

// serveMetrics serves body on 127.0.0.1 (never another interface) until the test ends.
func serveMetrics(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
