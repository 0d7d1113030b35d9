package operator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"
)

// captured is what a sink was given: the name the event refers to and its note.
type captured struct{ name, note string }

// captureSink keeps what it is given; fail, when set, answers each write by the name the event regards and the
// write's number for that name, from 1 (nil: written). Writers run concurrently, so the answers go by name.
type captureSink struct {
	mu     sync.Mutex
	events []captured
	tries  map[string]int
	fail   func(name string, try int) error
}

func (c *captureSink) write(_ context.Context, e *eventsv1.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tries == nil {
		c.tries = map[string]int{}
	}
	c.tries[e.Regarding.Name]++
	if c.fail != nil {
		if err := c.fail(e.Regarding.Name, c.tries[e.Regarding.Name]); err != nil {
			return err
		}
	}
	c.events = append(c.events, captured{name: e.Regarding.Name, note: e.Note})
	return nil
}

func (c *captureSink) got() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.events...)
}

// gate is a rate limiter that lets one event through per token the test hands it.
type gate struct{ tokens chan struct{} }

func (g gate) TryAccept() bool { return false }
func (g gate) Accept()         { <-g.tokens }
func (g gate) Stop()           {}
func (g gate) QPS() float32    { return 0 }
func (g gate) Wait(ctx context.Context) error {
	select {
	case <-g.tokens:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ flowcontrol.RateLimiter = gate{}

// startPaced runs r's hand-over until the test ends.
func startPaced(t *testing.T, r *PacedRecorder) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("paced recorder: %v", err)
		}
	})
}

// TestPacedRecorder: events wait in the queue, not in goroutines; each is handed over only when the limiter lets it
// (in any order: several writers share the limiter), with the reference and note as they were when it was recorded;
// past the queue's size events are dropped and counted.
func TestPacedRecorder(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	next := &captureSink{}
	g := gate{tokens: make(chan struct{})}
	r := NewPacedRecorder(next.write, scheme, "tailor", g, 3)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-0", Namespace: "default", UID: "u0"}}
	before := testutil.ToFloat64(eventsDropped.WithLabelValues("Nominated"))
	for i := range 4 {
		r.Eventf(pod, nil, corev1.EventTypeNormal, "Nominated", "Provisioning", "pod should schedule on nodeclaim %s (%d%%)", "default-a", i)
		pod.Name = fmt.Sprintf("app-%d", i+1) // the caller reuses its object
	}
	if got := testutil.ToFloat64(eventsDropped.WithLabelValues("Nominated")) - before; got != 1 {
		t.Errorf("%v events counted as dropped, want 1 (4 recorded, room for 3)", got)
	}

	startPaced(t, r)
	time.Sleep(50 * time.Millisecond)
	if got := next.got(); len(got) != 0 {
		t.Fatalf("%d events handed over before the limiter let any through", len(got))
	}
	var want []captured
	for i := range 3 {
		g.tokens <- struct{}{}
		want = append(want, captured{name: fmt.Sprintf("app-%d", i), note: fmt.Sprintf("pod should schedule on nodeclaim default-a (%d%%)", i)})
		deadline := time.Now().Add(5 * time.Second)
		for len(next.got()) < i+1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // no second event for one token
		if got := next.got(); len(got) != i+1 {
			t.Fatalf("after %d tokens handed over %d events (%+v)", i+1, len(got), got)
		}
	}
	got := next.got()
	slices.SortFunc(got, func(x, y captured) int { return strings.Compare(x.name, y.name) })
	if !slices.Equal(got, want) {
		t.Errorf("handed over %+v, want %+v", got, want)
	}
}

