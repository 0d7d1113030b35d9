package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// row is one scenario's figures.
type row struct {
	scenario   string
	cycles     int // workload steps played (each a kill cycle in the kill scenario)
	faults     map[string]int
	launched   int
	terminated int
	evicted    int
	lostPods   int
	violations []string
	goroutines []int
	notes      []string
	duration   time.Duration
}

// runSummary collects the rows of every scenario of the run.
type runSummary struct {
	mu   sync.Mutex
	rows []row
	// failures are the run's failed checks that are not violations of an invariant (a mutation the monitor did not
	// report as it should), printed last so the tail of a CI log names them.
	failures []string
	commit   string // the commit the run was built from (with "+dirty" for uncommitted changes), read at start
}

// readCommit notes the commit the run is built from, before anyone commits during a long run.
func (s *runSummary) readCommit() {
	s.commit = "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		s.commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "status", "--porcelain", "--", ".", "../../internal", "../../cmd", "../../api").Output(); err == nil && len(out) > 0 {
		s.commit += "+dirty"
	}
}

var summary = &runSummary{}

func (s *runSummary) add(r row) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rows {
		if s.rows[i].scenario == r.scenario {
			old := s.rows[i]
			if r.duration == 0 { // a note or violation only: keep the monitor's figures
				r.cycles, r.faults, r.launched, r.terminated, r.evicted, r.lostPods = old.cycles, old.faults, old.launched, old.terminated, old.evicted, old.lostPods
				r.goroutines, r.duration = old.goroutines, old.duration
			}
			r.notes = append(old.notes, r.notes...)
			r.violations = append(old.violations, r.violations...)
			s.rows[i] = r
			return
		}
	}
	s.rows = append(s.rows, r)
}

// note adds a figure to a scenario's row (created if the scenario has not recorded yet).
func (s *runSummary) note(scenario, note string) {
	s.add(row{scenario: scenario, notes: []string{note}})
}

// failure records a failed check of the harness itself (see runSummary.failures).
func (s *runSummary) failure(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, msg)
}

// violation adds a violation measured outside a monitor (across two runs) to a scenario's row.
func (s *runSummary) violation(scenario, v string) {
	s.add(row{scenario: scenario, violations: []string{v}})
}

func faultList(f map[string]int) string {
	var parts []string
	for k, v := range f {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func goroutineRange(g []int) string {
	if len(g) == 0 {
		return "—"
	}
	lo, hi := g[0], g[0]
	for _, n := range g {
		lo, hi = min(lo, n), max(hi, n)
	}
	return fmt.Sprintf("%d → %d (min %d, max %d, %d samples)", g[0], g[len(g)-1], lo, hi, len(g))
}

// table is the summary as a Markdown table followed by each scenario's measured figures and violations.
func (s *runSummary) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | duration | cycles | faults injected | instances launched | instances terminated | pods evicted | pods lost | violations |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	total := 0
	for _, r := range s.rows {
		total += len(r.violations)
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %d | %d | %d | %d |\n", r.scenario, r.duration.Round(time.Second),
			r.cycles, faultList(r.faults), r.launched, r.terminated, r.evicted, r.lostPods, len(r.violations))
	}
	fmt.Fprintf(&b, "\nTotal violations: %d\n", total)
	for _, r := range s.rows {
		fmt.Fprintf(&b, "\n**%s** — controller goroutines at settled points: %s\n", r.scenario, goroutineRange(r.goroutines))
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		for _, v := range r.violations {
			fmt.Fprintf(&b, "- VIOLATION %s\n", v)
		}
	}
	for _, r := range s.rows {
		for _, v := range r.violations {
			fmt.Fprintf(&b, "\nVIOLATION (%s): %s", r.scenario, v)
		}
	}
	for _, f := range s.failures {
		fmt.Fprintf(&b, "\nFAILED: %s", f)
	}
	return b.String()
}

// write replaces the generated part of a Markdown file (between the markers) with this run's summary; the prose
// around it is kept.
func (s *runSummary) write(path string) error {
	const begin, end = "<!-- chaos-summary:begin -->", "<!-- chaos-summary:end -->"
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i, j := strings.Index(string(old), begin), strings.Index(string(old), end)
	if i < 0 || j < i {
		return fmt.Errorf("%s lacks the markers %s and %s", path, begin, end)
	}
	gen := fmt.Sprintf("%s\nRun of %s UTC at commit %s: `-chaos.seed=%d -chaos.cycles=%d -chaos.failovers=%d -chaos.liveness=%t`.\n\n%s%s",
		begin, time.Now().UTC().Format("2006-01-02 15:04"), s.commit, *seed, *cycles, *failovers, *liveness, s.table(), "\n")
	return os.WriteFile(path, []byte(string(old[:i])+gen+string(old[j:])), 0o644)
}
