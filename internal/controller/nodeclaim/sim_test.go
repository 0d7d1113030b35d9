package nodeclaim

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/aws"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/ec2sim/ec2simtest"
)

const (
	simCluster   = "nodeclaim-sim"
	simNodeClass = "nodeclaim-sim"
)

// simFixture is the lifecycle controller and the garbage collector on the AWS provider, against ec2sim on a
// 127.0.0.1 listener and the test API server, all on one fake clock. ec2sim registers no Nodes here.
type simFixture struct {
	*fixture
	sim      *ec2sim.Sim
	endpoint string
	provider *aws.Provider
}

func newSimFixture(t *testing.T) *simFixture {
	t.Helper()
	// Credentials come from the SDK's default chain: here, the environment; nothing may reach outside 127.0.0.1.
	ec2simtest.IsolateAWSEnv(t)

	cached, direct := env.Clients(t, IndexFields)
	clk := clocktesting.NewFakeClock(time.Now())
	offer := func(od, spot float64) []ec2sim.Offering {
		var out []ec2sim.Offering
		for _, z := range []string{"us-east-1a", "us-east-1b"} {
			out = append(out, ec2sim.Offering{Zone: z, CapacityType: "on-demand", PricePerHour: od},
				ec2sim.Offering{Zone: z, CapacityType: "spot", PricePerHour: spot})
		}
		return out
	}
	sim, err := ec2sim.New(ec2sim.Options{
		Config: ec2sim.DefaultConfig(simCluster),
		InstanceTypes: []ec2sim.InstanceType{
			{Name: "m5.large", Arch: "amd64", VCPUs: 2, MemoryMiB: 8192, ENIs: 3, IPsPerENI: 10, Offerings: offer(0.096, 0.035)},
			{Name: "m5.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, ENIs: 4, IPsPerENI: 15, Offerings: offer(0.192, 0.060)},
		},
		Seed:   11,
		Clock:  clk,
		Timing: ec2sim.Timing{LaunchLatency: time.Second, BootLatency: time.Second, TerminateLatency: 3 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := ec2simtest.Serve(t, sim)
	f := &simFixture{fixture: &fixture{t: t, kube: cached, direct: direct, clk: clk}, sim: sim, endpoint: endpoint}
	f.restart()
	f.nodeClass()
	return f
}

// restart builds the provider, the controller and the collector afresh, as a new controller process would: whatever
// the old ones remembered is gone.
func (f *simFixture) restart() {
	f.t.Helper()
	opts := aws.Options{Region: "us-east-1", ClusterName: simCluster, ClusterUID: "uid-" + simCluster, EndpointURL: f.endpoint,
		KubernetesVersion: "1.35", MaxBackoff: 5 * time.Millisecond, HTTPClient: ec2sim.SDKHTTPClient()}
	if err := opts.Complete(); err != nil {
		f.t.Fatal(err)
	}
	clients, err := aws.NewClients(f.t.Context(), opts)
	if err != nil {
		f.t.Fatal(err)
	}
	provider, err := aws.New(opts, clients, f.direct, f.clk)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.c, err = New(f.clk, f.kube, provider, &events.FakeRecorder{}); err != nil {
		f.t.Fatal(err)
	}
	if f.gc, err = NewGarbageCollector(f.clk, f.kube, provider); err != nil {
		f.t.Fatal(err)
	}
	f.provider = provider
}

// nodeClass stores the EC2NodeClass, resolved against ec2sim, in the API server.
func (f *simFixture) nodeClass() {
	f.t.Helper()
	ctx := f.t.Context()
	nc := ec2simtest.NodeClass(simNodeClass, simCluster)
	if err := f.direct.Create(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = f.direct.Delete(context.WithoutCancel(f.t.Context()), nc) })
	if err := f.provider.ResolveNodeClass(ctx, nc); err != nil {
		f.t.Fatalf("ResolveNodeClass: %v", err)
	}
	if err := f.direct.Status().Update(ctx, nc); err != nil {
		f.t.Fatal(err)
	}
}

// simClaim stores a NodeClaim of the fixture's node class.
func (f *simFixture) simClaim(name string) {
	f.claim(name, func(nc *apiv1.NodeClaim) { nc.Spec.NodeClassRef.Name = simNodeClass })
}

// step moves the shared clock and lets ec2sim catch up.
func (f *simFixture) step(d time.Duration) {
	f.t.Helper()
	f.clk.Step(d)
	if err := f.sim.Tick(f.t.Context()); err != nil {
		f.t.Fatalf("Tick: %v", err)
	}
}

// faults replaces ec2sim's faults through its admin API.
func (f *simFixture) faults(body string) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), http.MethodPut, f.endpoint+"/admin/faults", strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("PUT /admin/faults %s: %s", body, resp.Status)
	}
}

// live lists ec2sim's pending or running instances tagged for the claim.
func (f *simFixture) live(claim string) []string {
	var ids []string
	for _, i := range f.sim.Instances() {
		if i.Tags[aws.TagNodeClaim] == claim && (i.State == "pending" || i.State == "running") {
			ids = append(ids, i.ID)
		}
	}
	return ids
}

