// Command scale measures Tailor's controller at cluster sizes stepping up (nodes/pods) against the real local control
// plane, KWOK and ec2sim, within a time budget, and writes the table, the profiles' top entries and a curve into
// docs/ (`make scale`). Each step holds the NodePool at a CPU limit of 0, scales a Deployment of small pause pods up
// until every new pod is Pending and unschedulable, then lifts the limit: the controller's next batch plans all of
// them in one pass, and the step measures that decision, the launches, the disruption passes over every node, and
// the controller's memory, CPU and API calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// size is one step: the nodes and pods the cluster holds at its end.
type size struct{ nodes, pods int }

func (s size) String() string { return fmt.Sprintf("%d/%d", s.nodes, s.pods) }

// parseSizes reads "500/5000,1000/10000": nodes/pods per step, growing.
func parseSizes(v string) ([]size, error) {
	var sizes []size
	for _, f := range strings.Split(v, ",") {
		n, p, ok := strings.Cut(strings.TrimSpace(f), "/")
		nodes, err1 := strconv.Atoi(n)
		pods, err2 := strconv.Atoi(p)
		if !ok || err1 != nil || err2 != nil || nodes <= 0 || pods != podsPerNode*nodes {
			return nil, fmt.Errorf("-sizes %q: want nodes/pods pairs with %d pods a node, such as 500/5000", f, podsPerNode)
		}
		if len(sizes) > 0 && nodes <= sizes[len(sizes)-1].nodes {
			return nil, fmt.Errorf("-sizes %q: steps must grow", v)
		}
		sizes = append(sizes, size{nodes, pods})
	}
	if len(sizes) == 0 {
		return nil, errors.New("-sizes is empty")
	}
	return sizes, nil
}

type config struct {
	sizes    []size
	budget   time.Duration
	doc      string
	svg      string
	profiles string
}

func main() {
	var cfg config
	sizes := flag.String("sizes", "500/5000,1000/10000,2000/20000,3000/30000,5000/50000", "steps as nodes/pods, growing; 10 pods a node")
	flag.DurationVar(&cfg.budget, "budget", 30*time.Minute, "stop growing when the next step would not finish within this time from the start")
	flag.StringVar(&cfg.doc, "doc", "docs/performance.md", "file whose \"Controller at scale\" section (between markers) is replaced; empty writes none")
	flag.StringVar(&cfg.svg, "svg", "docs/scale.svg", "curve of pass times and memory against pods; empty writes none")
	flag.StringVar(&cfg.profiles, "profiles", "", "directory keeping the heap and CPU profiles of the largest step (default: a temporary one)")
	flag.Parse()
	var err error
	if cfg.sizes, err = parseSizes(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard()) // the driver's clients log nothing worth reading; the controller logs to its file
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

var begin = time.Now()

func say(format string, args ...any) {
	fmt.Printf("[%7.1fs] %s\n", time.Since(begin).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, cfg config) error {
	if cfg.profiles == "" {
		dir, err := os.MkdirTemp("", "tailor-scale-profiles-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.profiles = dir
	}
	if err := os.MkdirAll(cfg.profiles, 0o755); err != nil {
		return err
	}
	h, err := startHarness(ctx)
	if err != nil {
		return err
	}
	defer h.stop()
	var results []stepResult
	var stopped string
	for i, sz := range cfg.sizes {
		if i > 0 {
			prev := results[len(results)-1]
			// Pods cost the API server, the scheduler and KWOK at least linearly; assume a step costs in proportion
			// to its new pods with a margin, and do not start one that would overrun the budget.
			grow := float64(sz.pods-prev.size.pods) / float64(prev.newPods)
			estimate := time.Duration(float64(prev.wall) * grow * 1.3)
			if left := cfg.budget - time.Since(begin); estimate > left {
				stopped = fmt.Sprintf("stopped before %s: the step would take about %s (the last, %d new pods, took %s) and %s of the %s budget remained",
					sz, estimate.Round(time.Second), prev.newPods, prev.wall.Round(time.Second), left.Round(time.Second), cfg.budget)
				say("%s", stopped)
				break
			}
		}
		r, err := h.step(ctx, sz, stepOptions{profileDir: cfg.profiles, profile: true, timeout: cfg.budget - time.Since(begin)})
		if err != nil {
			if len(results) == 0 {
				return err
			}
			stopped = fmt.Sprintf("step %s failed: %v", sz, err)
			say("%s", stopped)
			break
		}
		results = append(results, r)
		say("step %s done in %s: RSS %.0f MiB (peak %.0f), decision %s over %d pods, disruption pass max %s",
			sz, r.wall.Round(time.Second), mib(r.controller.rss), mib(r.controller.hwm), r.decision, r.decisionPods, r.disruptMax)
	}
	rep := report{results: results, stopped: stopped, wall: time.Since(begin), env: h.describe()}
	rep.profiles = topProfiles(ctx, h.tailorBin, cfg.profiles)
	if cfg.svg != "" {
		if err := writeCurve(cfg.svg, results); err != nil {
			return err
		}
		say("wrote %s", cfg.svg)
	}
	if cfg.doc != "" {
		if err := rep.writeSection(cfg.doc, filepath.Base(cfg.svg)); err != nil {
			return err
		}
		say("wrote the \"Controller at scale\" section of %s", cfg.doc)
	}
	fmt.Println(rep.table())
	return nil
}
