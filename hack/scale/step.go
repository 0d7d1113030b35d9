package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// stepResult is what one step measured.
type stepResult struct {
	size    size
	newPods int
	nodes   int // Nodes in the cluster at the end
	wall    time.Duration
	// pendingAfter: from the scale-up to every new pod Pending and unschedulable (the API server, the
	// ReplicaSet controller and the scheduler; Tailor held back).
	pendingAfter time.Duration
	// readyAfter: from lifting the limit to every pod Ready.
	readyAfter time.Duration
	// decision is the largest batch's time from its close to its plan (decisionPods pods, decisionClaims claims);
	// pass adds creating its NodeClaims.
	decision, pass               time.Duration
	decisionPods, decisionClaims int
	provisioning                 histDelta // every provisioning decision in the step
	provisionCalls               map[string]float64
	disrupt                      histDelta // disruption passes over every node, once all are up
	disruptCalls                 map[string]float64
	disruptMax                   time.Duration
	controller                   procStats
	controllerCPU                float64 // CPU seconds the controller spent in the step
	others                       map[string]procStats
	load                         string
}

type stepOptions struct {
	profileDir string
	profile    bool
	timeout    time.Duration
}

// step grows the cluster to sz and measures it.
func (h *harness) step(ctx context.Context, sz size, o stepOptions) (stepResult, error) {
	start := time.Now()
	r := stepResult{size: sz}
	cpu0, err := readProc(h.stack.Controller.Pid())
	if err != nil {
		return r, err
	}
	if err := h.pend(ctx, &r, o.timeout); err != nil {
		return r, err
	}
	r.pendingAfter = time.Since(start)
	say("step %s: %d pods unschedulable after %s; lifting the limit", sz, r.newPods, r.pendingAfter.Round(time.Second))
	if err := h.provision(ctx, &r, o, o.timeout-time.Since(start)); err != nil {
		return r, err
	}
	if err := h.disruptionPasses(ctx, &r, o); err != nil {
		return r, err
	}
	if o.profile {
		if err := fetch(ctx, h.pprofURL+"/heap", filepath.Join(o.profileDir, "heap.pprof")); err != nil {
			say("heap profile: %v", err)
		}
	}
	if err := h.sample(ctx, &r); err != nil {
		return r, err
	}
	r.controllerCPU = r.controller.cpu - cpu0.cpu
	r.wall = time.Since(start)
	return r, nil
}

// pend holds launches back and scales the workload to the step's size, returning once every new pod is
// unschedulable.
func (h *harness) pend(ctx context.Context, r *stepResult, timeout time.Duration) error {
	deployment, err := h.cs.AppsV1().Deployments(namespace).Get(ctx, workload, metav1.GetOptions{})
	if err != nil {
		return err
	}
	r.newPods = r.size.pods - int(*deployment.Spec.Replicas)
	say("step %s: holding launches (NodePool cpu limit 0) and scaling %s to %d replicas (%d new pods)", r.size, workload, r.size.pods, r.newPods)
	if err := h.setLimit(ctx, "0"); err != nil {
		return err
	}
	if err := h.scale(ctx, r.size.pods); err != nil {
		return err
	}
	// A few new pods may be bound to room the last step left (a node the kube-scheduler filled other than planned);
	// the batch plans the rest, so wait for all the pods and for every unbound one to be unschedulable.
	scaled := r.newPods
	err = waitFor(ctx, "every new pod bound or unschedulable", 2*time.Second, timeout, func(ctx context.Context) (bool, error) {
		c, err := h.pending(ctx)
		r.newPods = c.unschedulable
		return err == nil && c.pods >= r.size.pods && c.unbound > 0 && c.unschedulable == c.unbound, err
	})
	if err == nil && r.newPods != scaled {
		say("step %s: %d of the %d new pods were bound to room left by the last step", r.size, scaled-r.newPods, scaled)
	}
	return err
}

