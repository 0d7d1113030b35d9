package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/controller/nodeclaim"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// Deadlines of the invariants on instances and NodeClaims. The garbage collector runs GCInterval after the leader
// starts and every GCInterval after, and takes instances (and claims) older than GCGracePeriod: an orphan must be
// gone GCInterval after both its grace and the leader's first pass; slack covers termination and injected faults.
const (
	gcSlack = 45 * time.Second
	// livenessSlack is added to the NodeClaim liveness timeout (RegistrationTTL) before a claim whose node never
	// registered counts as stuck.
	livenessSlack = time.Minute
)

// gcDeadline is when garbage collection must have dealt with something that became collectable at since, given
// that the leader has been running since leaderSince.
func gcDeadline(since, leaderSince time.Time) time.Time {
	first := since.Add(nodeclaim.GCGracePeriod)
	if l := leaderSince.Add(nodeclaim.GCInterval); l.After(first) {
		first = l
	}
	return first.Add(nodeclaim.GCInterval + gcSlack)
}

// monitor checks the invariants continuously while a scenario runs: it polls ec2sim's instances and the NodeClaims
// every second and watches the workload's pods on every change.
type monitor struct {
	t     *testing.T
	h     *harness
	name  string
	start time.Time

	// mutation is the harness mutation this monitor runs under (mutate_test.go): its violations are expected, so
	// they are logged and kept for the mutation test to compare, not failures, and the run's summary leaves them out.
	mutation string
	stopOnce sync.Once
	stopFn   func()

	mu          sync.Mutex
	noSummary   bool      // the monitor checks a scenario's setup or teardown only: no row in the summary
	leaderSince time.Time // when the acting controller (re)started; zero while none runs
	simDown     bool      // ec2sim is being restarted: skip the instance checks
	violations  []string
	seen        map[string]bool // violation keys already reported
	launched    map[string]ec2sim.AdminInstance
	terminated  map[string]bool
	claimNames  map[string]string // claim name → instance that carried it (a second instance is a double launch)
	orphans     map[string]bool   // instances without a NodeClaim right now
	lostClaims  map[string]bool   // NodeClaims without an instance right now
	pods        map[string]*corev1.Pod
	evicted     int
	lost        int
	minReady    map[string]int // fewest Ready pods of each app with a PDB, once it reached minAvailable
	reached     map[string]bool
	dipping     map[string]bool // apps below minAvailable right now (one violation per dip)
	pdbOff      bool            // the workload is being scaled below its budgets on purpose (teardown)
	steps       int             // workload steps that settled
	goroutines  []sample
	faults      map[string]int
	notes       []string
}

// sample is the controller's goroutine count at a settled point, and which process it came from (its pid): the
// leak check compares a process with itself only.
type sample struct {
	at   string
	proc int
	n    int
}

// startMonitor starts the checks; they stop when the test ends. The caller says when the controller starts and
// stops (controllerUp, controllerDown).
func (h *harness) startMonitor(name, ns string) *monitor {
	return h.startMonitorFor(name, ns, "")
}

// startMonitorFor is startMonitor under a harness mutation (mutate_test.go; "" for none): the violations are
// expected, logged and kept, and the scenario stays out of the run's summary.
func (h *harness) startMonitorFor(name, ns, mutation string) *monitor {
	t := h.t
	m := &monitor{
		t: t, h: h, name: name, start: time.Now(), mutation: mutation, leaderSince: time.Now(), seen: map[string]bool{},
		launched: map[string]ec2sim.AdminInstance{}, terminated: map[string]bool{}, claimNames: map[string]string{},
		orphans: map[string]bool{}, lostClaims: map[string]bool{}, pods: map[string]*corev1.Pod{},
		minReady: map[string]int{}, reached: map[string]bool{}, dipping: map[string]bool{}, faults: map[string]int{},
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			m.poll(ctx)
			return false, nil
		})
	})
	if ns != "" {
		factory := informers.NewSharedInformerFactoryWithOptions(h.cs, 0, informers.WithNamespace(ns))
		inf := factory.Core().V1().Pods().Informer()
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { m.podChanged(obj, false) },
			UpdateFunc: func(_, obj any) { m.podChanged(obj, false) },
			DeleteFunc: func(obj any) { m.podChanged(obj, true) },
		})
		if err != nil {
			t.Fatal(err)
		}
		factory.Start(ctx.Done())
		factory.WaitForCacheSync(ctx.Done())
		t.Cleanup(factory.Shutdown)
	}
	m.stopFn = func() {
		cancel()
		wg.Wait()
		m.mu.Lock()
		skip := m.mutation != "" || m.noSummary
		m.mu.Unlock()
		if !skip {
			m.record()
		}
	}
	t.Cleanup(m.stop)
	return m
}

