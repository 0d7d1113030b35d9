package chaos

import (
	"context"
	"flag"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/controller/termination"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

var mutate = flag.String("chaos.mutate", "cheap",
	"harness mutations TestMutations runs, comma-separated: "+strings.Join(mutationNames(), ", ")+
		`; "cheap" (those that trip in seconds: make test), "all" (make chaos) or "" (none)`)

// mutation is a deliberately broken run: the harness, not the product, breaks one invariant, and the monitor must
// report exactly that violation (its kind) and nothing else. It proves the invariant's check can fail.
type mutation struct {
	// kind is the violation kind the monitor must report, and the mutation's name.
	kind string
	// broken says what the harness does wrong.
	broken string
	// expensive mutations wait out garbage collection's deadline (about 3 minutes): make chaos only.
	expensive bool
	// timeout bounds the wait for the violation after apply.
	timeout time.Duration
	// apply breaks the invariant; repair puts things back so the next mutation starts clean.
	apply  func(*mutationRun)
	repair func(*mutationRun)
}

// mutationRun is what a mutation works on: the scenario's harness, the monitor of this mutation, the workload (nil
// for the expensive ones) and state apply leaves for repair.
type mutationRun struct {
	h     *harness
	m     *monitor
	w     *workload
	s     step
	undo  func()
	extra string
}

var mutations = []mutation{
	{
		kind: "goroutines", timeout: 10 * time.Second,
		broken: "the harness holds 200 idle connections open to the controller's metrics server between two samples of one process (a goroutine each)",
		apply: func(r *mutationRun) {
			h, m := r.h, r.m
			pid := h.stack.Controller.Pid()
			before := m.sampleGoroutines("before", pid, h.metricsAddr)
			var conns []net.Conn
			for range 200 {
				c, err := net.DialTimeout("tcp", h.metricsAddr, 5*time.Second)
				if err != nil {
					h.t.Fatalf("connecting to the metrics server: %v", err)
				}
				conns = append(conns, c)
			}
			r.undo = func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}
			// The kernel completes a dial before the server accepts it: on a loaded machine the accept loop runs
			// behind, and a sample taken at once sees only part of the 200 (seen: +96). Sample when the server has
			// caught up, or after 10 s.
			_ = wait.PollUntilContextTimeout(h.t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
				n, err := goroutines(ctx, h.metricsAddr)
				return err == nil && n >= before+200, nil
			})
			m.sampleGoroutines("holding 200 connections", pid, h.metricsAddr)
			m.checkGoroutines()
		},
		repair: func(r *mutationRun) { r.undo() },
	},
	{
		kind: "double-launch", timeout: 30 * time.Second,
		broken: "the harness tags a second running instance with another NodeClaim's name (tailor.sh/nodeclaim), as a second launch for one claim would be",
		apply: func(r *mutationRun) {
			h := r.h
			var tagged []ec2sim.AdminInstance
			instances, err := h.instances(h.t.Context())
			if err != nil {
				h.t.Fatal(err)
			}
			for _, in := range instances {
				if live(in) && in.Tags[apiv1.Group+"/nodeclaim"] != "" {
					tagged = append(tagged, in)
				}
			}
			if len(tagged) < 2 {
				h.t.Fatalf("double-launch needs two running instances of NodeClaims, found %d", len(tagged))
			}
			a, b := tagged[0], tagged[1]
			key := apiv1.Group + "/nodeclaim"
			h.tagInstance(b.ID, key, a.Tags[key])
			r.undo = func() { h.tagInstance(b.ID, key, b.Tags[key]) }
		},
		repair: func(r *mutationRun) { r.undo() },
	},
	{
		kind: "replace", timeout: 10 * time.Second,
		broken: "the harness taints a live NodeClaim's node tailor.sh/disrupted, as a replace that stopped half-way leaves its candidate",
		apply: func(r *mutationRun) {
			h := r.h
			node := h.someClaimNode()
			h.setTaint(node, true)
			r.undo = func() { h.setTaint(node, false) }
			for _, v := range h.commandLeftovers(h.t.Context()) {
				r.m.violate("replace", "%s", v)
			}
		},
		repair: func(r *mutationRun) { r.undo() },
	},
	{
		kind: "pdb", timeout: 30 * time.Second,
		broken: "the harness deletes every web pod directly, all at once, instead of through the Eviction API (which would refuse past the PodDisruptionBudget); the nodes are tainted first so the replacements wait",
		apply: func(r *mutationRun) {
			h := r.h
			// Replacements come within a second; the taint keeps them off the nodes there are, so the dip is not
			// a race between the deletes and the ReplicaSet.
			nodes, err := h.cs.CoreV1().Nodes().List(h.t.Context(), metav1.ListOptions{})
			if err != nil {
				h.t.Fatal(err)
			}
			for _, n := range nodes.Items {
				h.setMutationTaint(n.Name, true)
			}
			r.undo = func() {
				nodes, err := h.cs.CoreV1().Nodes().List(h.t.Context(), metav1.ListOptions{})
				if err != nil {
					h.t.Fatal(err)
				}
				for _, n := range nodes.Items {
					h.setMutationTaint(n.Name, false)
				}
			}
			pods, err := r.w.pods(h.t.Context())
			if err != nil {
				h.t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, p := range pods {
				if p.Labels["app"] != "web" {
					continue
				}
				wg.Go(func() {
					_ = h.cs.CoreV1().Pods(r.w.ns).Delete(h.t.Context(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				})
			}
			wg.Wait()
		},
		repair: func(r *mutationRun) { r.undo(); r.w.wait(r.m, r.s, 3*time.Minute) },
	},
	{
		kind: "lost-pod", timeout: 30 * time.Second,
		broken: "the harness terminates a busy instance through the EC2 API without draining its node first (the PDBs still hold without its pods)",
		apply: func(r *mutationRun) {
			h := r.h
			id, pods := h.undrainableInstance(r.w)
			r.extra = fmt.Sprintf("instance %s with %d workload pods", id, pods)
			h.terminate(id)
		},
		repair: func(r *mutationRun) { r.w.wait(r.m, r.s, 3*time.Minute) },
	},
	{
		kind: "leak", expensive: true, timeout: 5 * time.Minute,
		broken: "the harness freezes the controller (SIGSTOP: garbage collection never runs) and deletes a NodeClaim without its finalizer, leaving its instance behind",
		apply: func(r *mutationRun) {
			h := r.h
			h.freezeController(r)
			nc := h.someClaim()
			r.extra = "nodeclaim " + nc.Name
			patch := []byte(`{"metadata":{"finalizers":null}}`)
			if err := h.kube.Patch(h.t.Context(), nc, client.RawPatch(types.MergePatchType, patch)); err != nil {
				h.t.Fatal(err)
			}
			if err := client.IgnoreNotFound(h.kube.Delete(h.t.Context(), nc)); err != nil {
				h.t.Fatal(err)
			}
		},
		repair: func(r *mutationRun) { r.undo(); r.m.settleInstances() },
	},
	{
		kind: "lost-claim", expensive: true, timeout: 5 * time.Minute,
		broken: "the harness freezes the controller (SIGSTOP) and terminates a NodeClaim's instance behind its back: nothing deletes the claim",
		apply: func(r *mutationRun) {
			h := r.h
			h.freezeController(r)
			nc := h.someClaim()
			r.extra = "nodeclaim " + nc.Name
			_, id, _ := strings.Cut(strings.TrimPrefix(nc.Status.ProviderID, "aws:///"), "/")
			h.terminate(id)
		},
		repair: func(r *mutationRun) { r.undo(); r.m.settleInstances() },
	},
}

func mutationNames() []string {
	var out []string
	for _, mu := range mutations {
		out = append(out, mu.kind)
	}
	return out
}

// selectedMutations are the mutations -chaos.mutate names.
func selectedMutations(t *testing.T) []mutation {
	var out []mutation
	for _, name := range strings.Split(*mutate, ",") {
		name = strings.TrimSpace(name)
		for _, mu := range mutations {
			if name == "all" || name == mu.kind || name == "cheap" && !mu.expensive {
				if !slices.ContainsFunc(out, func(o mutation) bool { return o.kind == mu.kind }) {
					out = append(out, mu)
				}
			}
		}
		if name != "" && name != "all" && name != "cheap" && !slices.Contains(mutationNames(), name) {
			t.Fatalf("-chaos.mutate: unknown mutation %q; use one of %s, cheap or all", name, strings.Join(mutationNames(), ", "))
		}
	}
	return out
}

// TestMutations proves the invariants can fail: for each mutation -chaos.mutate selects, the harness breaks one
// invariant on purpose and the monitor, running as in every scenario, must report exactly that kind of violation
// and no other. The cheap mutations share one cluster with the settled workload; the expensive ones (they wait
// out garbage collection's deadline) share another with two idle pods and no monitored workload.
func TestMutations(t *testing.T) {
	selected := selectedMutations(t)
	var cheap, expensive []mutation
	for _, mu := range selected {
		if mu.expensive {
			expensive = append(expensive, mu)
		} else {
			cheap = append(cheap, mu)
		}
	}
	if len(cheap) > 0 {
		t.Run("cheap", func(t *testing.T) {
			// IAM enforcement off: the harness tags instances (double-launch) with the controller's credentials.
			h := startHarness(t, false, "--iam-policy=off")
			h.applyPool("Never")
			w := h.createWorkload()
			s := step{"web": 8, "batch": 0, "apart": 3, "mem": 4}
			w.scale(s)
			ready := h.startMonitor("mutations (setup)", w.ns).quiet()
			w.wait(ready, s, 3*time.Minute)
			ready.stop()
			for _, mu := range cheap {
				runMutation(t, h, w, s, mu)
			}
			h.deleteAllClaims(h.startMonitor("mutations (teardown)", w.ns).quiet(), w)
		})
	}
	if len(expensive) > 0 {
		t.Run("expensive", func(t *testing.T) {
			h := startHarness(t, false, "--iam-policy=off")
			h.applyPool("Never")
			// Two pods that need a node each (hostname anti-affinity), in a namespace no monitor watches: the
			// mutations take instances away under them.
			idle := h.createWorkload()
			s := step{"web": 0, "batch": 0, "apart": 2, "mem": 0}
			idle.scale(s)
			ready := h.startMonitor("mutations (setup)", "").quiet()
			idle.wait(ready, s, 3*time.Minute)
			ready.stop()
			for _, mu := range expensive {
				runMutation(t, h, nil, s, mu)
			}
			h.deleteAllClaims(h.startMonitor("mutations (teardown)", "").quiet(), idle)
		})
	}
}

// runMutation applies one mutation under a monitor of its own, waits for the violation, repairs, and checks that
// exactly the mutation's kind was reported.
func runMutation(t *testing.T, h *harness, w *workload, s step, mu mutation) {
	ns := ""
	if w != nil {
		ns = w.ns
	}
	if w != nil {
		// Every mutation starts from the settled step with every pod Ready: the PodDisruptionBudget checks count
		// Ready pods, and the previous mutation's replacements may be Running and not yet Ready.
		w.waitReady(s, time.Minute)
	}
	m := h.startMonitorFor("mutation "+mu.kind, ns, mu.kind)
	r := &mutationRun{h: h, m: m, w: w, s: s}
	start := time.Now()
	mu.apply(r)
	_ = wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, mu.timeout, true, func(context.Context) (bool, error) {
		return slices.Contains(m.kinds(), mu.kind), nil
	})
	took := time.Since(start)
	// Judged before the repair too: a repair that cannot finish (its wait fails the test) must not hide the verdict.
	got := m.kinds()
	t.Logf("mutation %s (%s%s): reported %v after %s", mu.kind, mu.broken, cmpSuffix(r.extra), got, took.Round(100*time.Millisecond))
	if !slices.Contains(got, mu.kind) {
		t.Errorf("mutation %s: the monitor reported %v within %s, want [%s]: the check of this invariant cannot fail", mu.kind, got, mu.timeout, mu.kind)
		summary.failure(fmt.Sprintf("mutation %s: the monitor reported %v within %s, want [%s]", mu.kind, got, mu.timeout, mu.kind))
	}
	if mu.repair != nil {
		mu.repair(r)
	}
	m.stop()
	got = m.kinds()
	for _, v := range m.violationLines() {
		t.Logf("mutation %s: monitor printed: invariant violated: %s", mu.kind, v)
	}
	if !slices.Equal(got, []string{mu.kind}) {
		t.Errorf("mutation %s: the monitor reported %v, want exactly [%s]: the check of this invariant cannot fail, or another one tripped too",
			mu.kind, got, mu.kind)
		summary.failure(fmt.Sprintf("mutation %s: the monitor reported %v, want exactly [%s]; it printed: %s",
			mu.kind, got, mu.kind, strings.Join(m.violationLines(), " | ")))
	}
}

func cmpSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// ec2Client talks to ec2sim with the controller's test credentials.
func (h *harness) ec2Client() *ec2.Client {
	return ec2.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("tailor-test", "tailor-test", ""),
		BaseEndpoint: aws.String(h.stack.EC2Endpoint),
	})
}

