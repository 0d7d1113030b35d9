package interruption

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/aws"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/ec2sim/ec2simtest"
)

const simCluster = "interruption-test"

// simEnv is ec2sim on a 127.0.0.1 listener registering Nodes in the test API server, the AWS provider and the
// interruption queue on the real SDK pointed at it, all on the fixture's fake clock.
type simEnv struct {
	*fixture
	sim      *ec2sim.Sim
	endpoint string
	provider *aws.Provider
	queue    *aws.InterruptionQueue
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	// Credentials come from the SDK's default chain: here, the environment; nothing may reach outside 127.0.0.1.
	ec2simtest.IsolateAWSEnv(t)

	e := &simEnv{}
	// The controller's queue is created below, once the endpoint is known; the fixture's Controller is rebuilt then.
	e.fixture = newFixture(t, nil)
	nodes, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	offer := func(od float64, spot ...float64) []ec2sim.Offering {
		var out []ec2sim.Offering
		for i, z := range []string{"us-east-1a", "us-east-1b"} {
			out = append(out, ec2sim.Offering{Zone: z, CapacityType: "on-demand", PricePerHour: od},
				ec2sim.Offering{Zone: z, CapacityType: "spot", PricePerHour: spot[i]})
		}
		return out
	}
	e.sim, err = ec2sim.New(ec2sim.Options{
		Config: ec2sim.DefaultConfig(simCluster),
		InstanceTypes: []ec2sim.InstanceType{
			{Name: "m5.large", Arch: "amd64", VCPUs: 2, MemoryMiB: 8192, ENIs: 3, IPsPerENI: 10, Offerings: offer(0.096, 0.035, 0.030)},
		},
		KubeClient: nodes,
		Seed:       7,
		Clock:      e.clk,
		Timing:     ec2sim.Timing{LaunchLatency: time.Second, BootLatency: time.Second, TerminateLatency: 3 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := ec2simtest.Serve(t, e.sim)
	e.endpoint = endpoint

	opts := aws.Options{Region: "us-east-1", ClusterName: simCluster, EndpointURL: e.endpoint, KubernetesVersion: "1.35", HTTPClient: ec2sim.SDKHTTPClient()}
	if err := opts.Complete(); err != nil {
		t.Fatal(err)
	}
	clients, err := aws.NewClients(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if e.provider, err = aws.New(opts, clients, e.direct, e.clk); err != nil {
		t.Fatal(err)
	}
	if e.queue, err = aws.NewInterruptionQueue(clients.SQS, simCluster, e.clk); err != nil {
		t.Fatal(err)
	}
	if e.c, err = New(e.clk, e.kube, e.queue, e.recorder); err != nil {
		t.Fatal(err)
	}
	e.nodeClass()
	return e
}

// nodeClass stores the reference EC2NodeClass, resolved against ec2sim, in the API server.
func (e *simEnv) nodeClass() {
	e.t.Helper()
	ctx := e.t.Context()
	nc := ec2simtest.NodeClass("default", simCluster)
	if err := e.direct.Create(ctx, nc); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.direct.Delete(context.WithoutCancel(e.t.Context()), nc) })
	if err := e.provider.ResolveNodeClass(ctx, nc); err != nil {
		e.t.Fatalf("ResolveNodeClass: %v", err)
	}
	if err := e.direct.Status().Update(ctx, nc); err != nil {
		e.t.Fatal(err)
	}
}

// launch launches an instance through the provider for a NodeClaim of the capacity type; with store, the NodeClaim
// (held by holdFinalizer) is stored with its provider ID. It returns the launched NodeClaim.
func (e *simEnv) launch(name, capacityType string, store bool) *apiv1.NodeClaim {
	e.t.Helper()
	ctx := e.t.Context()
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}, Finalizers: []string{holdFinalizer}},
		Spec: apiv1.NodeClaimSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
			Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
				{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{capacityType}},
			},
			Resources: apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		},
	}
	if store {
		if err := e.direct.Create(ctx, nc); err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() { e.forceDelete(name) })
	}
	launched, err := e.provider.Create(ctx, nc)
	if err != nil {
		e.t.Fatalf("launching %s: %v", name, err)
	}
	e.t.Cleanup(func() {
		_ = e.direct.Delete(context.WithoutCancel(e.t.Context()), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: e.nodeName(launched)}})
	})
	if store {
		nc.Status.ProviderID = launched.Status.ProviderID
		if err := e.direct.Status().Update(ctx, nc); err != nil {
			e.t.Fatal(err)
		}
		e.waitCached(name, func(nc *apiv1.NodeClaim) bool { return nc.Status.ProviderID != "" })
	}
	return launched
}

