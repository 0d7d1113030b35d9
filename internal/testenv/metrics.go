package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrScrapeRequest is wrapped by Scrape's error when no request could be built from its arguments (a malformed URL
// or a nil context): a mistake in the caller rather than a server that is not answering yet.
var ErrScrapeRequest = errors.New("building the scrape request")

// Scrape GETs url (a /metrics endpoint) and parses the Prometheus text exposition format into one value per sample,
// keyed by the series text before the value: the metric name with its labels as printed, e.g.
// `http_requests_total{code="200"}` or `tailor_pass_duration_seconds_bucket{le="0.5"}`. Comment lines (# HELP, # TYPE)
// are skipped, and so are lines whose last field is not a number. Lines may be up to 1 MiB long. Scrape sets no
// timeout of its own: ctx bounds the request and the reading of the body. On an error reading the body it returns
// what it parsed so far with the error; on a failed request, a nil map.
func Scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %w", ErrScrapeRequest, url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}