// tagInstance sets one tag on an instance.
func (h *harness) tagInstance(id, key, value string) {
	h.t.Helper()
	_, err := h.ec2Client().CreateTags(h.t.Context(), &ec2.CreateTagsInput{
		Resources: []string{id}, Tags: []ec2types.Tag{{Key: aws.String(key), Value: aws.String(value)}},
	})
	if err != nil {
		h.t.Fatalf("tagging %s %s=%s: %v", id, key, value, err)
	}
}

// terminate terminates an instance through the EC2 API, as someone other than Tailor would.
func (h *harness) terminate(id string) {
	h.t.Helper()
	if _, err := h.ec2Client().TerminateInstances(h.t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		h.t.Fatalf("terminating %s: %v", id, err)
	}
}

// freezeController stops the controller process (SIGSTOP) without telling the monitor, which keeps counting the
// garbage collector's deadlines as if it ran; r.undo resumes it.
func (h *harness) freezeController(r *mutationRun) {
	h.t.Helper()
	pid := h.stack.Controller.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		h.t.Fatal(err)
	}
	resumed := false
	r.undo = func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	h.t.Cleanup(r.undo)
}

// someClaim is a launched, registered NodeClaim that is not being deleted (the first by name).
func (h *harness) someClaim() *apiv1.NodeClaim {
	h.t.Helper()
	list := &apiv1.NodeClaimList{}
	if err := h.kube.List(h.t.Context(), list); err != nil {
		h.t.Fatal(err)
	}
	slices.SortFunc(list.Items, func(a, b apiv1.NodeClaim) int { return strings.Compare(a.Name, b.Name) })
	for i := range list.Items {
		nc := &list.Items[i]
		if nc.DeletionTimestamp.IsZero() && nc.Status.ProviderID != "" && nc.StatusConditions().IsTrue(apiv1.ConditionTypeRegistered) {
			return nc
		}
	}
	h.t.Fatal("no registered NodeClaim")
	return nil
}