// nodeName is the name ec2sim gives the Node of a launched NodeClaim's instance.
func (e *simEnv) nodeName(nc *apiv1.NodeClaim) string {
	id := instanceID(nc.Status.ProviderID)
	for _, i := range e.sim.Instances() {
		if i.ID == id {
			return i.NodeName
		}
	}
	e.t.Fatalf("ec2sim has no instance %s", id)
	return ""
}

// step moves the shared clock and lets ec2sim catch up (instances move along, Nodes register).
func (e *simEnv) step(d time.Duration) {
	e.t.Helper()
	e.clk.Step(d)
	if err := e.sim.Tick(e.t.Context()); err != nil {
		e.t.Fatalf("Tick: %v", err)
	}
}

func (e *simEnv) admin(method, path, body string) []byte {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.endpoint+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("admin %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("admin %s: decoding: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("admin %s: status %d: %s", path, resp.StatusCode, out)
	}
	return out
}

// queued is how many messages ec2sim's queue holds (visible or in flight).
func (e *simEnv) queued() int {
	var msgs []json.RawMessage
	if err := json.Unmarshal(e.admin(http.MethodGet, "/admin/queues/"+simCluster, ""), &msgs); err != nil {
		e.t.Fatal(err)
	}
	return len(msgs)
}

// TestSimEveryEventKindThroughSQS raises every event kind in ec2sim, reads them with the real SDK through the
// InterruptionQueue the controller runs as a Runnable, and checks what happened to the NodeClaims, the events, the
// metrics and the queue.
func TestSimEveryEventKindThroughSQS(t *testing.T) {
	e := newSimEnv(t)
	spot := e.launch("sim-spot", apiv1.CapacityTypeSpot, true)
	retiring := e.launch("sim-retiring", apiv1.CapacityTypeOnDemand, true)
	stopped := e.launch("sim-stopped", apiv1.CapacityTypeOnDemand, true)
	stranger := e.launch("sim-stranger", apiv1.CapacityTypeSpot, false)
	for range 3 {
		e.step(time.Second) // launch, boot: the instances run and their Nodes register
	}
	if n := e.queued(); n != 0 {
		t.Fatalf("%d messages queued before any interruption, want none", n)
	}

	// A spot warning preceded by a rebalance recommendation, an instance retirement, a rebalance recommendation for
	// an instance no NodeClaim has, and an instance shutting down under Tailor's feet.
	if err := e.sim.Interrupt(instanceID(spot.Status.ProviderID), 2*time.Minute, true); err != nil {
		t.Fatal(err)
	}
	e.admin(http.MethodPost, "/admin/instances/"+instanceID(retiring.Status.ProviderID)+"/scheduled-change", "{}")
	e.admin(http.MethodPost, "/admin/instances/"+instanceID(stranger.Status.ProviderID)+"/rebalance", "")
	if err := e.provider.Delete(t.Context(), stopped); err != nil {
		t.Fatal(err)
	}
	if n := e.queued(); n != 5 {
		t.Fatalf("%d messages queued, want 5", n)
	}
	// Two seconds pass before the controller reads them (less than the 3 s the terminating instance takes, so no
	// "terminated" event joins them).
	e.clk.Step(2 * time.Second)

	kinds := []aws.EventKind{aws.EventSpotInterruption, aws.EventRebalanceRecommendation, aws.EventScheduledChange, aws.EventStateChange}
	received := map[aws.EventKind]float64{}
	actions := map[aws.EventKind]map[Action]float64{}
	for _, k := range kinds {
		received[k] = counterValue(t, receivedMessages, string(k))
		actions[k] = actionCounts(t, k)
	}
	count, sum := latencySample(t)
	_, _ = e.recorder.take()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.c.Start(ctx) }()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return e.queued() == 0, nil
	})
	cancel()
	if startErr := <-done; startErr != nil {
		t.Errorf("Start = %v, want nil once its context ends", startErr)
	}
	if err != nil {
		t.Fatalf("the queue was not emptied: %d messages left", e.queued())
	}

	gotClaims := map[string]claimOutcome{}
	for _, name := range []string{"sim-spot", "sim-retiring", "sim-stopped"} {
		gotClaims[name] = outcome(e.get(name))
	}
	disrupted := claimOutcome{Deleting: true, DisruptingReason: ReasonInterrupted}
	if diff := cmp.Diff(map[string]claimOutcome{"sim-spot": disrupted, "sim-retiring": disrupted, "sim-stopped": disrupted}, gotClaims); diff != "" {
		t.Errorf("nodeclaims (-want +got):\n%s", diff)
	}

	gotReceived := map[aws.EventKind]float64{}
	gotActions := map[aws.EventKind]map[Action]float64{}
	for _, k := range kinds {
		gotReceived[k] = counterValue(t, receivedMessages, string(k)) - received[k]
		gotActions[k] = delta(actions[k], actionCounts(t, k))
	}
	wantReceived := map[aws.EventKind]float64{aws.EventSpotInterruption: 1, aws.EventRebalanceRecommendation: 2, aws.EventScheduledChange: 1, aws.EventStateChange: 1}
	if diff := cmp.Diff(wantReceived, gotReceived); diff != "" {
		t.Errorf("tailor_interruption_received_messages_total increments (-want +got):\n%s", diff)
	}
	wantActions := map[aws.EventKind]map[Action]float64{
		aws.EventSpotInterruption:        {ActionDisrupt: 1},
		aws.EventRebalanceRecommendation: {ActionRecord: 1, ActionNoNodeClaim: 1},
		aws.EventScheduledChange:         {ActionDisrupt: 1},
		aws.EventStateChange:             {ActionDisrupt: 1},
	}
	if diff := cmp.Diff(wantActions, gotActions); diff != "" {
		t.Errorf("tailor_interruption_actions_total increments (-want +got):\n%s", diff)
	}
	if gotCount, gotSum := latencySample(t); gotCount-count != 5 || gotSum-sum != 10 {
		t.Errorf("latency histogram grew by %d samples summing %vs, want 5 samples of 2s", gotCount-count, gotSum-sum)
	}

	// Every event is on the NodeClaim and on the Node ec2sim registered for its instance (found by provider ID: the
	// claims here never went through registration, so status.nodeName is empty).
	spotNode, retiringNode, stoppedNode := e.nodeName(spot), e.nodeName(retiring), e.nodeName(stopped)
	events, _ := e.recorder.take()
	got := map[recordedEvent]int{}
	for _, ev := range events {
		got[ev]++
	}
	want := map[recordedEvent]int{
		{Regarding: "NodeClaim/sim-spot", Related: "Node/" + spotNode, Type: corev1.EventTypeNormal, Reason: ReasonRebalanceRecommended}: 1,
		{Regarding: "Node/" + spotNode, Related: "NodeClaim/sim-spot", Type: corev1.EventTypeNormal, Reason: ReasonRebalanceRecommended}: 1,
		{Regarding: "NodeClaim/sim-spot", Related: "Node/" + spotNode, Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}:         1,
		{Regarding: "Node/" + spotNode, Related: "NodeClaim/sim-spot", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}:         1,
		{Regarding: "NodeClaim/sim-retiring", Related: "Node/" + retiringNode, Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}: 1,
		{Regarding: "Node/" + retiringNode, Related: "NodeClaim/sim-retiring", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}: 1,
		{Regarding: "NodeClaim/sim-stopped", Related: "Node/" + stoppedNode, Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}:   1,
		{Regarding: "Node/" + stoppedNode, Related: "NodeClaim/sim-stopped", Type: corev1.EventTypeWarning, Reason: ReasonInterrupted}:   1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	msgs := map[string]string{}
	for _, name := range []string{"sim-spot", "sim-retiring", "sim-stopped"} {
		msgs[name] = e.get(name).StatusConditions().Get(apiv1.ConditionTypeDisrupting).Message
	}
	for name, part := range map[string]string{
		"sim-spot":     "spot interruption warning (instance action terminate) for instance " + instanceID(spot.Status.ProviderID),
		"sim-retiring": "scheduled change AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED for instance " + instanceID(retiring.Status.ProviderID),
		"sim-stopped":  "state change to shutting-down for instance " + instanceID(stopped.Status.ProviderID),
	} {
		if !strings.Contains(msgs[name], part) {
			t.Errorf("Disrupting message of %s = %q, want it to contain %q", name, msgs[name], part)
		}
	}
}