// quiet keeps the monitor out of the run's summary: it checks a scenario's setup or teardown.
func (m *monitor) quiet() *monitor {
	m.mu.Lock()
	m.noSummary = true
	m.mu.Unlock()
	return m
}

// stop ends the checks (at the latest when the test ends) and adds the scenario to the run's summary.
func (m *monitor) stop() { m.stopOnce.Do(m.stopFn) }

// kinds are the kinds of the violations recorded so far, sorted, each once.
func (m *monitor) kinds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, v := range m.violations {
		kind, _, _ := strings.Cut(v, ": ")
		if !slices.Contains(out, kind) {
			out = append(out, kind)
		}
	}
	sort.Strings(out)
	return out
}

// violationLines are the violations recorded so far.
func (m *monitor) violationLines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.violations)
}

// controllerUp notes that the acting controller (re)started now; controllerDown that none is running.
func (m *monitor) controllerUp() {
	m.mu.Lock()
	m.leaderSince = time.Now()
	m.mu.Unlock()
}

func (m *monitor) controllerDown() {
	m.mu.Lock()
	m.leaderSince = time.Time{}
	m.mu.Unlock()
}

// stopPDBChecks ends the PodDisruptionBudget checks: the workload is about to be scaled to zero.
func (m *monitor) stopPDBChecks() {
	m.mu.Lock()
	m.pdbOff = true
	m.mu.Unlock()
}

func (m *monitor) setSimDown(down bool) {
	m.mu.Lock()
	m.simDown = down
	m.mu.Unlock()
}

// fault counts one injected fault of a kind.
func (m *monitor) fault(kind string, n int) {
	m.mu.Lock()
	m.faults[kind] += n
	m.mu.Unlock()
}