// someClaimNode is the Node of someClaim.
func (h *harness) someClaimNode() string {
	h.t.Helper()
	nc := h.someClaim()
	nodes, err := h.cs.CoreV1().Nodes().List(h.t.Context(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, n := range nodes.Items {
		if n.Spec.ProviderID == nc.Status.ProviderID {
			return n.Name
		}
	}
	h.t.Fatalf("no node for nodeclaim %s", nc.Name)
	return ""
}

// mutationTaint keeps new pods off a node while the pdb mutation deletes pods.
var mutationTaint = corev1.Taint{Key: "chaos.tailor.sh/mutation", Effect: corev1.TaintEffectNoSchedule}

// setMutationTaint adds or removes mutationTaint on a node (gone nodes are skipped).
func (h *harness) setMutationTaint(name string, on bool) {
	h.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := h.cs.CoreV1().Nodes().Get(h.t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == mutationTaint.Key })
		if on {
			node.Spec.Taints = append(node.Spec.Taints, mutationTaint)
		}
		_, err = h.cs.CoreV1().Nodes().Update(h.t.Context(), node, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		h.t.Fatalf("tainting node %s %s: %v", name, mutationTaint.Key, err)
	}
}

// setTaint adds or removes Tailor's disrupted taint on a node.
func (h *harness) setTaint(name string, on bool) {
	h.t.Helper()
	node, err := h.cs.CoreV1().Nodes().Get(h.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	node.Spec.Taints = slices.DeleteFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == termination.DisruptedTaint.Key })
	if on {
		node.Spec.Taints = append(node.Spec.Taints, termination.DisruptedTaint)
	}
	if _, err := h.cs.CoreV1().Nodes().Update(h.t.Context(), node, metav1.UpdateOptions{}); err != nil {
		h.t.Fatalf("tainting node %s: %v", name, err)
	}
}

