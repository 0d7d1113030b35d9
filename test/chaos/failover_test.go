package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/controller/termination"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// replica is one controller process of a leader-elected pair.
type replica struct {
	name, metricsAddr string
	proc              *testenv.Process
}

// TestLeaderFailover runs two controller replicas with --leader-elect and default lease settings, then, -chaos.failovers
// times, SIGKILLs the leader while new pods are pending and measures how long until the other replica holds the
// Lease and until its first action, against -chaos.failover-budget. The killed replica comes
// back as a follower each time.
func TestLeaderFailover(t *testing.T) {
	h := startHarness(t, true)
	h.applyPool("Never")
	w := h.createWorkload()
	m := h.startMonitor("leader failover", w.ns)
	m.controllerDown()
	replicas := make([]*replica, 2)
	for i := range replicas {
		replicas[i] = &replica{name: fmt.Sprintf("tailor-replica-%d", i), metricsAddr: freeAddr(t)}
		h.startReplica(replicas[i])
	}
	t.Cleanup(func() {
		for _, r := range replicas {
			if err := r.proc.Stop(10 * time.Second); err != nil {
				t.Errorf("stopping %s: %v", r.name, err)
			}
		}
	})
	leader := h.waitLeader(replicas, "", time.Minute)
	m.controllerUp()
	rng := rand.New(rand.NewPCG(*seed, 0x6661696c))
	s := step{}
	for _, sh := range shapes {
		s[sh.name] = sh.min + rng.Int32N(sh.max-sh.min+1)
	}
	s["batch"] = 0
	w.scale(s)
	w.waitSettled(m, s, 3*time.Minute)
	h.sampleReplicas(m, "start", replicas)

	for i := range *failovers {
		before := h.claimNames()
		holder := h.leaseHolder(t.Context())
		if err := leader.proc.Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		m.controllerDown()
		m.fault("SIGKILL leader", 1)
		// Work only a leader does, asked for the moment the old one died: a NodeClaim deleted by hand (the new
		// leader must drain its node: the node is cordoned first) and pods that may need new nodes (they may also
		// fit on nodes left over, so they cannot be the only sign).
		deleted := h.deleteBusiestClaim(w.ns)
		s["batch"] = min(s["batch"]+3, 8)
		w.scale(s)
		var leased, acted time.Duration
		var how string
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			if leased == 0 {
				if hl := h.leaseHolder(ctx); hl != "" && hl != holder {
					leased = time.Since(killed)
					m.controllerUp()
				}
			}
			if acted == 0 {
				switch {
				case h.claimNames().Difference(before).Len() > 0:
					acted, how = time.Since(killed), "created a NodeClaim for the pending pods"
				case h.disrupted(ctx, deleted):
					acted, how = time.Since(killed), "tainted the node of the deleted NodeClaim "+termination.DisruptedTaint.Key
				}
			}
			return leased != 0 && acted != 0, nil
		})
		if err != nil {
			t.Fatalf("failover %d: after killing %s, lease taken over after %s, first action after %s: %v", i+1, leader.name, leased, acted, err)
		}
		m.note("failover %d: leader %s SIGKILLed; the other replica held the Lease after %s and %s after %s",
			i+1, leader.name, leased.Round(100*time.Millisecond), how, acted.Round(100*time.Millisecond))
		if acted > *failoverBudget {
			m.violate("failover", "failover %d: the other replica acted %s after the leader's SIGKILL, above the %s target", i+1, acted.Round(100*time.Millisecond), *failoverBudget)
		}
		dead := leader
		h.startReplica(dead)
		leader = h.waitLeader(replicas, dead.name, 30*time.Second)
		w.waitSettled(m, s, 3*time.Minute)
		h.sampleReplicas(m, fmt.Sprintf("failover%d", i+1), replicas)
	}
	m.settleInstances()
	h.deleteAllClaims(m, w)
}

// startReplica starts (or restarts) a replica with leader election on a Lease in "default".
func (h *harness) startReplica(r *replica) {
	h.t.Helper()
	p, err := h.stack.StartReplica(r.name, "--leader-elect", "--leader-election-namespace="+metav1.NamespaceDefault,
		"--metrics-bind-address="+r.metricsAddr)
	if err != nil {
		h.t.Fatal(err)
	}
	r.proc = p
}

// waitLeader waits until one replica other than not reports itself leader (leader_election_master_status 1) and
// returns it.
func (h *harness) waitLeader(replicas []*replica, not string, timeout time.Duration) *replica {
	h.t.Helper()
	var found *replica
	err := wait.PollUntilContextTimeout(h.t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, r := range replicas {
			if r.name == not {
				continue
			}
			metrics, err := scrape(ctx, r.metricsAddr)
			if err != nil {
				continue
			}
			for k, v := range metrics {
				if strings.HasPrefix(k, "leader_election_master_status") && strings.Contains(k, operator.LeaderElectionID) && v == 1 {
					found = r
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		h.t.Fatalf("no replica became leader within %s", timeout)
	}
	return found
}

// disrupted tells whether the node with the provider ID carries the taint Tailor's termination flow sets when it
// starts taking a node away (termination.DisruptedTaint): the first thing a new leader does with a deleted
// NodeClaim. Only this replica's work sets it: the old leader was killed before the NodeClaim was deleted.
func (h *harness) disrupted(ctx context.Context, providerID string) bool {
	if providerID == "" {
		return false
	}
	nodes, err := h.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, n := range nodes.Items {
		if n.Spec.ProviderID == providerID {
			return slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool {
				return t.Key == termination.DisruptedTaint.Key && t.Effect == termination.DisruptedTaint.Effect
			})
		}
	}
	return false
}

// sampleReplicas samples the goroutines of every running replica, leader or follower, so that the leak check has
// the same process at two points across a failover (the new leader was a follower at the last one).
func (h *harness) sampleReplicas(m *monitor, at string, replicas []*replica) {
	for _, r := range replicas {
		if r.proc.Exited() != nil {
			continue
		}
		m.sampleGoroutines(at+"/"+r.name, r.proc.Pid(), r.metricsAddr)
	}
}

// leaseHolder is the holder identity of the leader election Lease, "" if none.
func (h *harness) leaseHolder(ctx context.Context) string {
	lease, err := h.cs.CoordinationV1().Leases(metav1.NamespaceDefault).Get(ctx, operator.LeaderElectionID, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// claimNames are the NodeClaims that exist now.
func (h *harness) claimNames() sets.Set[string] {
	list := &apiv1.NodeClaimList{}
	out := sets.New[string]()
	if err := h.kube.List(h.t.Context(), list); err != nil {
		return out
	}
	for _, nc := range list.Items {
		out.Insert(nc.Name)
	}
	return out
}