// provision lifts the limit and waits for every pod to be Ready, measuring the batches, the API calls and (when
// asked) a CPU profile of the first minute: the batch that plans them closes within the provisioner's 30-second
// poll (a NodePool change does not open one).
func (h *harness) provision(ctx context.Context, r *stepResult, o stepOptions, timeout time.Duration) error {
	logOffset := fileSize(h.stack.Controller.LogPath())
	m1, err := testenv.Scrape(ctx, h.metricsURL)
	if err != nil {
		return err
	}
	profiled := h.profileCPU(ctx, o, 60, "cpu.pprof")
	lifted := time.Now()
	if err := h.setLimit(ctx, ""); err != nil {
		return err
	}
	if err := waitFor(ctx, "every pod Ready", 2*time.Second, timeout, func(ctx context.Context) (bool, error) {
		d, err := h.cs.AppsV1().Deployments(namespace).Get(ctx, workload, metav1.GetOptions{})
		return err == nil && int(d.Status.ReadyReplicas) >= r.size.pods, err
	}); err != nil {
		return err
	}
	r.readyAfter = time.Since(lifted)
	m2, err := testenv.Scrape(ctx, h.metricsURL)
	if err != nil {
		return err
	}
	r.provisioning = histogram(m1, m2, "tailor_provisioning_decision_duration_seconds")
	r.provisionCalls = requests(m1, m2)
	r.pass = seconds(histogram(m1, m2, "tailor_provisioning_pass_duration_seconds").max)
	pass, err := largestPass(h.stack.Controller.LogPath(), logOffset)
	if err != nil {
		return err
	}
	r.decisionPods, r.decisionClaims = pass.Pods, pass.NodeClaims
	r.decision, _ = time.ParseDuration(pass.Decision)
	say("step %s: every pod Ready %s after the limit was lifted; largest batch %d pods → %d nodeclaims, decision %s",
		r.size, r.readyAfter.Round(time.Second), r.decisionPods, r.decisionClaims, r.decision)
	if err := <-profiled; err != nil {
		say("CPU profile: %v", err)
	}
	return nil
}

// profileCPU takes a CPU profile of the controller over the next seconds into file in the profile directory, when
// the step profiles; the channel gets the outcome.
func (h *harness) profileCPU(ctx context.Context, o stepOptions, seconds int, file string) <-chan error {
	done := make(chan error, 1)
	if !o.profile {
		done <- nil
		return done
	}
	go func() {
		done <- fetch(ctx, fmt.Sprintf("%s/profile?seconds=%d", h.pprofURL, seconds), filepath.Join(o.profileDir, file))
	}()
	return done
}

// disruptionPasses waits for three disruption passes over every node (all full, so consolidation considers each
// candidate and finds no move; the room sums rule most out without a simulation) and measures them.
func (h *harness) disruptionPasses(ctx context.Context, r *stepResult, o stepOptions) error {
	m3, err := testenv.Scrape(ctx, h.metricsURL)
	if err != nil {
		return err
	}
	profiled := h.profileCPU(ctx, o, 20, "cpu-disruption.pprof")
	defer func() {
		if err := <-profiled; err != nil {
			say("CPU profile of the disruption passes: %v", err)
		}
	}()
	var m4 metrics
	if err := waitFor(ctx, "three disruption passes", time.Second, 5*time.Minute, func(ctx context.Context) (bool, error) {
		m4, err = testenv.Scrape(ctx, h.metricsURL)
		return err == nil && histogram(m3, m4, "tailor_disruption_pass_duration_seconds").count >= 3, err
	}); err != nil {
		return err
	}
	r.disrupt = histogram(m3, m4, "tailor_disruption_pass_duration_seconds")
	r.disruptMax = seconds(r.disrupt.max)
	r.disruptCalls = requests(m3, m4)
	return nil
}

// sample reads the processes' memory and CPU, the node count and the load average.
func (h *harness) sample(ctx context.Context, r *stepResult) error {
	var err error
	if r.controller, err = readProc(h.stack.Controller.Pid()); err != nil {
		return err
	}
	r.others = map[string]procStats{}
	for name, pid := range children() {
		if s, err := readProc(pid); err == nil {
			r.others[name] = s
		}
	}
	nodes := &corev1.NodeList{}
	if err := h.kube.List(ctx, nodes); err != nil {
		return err
	}
	r.nodes = len(nodes.Items)
	r.load = loadAverage()
	return nil
}

// podCounts are the workload's pods: all of them, those not bound, and those of them kube-scheduler marked
// unschedulable.
type podCounts struct{ pods, unbound, unschedulable int }

func (h *harness) pending(ctx context.Context) (podCounts, error) {
	var c podCounts
	opts := metav1.ListOptions{LabelSelector: "app=" + workload, ResourceVersion: "0"}
	pods, err := h.cs.CoreV1().Pods(namespace).List(ctx, opts)
	if err != nil {
		return c, fmt.Errorf("listing the workload's pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		c.pods++
		if p.Spec.NodeName != "" {
			continue
		}
		c.unbound++
		if testenv.Unschedulable(p) {
			c.unschedulable++
		}
	}
	return c, nil
}