// note records a measured figure for the report.
func (m *monitor) note(format string, args ...any) {
	m.t.Logf(format, args...)
	m.mu.Lock()
	m.notes = append(m.notes, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

// violate records a broken invariant of a kind; the test fails.
func (m *monitor) violate(kind, format string, args ...any) {
	m.violateOnce("", kind, format, args...)
}

func (m *monitor) violateOnce(key, kind, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == "" {
		key = fmt.Sprintf("%s:%d", kind, len(m.violations))
	}
	m.violateOnceLocked(key, kind, format, args...)
}

// poll compares ec2sim's instances with the NodeClaims once.
func (m *monitor) poll(ctx context.Context) {
	m.mu.Lock()
	simDown := m.simDown
	m.mu.Unlock()
	if simDown {
		return
	}
	instances, err := m.h.instances(ctx)
	if err != nil {
		return
	}
	claims := &apiv1.NodeClaimList{}
	if err := m.h.kube.List(ctx, claims); err != nil {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	byProviderID := map[string]*apiv1.NodeClaim{}
	names := map[string]bool{}
	for i := range claims.Items {
		nc := &claims.Items[i]
		names[nc.Name] = true
		if nc.Status.ProviderID != "" {
			byProviderID[nc.Status.ProviderID] = nc
		}
	}
	instanceByProviderID := map[string]ec2sim.AdminInstance{}
	clear(m.orphans)
	for _, in := range instances {
		instanceByProviderID[in.ProviderID] = in
		if _, ok := m.launched[in.ID]; !ok {
			m.launched[in.ID] = in
		}
		if !live(in) {
			m.terminated[in.ID] = true
			continue
		}
		claim := in.Tags[apiv1.Group+"/nodeclaim"]
		if prev, ok := m.claimNames[claim]; claim != "" && ok && prev != in.ID {
			m.violateOnceLocked("double:"+claim, "double-launch", "nodeclaim %s has two instances: %s and %s", claim, prev, in.ID)
		}
		if claim != "" {
			m.claimNames[claim] = in.ID
		}
		if byProviderID[in.ProviderID] != nil || names[claim] {
			continue
		}
		m.orphans[in.ID] = true
		if !m.leaderSince.IsZero() && now.After(gcDeadline(in.LaunchTime, m.leaderSince)) {
			m.violateOnceLocked("orphan:"+in.ID, "leak", "instance %s (%s, launched %s, nodeclaim tag %q) has no NodeClaim %s after launch; garbage collection should have terminated it",
				in.ID, in.InstanceType, in.LaunchTime.Format(time.TimeOnly), claim, now.Sub(in.LaunchTime).Round(time.Second))
		}
	}
	clear(m.lostClaims)
	for pid, nc := range byProviderID {
		in, ok := instanceByProviderID[pid]
		if ok && live(in) || !nc.DeletionTimestamp.IsZero() {
			continue
		}
		m.lostClaims[nc.Name] = true
		launched := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		since := nc.CreationTimestamp.Time
		if launched != nil {
			since = launched.LastTransitionTime.Time
		}
		if !m.leaderSince.IsZero() && now.After(gcDeadline(since, m.leaderSince)) {
			m.violateOnceLocked("lostclaim:"+nc.Name, "lost-claim", "nodeclaim %s has no running instance (%s is %s) %s after launch",
				nc.Name, pid, in.State, now.Sub(since).Round(time.Second))
		}
	}
	for i := range claims.Items {
		nc := &claims.Items[i]
		launched := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		if launched == nil || launched.Status != "True" || nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) || !nc.DeletionTimestamp.IsZero() {
			continue
		}
		if now.Sub(launched.LastTransitionTime.Time) > nodeclaim.RegistrationTTL+livenessSlack && !m.leaderSince.IsZero() {
			m.violateOnceLocked("stuck:"+nc.Name, "liveness", "nodeclaim %s launched %s ago and never registered, past the %s liveness timeout",
				nc.Name, now.Sub(launched.LastTransitionTime.Time).Round(time.Second), nodeclaim.RegistrationTTL)
		}
	}
}

func (m *monitor) violateOnceLocked(key, kind, format string, args ...any) {
	if m.seen[key] {
		return
	}
	m.seen[key] = true
	msg := kind + ": " + fmt.Sprintf(format, args...)
	m.violations = append(m.violations, msg)
	if m.mutation != "" {
		m.t.Logf("invariant violated (expected under mutation %s): %s", m.mutation, msg)
		return
	}
	m.t.Errorf("invariant violated: %s", msg)
	if m.noSummary {
		summary.failure(fmt.Sprintf("monitor %q (not in the table): invariant violated: %s", m.name, msg))
	}
}

// podChanged keeps the workload's pods and checks every PodDisruptionBudget on every change: the Ready,
// non-terminating pods of an app that has reached its minAvailable must never fall below it. A deleted pod is
// classified by its DisruptionTarget condition: evicted through the Eviction API (the workload tolerates it), or
// deleted because its node vanished (a lost pod: a violation).
func (m *monitor) podChanged(obj any, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key := p.Name
	if deleted {
		delete(m.pods, key)
		switch disruptionReason(p) {
		case "EvictionByEvictionAPI":
			m.evicted++
		case "DeletionByPodGC", "DeletionByTaintManager":
			if !m.seen["lostpod:"+key] {
				m.lost++
			}
			m.violateOnceLocked("lostpod:"+key, "lost-pod", "pod %s on node %s deleted by %s: its node went away without a drain",
				p.Name, p.Spec.NodeName, disruptionReason(p))
		}
	} else {
		prev, had := m.pods[key]
		m.pods[key] = p
		// Reported when seen happening: a pod already failed when the monitor started is an earlier scenario's.
		if had && prev.Status.Phase != corev1.PodFailed && p.Status.Phase == corev1.PodFailed && p.Status.Reason == ec2sim.PodReclaimedReason {
			if !m.seen["lostpod:"+key] {
				m.lost++
			}
			m.violateOnceLocked("lostpod:"+key, "lost-pod", "pod %s was still running on node %s when its instance was reclaimed (not drained first): %s",
				p.Name, p.Spec.NodeName, p.Status.Message)
		}
	}
	app := p.Labels["app"]
	want := int(minAvailable(app))
	if want == 0 {
		return
	}
	ready := 0
	for _, q := range m.pods {
		if q.Labels["app"] == app && q.DeletionTimestamp.IsZero() && podReady(q) {
			ready++
		}
	}
	if ready >= want {
		m.reached[app] = true
	}
	if cur, ok := m.minReady[app]; m.reached[app] && (!ok || ready < cur) {
		m.minReady[app] = ready
	}
	if ready >= want {
		m.dipping[app] = false
	}
	if m.reached[app] && ready < want && !m.dipping[app] && !m.pdbOff {
		m.dipping[app] = true
		m.violateOnceLocked(fmt.Sprintf("pdb:%s:%d", app, len(m.violations)), "pdb",
			"app %s has %d Ready pods, below its PodDisruptionBudget minAvailable %d (after pod %s changed: node %s, phase %s, deleted %t, reason %q)",
			app, ready, want, p.Name, p.Spec.NodeName, p.Status.Phase, deleted, disruptionReason(p))
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func disruptionReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return c.Reason
		}
	}
	return ""
}

// sampleGoroutines records go_goroutines of the controller process proc (its pid) serving metrics at addr.
func (m *monitor) sampleGoroutines(at string, proc int, addr string) int {
	m.t.Helper()
	n, err := goroutines(m.t.Context(), addr)
	if err != nil {
		m.t.Fatal(err)
	}
	m.mu.Lock()
	m.goroutines = append(m.goroutines, sample{at: at, proc: proc, n: n})
	m.mu.Unlock()
	return n
}

// checkGoroutines compares each controller process with itself: it fails when a process's last sample exceeds
// its first by more than a quarter plus 30. A leak grows with every cycle, steady state does not (informer and
// worker goroutines are fixed; connections come and go). Samples of different processes are never compared: a
// restarted process starts from scratch, so a leak in the one before it would not show.
func (m *monitor) checkGoroutines() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []string
	first := map[int]sample{}
	last := map[int]sample{}
	count := map[int]int{}
	var procs []int
	for _, s := range m.goroutines {
		all = append(all, fmt.Sprintf("%s:%d", s.at, s.n))
		if _, ok := first[s.proc]; !ok {
			first[s.proc] = s
			procs = append(procs, s.proc)
		}
		last[s.proc] = s
		count[s.proc]++
	}
	m.t.Logf("controller goroutines: %s", strings.Join(all, " "))
	compared := 0
	for _, p := range procs {
		f, l := first[p], last[p]
		if count[p] < 2 {
			continue
		}
		compared++
		if limit := f.n + f.n/4 + 30; l.n > limit {
			m.violateOnceLocked(fmt.Sprintf("goroutines:%d", p), "goroutines", "controller process %d: goroutines grew from %d (%s) to %d (%s), above %d",
				p, f.n, f.at, l.n, l.at, limit)
		}
	}
	if compared == 0 && len(m.goroutines) > 0 {
		m.t.Errorf("goroutine check: no controller process was sampled twice (%s); nothing was compared", strings.Join(all, " "))
	}
}