// undrainableInstance is a running instance whose node runs workload pods and whose loss leaves every app with a
// PDB at or above its minAvailable Ready pods (so only the lost pods are reported); the most pods first.
func (h *harness) undrainableInstance(w *workload) (string, int) {
	h.t.Helper()
	pods, err := w.pods(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	ready := map[string]int32{}
	onNode := map[string]map[string]int32{}
	for _, p := range pods {
		if !p.DeletionTimestamp.IsZero() || !podReady(&p) || p.Spec.NodeName == "" {
			continue
		}
		app := p.Labels["app"]
		ready[app]++
		if onNode[p.Spec.NodeName] == nil {
			onNode[p.Spec.NodeName] = map[string]int32{}
		}
		onNode[p.Spec.NodeName][app]++
	}
	best, bestPods := "", 0
	for node, apps := range onNode {
		ok, n := true, 0
		for app, c := range apps {
			n += int(c)
			if ready[app]-c < minAvailable(app) {
				ok = false
			}
		}
		if ok && (n > bestPods || n == bestPods && node < best) {
			best, bestPods = node, n
		}
	}
	if best == "" {
		h.t.Fatal("every node runs pods a PDB cannot lose")
	}
	n, err := h.cs.CoreV1().Nodes().Get(h.t.Context(), best, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	_, id, _ := strings.Cut(strings.TrimPrefix(n.Spec.ProviderID, "aws:///"), "/")
	return id, bestPods
}