// TestPacedRecorderDedupes: the same event on the same object (reason and note alike) within the dedupe window is
// recorded once; another note, another object or the window's end records it again. A provisioning pass reports
// every pod it cannot place, and a 10,000-pod batch held back by a limit repeated 10,000 events every pass: client-go
// turns repeats into series whose updates it sends holding its lock, and 33,881 goroutines waited for it.
func TestPacedRecorderDedupes(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	next := &captureSink{}
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	r := NewPacedRecorder(next.write, scheme, "tailor", flowcontrol.NewFakeAlwaysRateLimiter(), 100)
	r.Dedupe(clk, 5*time.Minute)
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", UID: "ua"}}
	b := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", UID: "ub"}}
	record := func(p *corev1.Pod, why string) {
		r.Eventf(p, nil, corev1.EventTypeWarning, "FailedScheduling", "Provisioning", "Tailor cannot launch a node for this pod: %s", why)
	}
	record(a, "limit")
	record(a, "limit")     // a repeat: dropped
	record(b, "limit")     // another pod
	record(a, "no offers") // another note
	clk.Step(4 * time.Minute)
	record(a, "limit") // still within the window
	clk.Step(time.Minute + time.Second)
	record(a, "limit") // the window has passed

	startPaced(t, r)
	deadline := time.Now().Add(5 * time.Second)
	for len(next.got()) < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more should come
	var got []string
	for _, e := range next.got() {
		got = append(got, e.name+": "+e.note)
	}
	want := []string{
		"a: Tailor cannot launch a node for this pod: limit",
		"b: Tailor cannot launch a node for this pod: limit",
		"a: Tailor cannot launch a node for this pod: no offers",
		"a: Tailor cannot launch a node for this pod: limit",
	}
	// Several writers share the pace: the order of writing is not the order of recording.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("handed over %q, want %q", got, want)
	}
}

// TestPacedRecorderWriteFailures: a write the API server did not answer is tried once more; one it refused (or two
// unanswered) is dropped and counted, and the events after it are written.
func TestPacedRecorderWriteFailures(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	refused := apierrors.NewForbidden(schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "x", errors.New("namespace is terminating"))
	unanswered := errors.New("read tcp 127.0.0.1:1234: connection reset by peer")
	next := &captureSink{fail: func(name string, try int) error {
		switch {
		case name == "a" && try == 1: // unanswered, then written
			return unanswered
		case name == "b":
			return refused
		case name == "c": // unanswered, twice
			return unanswered
		}
		return nil
	}}
	r := NewPacedRecorder(next.write, scheme, "tailor", flowcontrol.NewFakeAlwaysRateLimiter(), 10)
	before := testutil.ToFloat64(eventsDropped.WithLabelValues("WriteFailures"))
	for _, name := range []string{"a", "b", "c", "d"} {
		r.Eventf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}, nil, corev1.EventTypeNormal, "WriteFailures", "Test", "about %s", name)
	}
	startPaced(t, r)
	dropped := func() float64 { return testutil.ToFloat64(eventsDropped.WithLabelValues("WriteFailures")) - before }
	deadline := time.Now().Add(5 * time.Second)
	for (len(next.got()) < 2 || dropped() < 2) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // nothing more should come
	got := next.got()
	slices.SortFunc(got, func(x, y captured) int { return strings.Compare(x.name, y.name) })
	if want := []captured{{"a", "about a"}, {"d", "about d"}}; !slices.Equal(got, want) {
		t.Errorf("written %+v, want %+v", got, want)
	}
	if got := dropped(); got != 2 {
		t.Errorf("%v events counted as dropped, want 2 (refused, and unanswered twice)", got)
	}
	next.mu.Lock()
	defer next.mu.Unlock()
	if want := map[string]int{"a": 2, "b": 1, "c": 2, "d": 1}; !maps.Equal(next.tries, want) {
		t.Errorf("writes tried by event: %v, want %v", next.tries, want)
	}
}

// TestPacedRecorderWritesConcurrently: each write waits for the API server's answer (tens of milliseconds under a
// scale-up's load), so one writer at a time sent about 25 events a second, far below the pace, and a 5,000-pod batch's
// events were still going out minutes later. Several writers wait at once.
func TestPacedRecorderWritesConcurrently(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	sink := func(ctx context.Context, _ *eventsv1.Event) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-ctx.Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	}
	r := NewPacedRecorder(sink, scheme, "tailor", flowcontrol.NewFakeAlwaysRateLimiter(), 100)
	for i := range 2 * eventWriters {
		r.Eventf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: "default"}}, nil, corev1.EventTypeNormal, "Test", "Test", "n")
	}
	startPaced(t, r)
	defer close(release)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := most
		mu.Unlock()
		if n == eventWriters {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("at most %d writes waited for the API server at once, want %d", most, eventWriters)
}
