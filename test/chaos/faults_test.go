package chaos

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/controller/nodeclaim"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestCloudFaults keeps one controller process running through ec2sim's faults, one kind after another, each over
// a few random workload steps: API throttling on 30% of calls with 5xx on 5%; InsufficientInstanceCapacity on the
// spot pools the controller chose (the cheapest); slow boots; spot interruptions; an ec2sim restart that keeps its
// state file while launches are in flight; and, with -chaos.liveness, instances that never register (waited out
// to the 15-minute liveness timeout). Every step must settle, every invariant hold, and the goroutine count of the
// one process must not grow across the phases.
func TestCloudFaults(t *testing.T) {
	h := startHarness(t, false)
	h.applyPool("Never")
	w := h.createWorkload()
	m := h.startMonitor("cloud faults", w.ns)
	rng := rand.New(rand.NewPCG(*seed, 0x6661756c74))
	next := func() step {
		s := step{}
		for _, sh := range shapes {
			s[sh.name] = sh.min + rng.Int32N(sh.max-sh.min+1)
		}
		return s
	}
	// Each step also deletes the busiest NodeClaim, so the phase's fault meets a drain and new launches.
	run := func(phase string, n int) {
		for i := range n {
			s := next()
			w.scale(s)
			h.deleteBusiestClaim(w.ns)
			took := w.waitSettled(m, s, 4*time.Minute)
			t.Logf("%s step %d/%d (%s): settled in %s", phase, i+1, n, s, took.Round(time.Millisecond))
		}
	}
	run("baseline", 1)
	m.sampleGoroutines("baseline", h.stack.Controller.Pid(), h.metricsAddr)

	// API faults on every action of every service.
	h.setFaults(ec2sim.Faults{ThrottleRate: 0.3, ServerErrorRate: 0.05})
	start := time.Now()
	run("throttle+5xx", 3)
	h.setFaults(ec2sim.Faults{})
	m.fault("API throttle 30% + 5xx 5% (steps)", 3)
	m.note("API faults: 3 steps settled in %s with 30%% of calls throttled and 5%% answered 5xx", time.Since(start).Round(time.Second))
	m.sampleGoroutines("throttle", h.stack.Controller.Pid(), h.metricsAddr)

	// ICE on the spot pools in use: the ones the controller found cheapest.
	pools := h.spotTypesInUse()
	var rules []ec2sim.CapacityRule
	for _, it := range pools {
		rules = append(rules, ec2sim.CapacityRule{InstanceType: it, CapacityType: apiv1.CapacityTypeSpot, Capacity: 0})
	}
	h.mustAdmin(http.MethodPut, "/admin/capacity", rules, nil)
	m.fault("ICE spot pools", len(rules))
	run("ice", 2)
	h.mustAdmin(http.MethodPut, "/admin/capacity", []ec2sim.CapacityRule{}, nil)
	m.note("ICE: spot capacity of %v set to 0; 2 steps settled", pools)
	m.sampleGoroutines("ice", h.stack.Controller.Pid(), h.metricsAddr)

	// Slow boots: half the instances take 20 s more to register.
	before := m.launchedCount()
	h.setFaults(ec2sim.Faults{SlowBootRate: 0.5, SlowBootLatency: metav1.Duration{Duration: 20 * time.Second}})
	run("slow-boot", 2)
	h.setFaults(ec2sim.Faults{})
	m.fault("slow boot 50% +20s (instances launched)", m.launchedCount()-before)
	m.sampleGoroutines("slow-boot", h.stack.Controller.Pid(), h.metricsAddr)

	// Spot interruptions: two busy spot instances get the warning (45 s notice); Tailor must drain and replace them
	// before EC2 reclaims them.
	interrupted := h.interruptSpot(2)
	m.fault("spot interruption", len(interrupted))
	s := next()
	w.scale(s)
	w.waitSettled(m, s, 4*time.Minute)
	testenv.WaitFor(t, 2*time.Minute, "the interrupted instances to be terminated", func(ctx context.Context) bool {
		instances, err := h.instances(ctx)
		if err != nil {
			return false
		}
		for _, in := range instances {
			if slices.Contains(interrupted, in.ID) && live(in) {
				return false
			}
		}
		return true
	})
	m.sampleGoroutines("interruption", h.stack.Controller.Pid(), h.metricsAddr)

	// ec2sim restarted with its state file while launches are in flight.
	s = next()
	s["batch"] = min(s["batch"]+4, 8)
	w.scale(s)
	liveBefore := h.liveInstanceIDs()
	m.setSimDown(true)
	if err := h.stack.RestartEC2Sim(t.Context(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m.setSimDown(false)
	m.fault("ec2sim restart", 1)
	if missing := liveBefore.Difference(h.knownInstanceIDs()); missing.Len() > 0 {
		m.violate("state", "instances running before ec2sim's restart unknown after it: %v", sets.List(missing))
	}
	took := w.waitSettled(m, s, 4*time.Minute)
	m.note("ec2sim restart: %d live instances kept; the step settled %s after the restart", liveBefore.Len(), took.Round(time.Second))
	m.sampleGoroutines("ec2sim-restart", h.stack.Controller.Pid(), h.metricsAddr)

	if *liveness {
		h.neverRegister(m, w, next())
	}
	run("after", 1)
	m.sampleGoroutines("end", h.stack.Controller.Pid(), h.metricsAddr)
	m.checkGoroutines()
	m.settleInstances()
	h.deleteAllClaims(m, w)
}

// spotTypesInUse are the instance types of the spot NodeClaims that exist now.
func (h *harness) spotTypesInUse() []string {
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(h.t.Context(), list); err != nil {
		h.t.Fatal(err)
	}
	types := sets.New[string]()
	for _, nc := range list.Items {
		if nc.Labels[apiv1.CapacityTypeLabelKey] == apiv1.CapacityTypeSpot {
			types.Insert(nc.Labels[apiv1.InstanceTypeLabelKey])
		}
	}
	return sets.List(types)
}

// interruptSpot sends a spot interruption warning to up to n running spot instances that have a Node.
func (h *harness) interruptSpot(n int) []string {
	instances, err := h.instances(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, in := range instances {
		if len(out) == n {
			break
		}
		if in.State == "running" && in.CapacityType == apiv1.CapacityTypeSpot && in.NodeCreated && !in.NodeDeleted {
			h.mustAdmin(http.MethodPost, "/admin/instances/"+in.ID+"/interrupt", ec2sim.InterruptRequest{}, nil)
			out = append(out, in.ID)
		}
	}
	if len(out) == 0 {
		h.t.Fatal("no running spot instance to interrupt")
	}
	return out
}

func (h *harness) liveInstanceIDs() sets.Set[string] {
	instances, err := h.instances(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	out := sets.New[string]()
	for _, in := range instances {
		if live(in) {
			out.Insert(in.ID)
		}
	}
	return out
}

func (h *harness) knownInstanceIDs() sets.Set[string] {
	instances, err := h.instances(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	out := sets.New[string]()
	for _, in := range instances {
		out.Insert(in.ID)
	}
	return out
}

// neverRegister launches instances that never register a Node and waits out the liveness timeout: the controller
// must delete their NodeClaims (RegistrationTimeout), terminate the instances and get the pods Running elsewhere.
func (h *harness) neverRegister(m *monitor, w *workload, s step) {
	t := h.t
	h.setFaults(ec2sim.Faults{NeverRegisterRate: 1})
	s["batch"] = 8
	s["apart"] = 5
	w.scale(s)
	h.deleteBusiestClaim(w.ns) // its pods need a new node even if the scale-up fits
	var stuck []string
	testenv.WaitFor(t, 2*time.Minute, "instances that never register", func(ctx context.Context) bool {
		instances, err := h.instances(ctx)
		if err != nil {
			return false
		}
		stuck = stuck[:0]
		for _, in := range instances {
			if in.NeverRegistr && live(in) {
				stuck = append(stuck, in.ID)
			}
		}
		return len(stuck) > 0
	})
	// Let the claims in flight launch, then stop the fault so the replacements register.
	select {
	case <-t.Context().Done():
		t.FailNow()
	case <-time.After(5 * time.Second):
	}
	h.setFaults(ec2sim.Faults{})
	instances, err := h.instances(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stuck = stuck[:0]
	for _, in := range instances {
		if in.NeverRegistr && live(in) {
			stuck = append(stuck, in.ID)
		}
	}
	m.fault("never-registering instances", len(stuck))
	start := time.Now()
	took := w.waitSettled(m, s, nodeclaim.RegistrationTTL+5*time.Minute)
	testenv.WaitFor(t, 3*time.Minute, "the never-registered instances to be terminated", func(ctx context.Context) bool {
		instances, err := h.instances(ctx)
		if err != nil {
			return false
		}
		for _, in := range instances {
			if slices.Contains(stuck, in.ID) && live(in) {
				return false
			}
		}
		return true
	})
	m.note("never-register: %d instances never registered; their pods Running %s later, the instances terminated %s later (liveness timeout %s)",
		len(stuck), took.Round(time.Second), time.Since(start).Round(time.Second), nodeclaim.RegistrationTTL)
}