// settleInstances waits, at the end of a scenario with the controller running, until no instance lacks a NodeClaim
// and no NodeClaim lacks an instance, or until garbage collection's deadline for each has passed (the poll then
// records the violation).
func (m *monitor) settleInstances() {
	m.t.Helper()
	deadline := gcDeadline(time.Now(), time.Now()).Add(5 * time.Second)
	_ = wait.PollUntilContextTimeout(m.t.Context(), time.Second, time.Until(deadline), true, func(ctx context.Context) (bool, error) {
		m.poll(ctx)
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.orphans) > 0 || len(m.lostClaims) > 0 {
			return false, nil
		}
		return true, nil
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.orphans) > 0 || len(m.lostClaims) > 0 {
		m.t.Logf("still present at the end: orphan instances %v, claims without instance %v", keys(m.orphans), keys(m.lostClaims))
	}
}

func keys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stepDone counts a settled workload step.
func (m *monitor) stepDone() {
	m.mu.Lock()
	m.steps++
	m.mu.Unlock()
}

// launchedCount is how many instances ec2sim launched since the monitor started.
func (m *monitor) launchedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.launched)
}

// record adds the scenario's figures to the run's summary.
func (m *monitor) record() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var g []int
	for _, s := range m.goroutines {
		g = append(g, s.n)
	}
	summary.add(row{
		scenario: m.name, cycles: m.steps, faults: maps(m.faults), launched: len(m.launched), terminated: len(m.terminated),
		evicted: m.evicted, lostPods: m.lost, violations: slices.Clone(m.violations), goroutines: g,
		notes: slices.Clone(m.notes), duration: time.Since(m.start),
	})
}

func maps(in map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range in {
		out[k] = v
	}
	return out
}

// TestCheckGoroutinesComparesAProcessWithItself: the leak check compares each process's last sample with its own
// first, never one process with another (a restarted process starts from scratch: comparing across restarts both
// hides a leak and invents one).
func TestCheckGoroutinesComparesAProcessWithItself(t *testing.T) {
	tests := []struct {
		name    string
		samples []sample
		want    []string
	}{
		{
			name:    "a bigger process after a restart is not a leak",
			samples: []sample{{at: "a1", proc: 1, n: 200}, {at: "a2", proc: 1, n: 210}, {at: "b1", proc: 2, n: 400}},
		},
		{
			name:    "a process growing past a quarter plus 30 is",
			samples: []sample{{at: "a1", proc: 1, n: 200}, {at: "b1", proc: 2, n: 100}, {at: "a2", proc: 1, n: 281}},
			want:    []string{"goroutines: controller process 1: goroutines grew from 200 (a1) to 281 (a2), above 280"},
		},
		{
			name:    "a leak is not hidden by a smaller process sampled last",
			samples: []sample{{at: "a1", proc: 1, n: 200}, {at: "a2", proc: 1, n: 300}, {at: "b1", proc: 2, n: 150}},
			want:    []string{"goroutines: controller process 1: goroutines grew from 200 (a1) to 300 (a2), above 280"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &monitor{t: t, mutation: "goroutines", seen: map[string]bool{}, goroutines: tt.samples}
			m.checkGoroutines()
			if got := m.violationLines(); !slices.Equal(got, tt.want) {
				t.Errorf("violations %q, want %q", got, tt.want)
			}
		})
	}
}