// failLaunch reconciles the claim once while every answer of CreateFleet is lost: the launch fails, the instance
// runs.
func (f *simFixture) failLaunch(name string) {
	f.t.Helper()
	// Until the claim is in the cache, a reconcile does nothing; the first that launches fails.
	err := wait.PollUntilContextTimeout(f.t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := f.c.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		return err != nil, nil
	})
	if err != nil {
		f.t.Fatalf("no launch attempt failed although every CreateFleet answer was lost: %v", err)
	}
	if n := len(f.live(name)); n != 1 {
		f.t.Fatalf("%d instances after the lost launch answers, want the 1 the lost call launched", n)
	}
}

func isLaunched(nc *apiv1.NodeClaim) bool {
	return nc != nil && nc.Status.ProviderID != "" && conditionTrue(nc, apiv1.ConditionTypeLaunched)
}

// A launch whose CreateFleet answer is lost while DescribeInstances lags it: the controller's retry gets the
// instance the lost call launched (the provider sends the same request with the same client token), not a second.
func TestSimLostLaunchAnswerIsNotLaunchedTwice(t *testing.T) {
	f := newSimFixture(t)
	f.simClaim("lost-once")
	f.faults(`{"lostFleetResponses": 10, "describeInstancesDelay": "30s"}`)
	f.failLaunch("lost-once")
	f.step(2 * time.Second) // the controller's backoff
	nc := f.reconcileUntil("lost-once", "launched", isLaunched)
	live := f.live("lost-once")
	if len(live) != 1 || !strings.HasSuffix(nc.Status.ProviderID, "/"+live[0]) {
		t.Errorf("live instances of the claim = %v, claim's provider ID %s; want just the one the lost call launched", live, nc.Status.ProviderID)
	}
}

// The same after a controller restart between the lost answer and the retry: the new process knows nothing of the
// lost call and the lagging DescribeInstances does not show its instance, so the retry launches a second one. The
// garbage collector keeps the claim while its instance is not yet visible, and terminates the first instance once it
// is visible and older than GCGracePeriod: one live instance is left for the claim, the one it records.
func TestSimLostLaunchAnswerAcrossRestartIsCollected(t *testing.T) {
	f := newSimFixture(t)
	f.simClaim("lost-restart")
	f.faults(`{"lostFleetResponses": 10, "describeInstancesDelay": "30s"}`)
	f.failLaunch("lost-restart")
	f.restart()
	f.step(2 * time.Second)
	nc := f.reconcileUntil("lost-restart", "launched", isLaunched)
	f.awaitCache([]*apiv1.NodeClaim{nc})
	if n := len(f.live("lost-restart")); n != 2 {
		t.Fatalf("%d live instances after the retry in a new process, want 2 (the test shows nothing otherwise)", n)
	}
	collect := func(when string) {
		t.Helper()
		if err := f.gc.Collect(t.Context()); err != nil {
			t.Fatalf("Collect %s: %v", when, err)
		}
		if f.gone("lost-restart") {
			t.Fatalf("the garbage collector deleted the claim %s, although its instance runs", when)
		}
	}
	collect("while neither instance is visible")
	f.step(30 * time.Second)
	collect("once both are visible, the lost one younger than the grace period")
	if n := len(f.live("lost-restart")); n != 2 {
		t.Errorf("%d live instances before the grace period, want 2", n)
	}
	f.step(GCGracePeriod)
	collect("past the grace period")
	live := f.live("lost-restart")
	if len(live) != 1 || !strings.HasSuffix(nc.Status.ProviderID, "/"+live[0]) {
		t.Errorf("live instances of the claim after garbage collection = %v, want only its own %s", live, nc.Status.ProviderID)
	}
}

// A claim deleted while DescribeInstances does not show its just-launched instance yet: Delete cannot see the
// instance to terminate it (it may not terminate what it cannot check is this cluster's), so the claim goes and the
// instance stays; the garbage collector terminates it once it is visible and a minute old. Not a leak for ever.
func TestSimClaimDeletedBeforeItsInstanceIsVisible(t *testing.T) {
	f := newSimFixture(t)
	f.simClaim("early-delete")
	f.faults(`{"describeInstancesDelay": "30s"}`)
	nc := f.reconcileUntil("early-delete", "launched", isLaunched)
	if err := f.direct.Delete(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	f.reconcileUntil("early-delete", "gone", func(nc *apiv1.NodeClaim) bool { return nc == nil })
	if n := len(f.live("early-delete")); n != 1 {
		t.Fatalf("%d live instances once the claim is gone, want 1 (Delete could not see it)", n)
	}
	f.step(30 * time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if n := len(f.live("early-delete")); n != 1 {
		t.Errorf("%d live instances before the grace period, want 1", n)
	}
	f.step(GCGracePeriod)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if live := f.live("early-delete"); len(live) != 0 {
		t.Errorf("instances of the deleted claim still live after garbage collection: %v", live)
	}
}
