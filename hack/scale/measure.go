package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// procStats is what /proc says about one process.
type procStats struct {
	rss, hwm float64 // bytes: resident now, and the peak
	cpu      float64 // seconds of user and system time since start
}

func mib(b float64) float64 { return b / (1 << 20) }

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; 100 on every Linux Go runs on.
const clockTicks = 100

func readProc(pid int) (procStats, error) {
	var s procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[0], 64)
		switch k {
		case "VmRSS":
			s.rss = kb * 1024
		case "VmHWM":
			s.hwm = kb * 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name is in parentheses and may hold spaces: count fields after the last ')'.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) > 13 {
		utime, _ := strconv.ParseFloat(rest[11], 64)
		stime, _ := strconv.ParseFloat(rest[12], 64)
		s.cpu = (utime + stime) / clockTicks
	}
	return s, nil
}

// children maps the command names of this process's children (the control plane, ec2sim, the controller) to their
// IDs.
func children() map[string]int {
	out := map[string]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		rest := strings.Fields(s[end+1:])
		if len(rest) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(rest[1]); ppid == self {
			out[s[open+1:end]] = pid
		}
	}
	return out
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// metrics is one testenv.Scrape of the controller's /metrics: each sample keyed by its series as written.
type metrics map[string]float64

// histDelta is what a histogram observed between two scrapes.
type histDelta struct {
	count, sum float64
	max        float64 // the upper bound of the highest bucket that received an observation
}

func (h histDelta) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return seconds(h.sum / h.count)
}

// seconds converts to a Duration; +Inf (an observation beyond the largest bucket) becomes the largest Duration.
func seconds(s float64) time.Duration {
	if math.IsInf(s, 1) || s*float64(time.Second) > math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

func histogram(before, after metrics, name string) histDelta {
	d := histDelta{count: after[name+"_count"] - before[name+"_count"], sum: after[name+"_sum"] - before[name+"_sum"]}
	type bucket struct{ le, n float64 }
	var buckets []bucket
	prefix := name + `_bucket{le="`
	for k, v := range after {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(k, prefix), `"}`), 64)
		if err != nil {
			continue
		}
		buckets = append(buckets, bucket{le, v - before[k]})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	for _, b := range buckets {
		if b.n >= d.count && d.count > 0 {
			d.max = b.le
			break
		}
	}
	if d.count > 0 && d.max == 0 {
		d.max = math.Inf(1) // beyond the largest bucket
	}
	return d
}

// requests is rest_client_requests_total between two scrapes, by HTTP method.
func requests(before, after metrics) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if !strings.HasPrefix(k, "rest_client_requests_total{") {
			continue
		}
		i := strings.Index(k, `method="`)
		if i < 0 {
			continue
		}
		method := k[i+len(`method="`):]
		method = method[:strings.IndexByte(method, '"')]
		out[method] += v - before[k]
	}
	return out
}

func total(calls map[string]float64) float64 {
	var n float64
	for _, v := range calls {
		n += v
	}
	return n
}

// passLine is the provisioner's log line for a batch that planned NodeClaims.
type passLine struct {
	Message    string `json:"message"`
	Pods       int    `json:"pods"`
	NodeClaims int    `json:"nodeclaims"`
	Decision   string `json:"decision"`
	Duration   string `json:"duration"`
}

// largestPass reads the controller's log from offset and returns the batch that planned the most pods.
func largestPass(path string, offset int64) (passLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return passLine{}, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return passLine{}, err
	}
	var best passLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "computed new nodeclaim(s)") {
			continue
		}
		var l passLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Pods > best.Pods {
			best = l
		}
	}
	return best, sc.Err()
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// fetch saves url's body to path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// profileTop is `go tool pprof -top`'s first entries for one profile.
type profileTop struct {
	name, top string
}

func topProfiles(ctx context.Context, bin, dir string) []profileTop {
	var out []profileTop
	for _, p := range []struct {
		name, file string
		args       []string
	}{
		{"CPU (the largest step's first minute after lifting the limit: the big batch, launches, registrations)", "cpu.pprof", nil},
		{"CPU (20 s of the largest step's disruption passes over every node)", "cpu-disruption.pprof", nil},
		{"heap in use (end of the largest step)", "heap.pprof", []string{"-sample_index=inuse_space"}},
		{"heap allocated over the whole run (end of the largest step)", "heap.pprof", []string{"-sample_index=alloc_space"}},
	} {
		path := filepath.Join(dir, p.file)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		args := append(append([]string{"tool", "pprof", "-top", "-nodecount=12"}, p.args...), bin, path)
		b, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			out = append(out, profileTop{p.name, fmt.Sprintf("go tool pprof failed: %v\n%s", err, b)})
			continue
		}
		out = append(out, profileTop{p.name, strings.TrimSpace(string(b))})
	}
	return out
}

// show prints a duration, "beyond the largest bucket" for the largest.
func show(d time.Duration) string {
	if d == time.Duration(math.MaxInt64) {
		return "> largest bucket"
	}
	return round(d).String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}
