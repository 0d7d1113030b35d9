package aws

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/awshttp"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/ec2sim/ec2simtest"
	"github.com/tailor-sh/tailor/internal/iampolicy"
)

const (
	testCluster = "tailor-test"
	testRegion  = "us-east-1"
)

var simStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// simTypes are a few shapes with known prices. Cheapest spot overall: c6g.large (arm64) in us-east-1a at 0.025;
// cheapest amd64 spot: m5.large in us-east-1b at 0.030; t3.micro is on-demand only, in us-east-1a only.
func simTypes() []ec2sim.InstanceType {
	offer := func(od float64, spot ...float64) []ec2sim.Offering {
		var out []ec2sim.Offering
		for i, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
			out = append(out, ec2sim.Offering{Zone: z, CapacityType: "on-demand", PricePerHour: od})
			if i < len(spot) {
				out = append(out, ec2sim.Offering{Zone: z, CapacityType: "spot", PricePerHour: spot[i]})
			}
		}
		return out
	}
	return []ec2sim.InstanceType{
		{Name: "m5.large", Arch: "amd64", VCPUs: 2, MemoryMiB: 8192, ENIs: 3, IPsPerENI: 10, Offerings: offer(0.096, 0.035, 0.030, 0.040)},
		{Name: "m5.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, ENIs: 4, IPsPerENI: 15, Offerings: offer(0.192, 0.060, 0.070, 0.065)},
		{Name: "c6g.large", Arch: "arm64", VCPUs: 2, MemoryMiB: 4096, ENIs: 3, IPsPerENI: 10, Offerings: offer(0.068, 0.025, 0.026, 0.027)},
		{Name: "t3.micro", Arch: "amd64", VCPUs: 2, MemoryMiB: 1024, ENIs: 2, IPsPerENI: 2,
			Offerings: []ec2sim.Offering{{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 0.0104}}},
	}
}

// countingTransport counts the AWS actions sent and the throttled answers, to show retries happened.
type countingTransport struct {
	next      http.RoundTripper
	mu        sync.Mutex
	requests  map[string]int
	throttled map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	action := r.Header.Get("X-Amz-Target")
	if action == "" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		values, _ := url.ParseQuery(string(body))
		action = values.Get("Action")
	}
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[action]++
	if err == nil && resp.StatusCode >= 400 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("RequestLimitExceeded")) || bytes.Contains(body, []byte("Throttling")) {
			c.throttled[action]++
		}
	}
	return resp, err
}

func (c *countingTransport) counts(action string) (requests, throttled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[action], c.throttled[action]
}

// simEnv is ec2sim on a 127.0.0.1 listener, the provider on the real SDK pointed at it, both on one fake clock,
// and a fake Kubernetes reader holding the EC2NodeClasses.
type simEnv struct {
	t         *testing.T
	sim       *ec2sim.Sim
	clock     *clocktesting.FakeClock
	provider  *Provider
	clients   Clients
	kube      client.Client
	transport *countingTransport
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	return newSimEnvWith(t, simTypes(), nil)
}

// testKubernetesVersion is the cluster version of the tests: the newest ec2sim publishes AMIs for by default.
const testKubernetesVersion = "1.35"

// newSimEnvWith starts ec2sim selling types; with a kube client it registers Nodes for booted instances.
func newSimEnvWith(t *testing.T, types []ec2sim.InstanceType, nodes kubernetes.Interface) *simEnv {
	t.Helper()
	return newSimEnvConfig(t, ec2sim.DefaultConfig(testCluster), types, nodes)
}

// newSimEnvConfig is newSimEnvWith on a region of the given config.
func newSimEnvConfig(t *testing.T, cfg *ec2sim.Config, types []ec2sim.InstanceType, nodes kubernetes.Interface) *simEnv {
	t.Helper()
	// Credentials come from the SDK's default chain: here, the environment; nothing may reach outside 127.0.0.1.
	ec2simtest.IsolateAWSEnv(t)

	clk := clocktesting.NewFakeClock(simStart)
	sim, err := ec2sim.New(ec2sim.Options{
		Config:        cfg,
		InstanceTypes: types,
		KubeClient:    nodes,
		Seed:          42,
		Clock:         clk,
		Timing:        ec2sim.Timing{LaunchLatency: time.Second, BootLatency: time.Second, TerminateLatency: 3 * time.Second},
		// Every call the provider makes must pass the IAM policy docs/aws-iam.md documents.
		IAMPolicy: iampolicy.Controller,
	})
	if err != nil {
		t.Fatalf("ec2sim.New: %v", err)
	}
	endpoint := ec2simtest.Serve(t, sim)

	transport := &countingTransport{next: awshttp.Wrap(http.DefaultTransport), requests: map[string]int{}, throttled: map[string]int{}}
	opts := Options{
		Region: testRegion, ClusterName: testCluster, EndpointURL: endpoint, KubernetesVersion: testKubernetesVersion,
		MaxBackoff: 5 * time.Millisecond, HTTPClient: &http.Client{Transport: transport},
	}
	if err := opts.Complete(); err != nil {
		t.Fatalf("Options.Complete: %v", err)
	}
	clients, err := NewClients(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewClients: %v", err)
	}
	scheme := runtime.NewScheme()
	if err := apiv1.AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&apiv1.EC2NodeClass{}).Build()
	p, err := New(opts, clients, kube, clk)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &simEnv{t: t, sim: sim, clock: clk, provider: p, clients: clients, kube: kube, transport: transport}
}

// liftIAMPolicy lets the next calls through whatever the controller's policy says, for a caller that is not the
// controller; restoreIAMPolicy enforces it again.
func liftIAMPolicy(t *testing.T, e *simEnv) {
	t.Helper()
	if err := e.sim.SetIAMPolicy(nil); err != nil {
		t.Fatalf("SetIAMPolicy: %v", err)
	}
}

func restoreIAMPolicy(t *testing.T, e *simEnv) {
	t.Helper()
	if err := e.sim.SetIAMPolicy(iampolicy.Controller); err != nil {
		t.Fatalf("SetIAMPolicy: %v", err)
	}
}

// step moves the shared clock and lets ec2sim catch up.
func (e *simEnv) step(d time.Duration) {
	e.t.Helper()
	e.clock.Step(d)
	if err := e.sim.Tick(e.t.Context()); err != nil {
		e.t.Fatalf("Tick: %v", err)
	}
}

// nodeClass is the reference EC2NodeClass: discovery-tagged subnets and groups, al2023@latest, an instance
// profile.
func nodeClass(name string) *apiv1.EC2NodeClass {
	nc := ec2simtest.NodeClass(name, testCluster)
	nc.Generation = 1
	return nc
}

// addNodeClass resolves the node class against ec2sim and stores it.
func (e *simEnv) addNodeClass(nc *apiv1.EC2NodeClass) *apiv1.EC2NodeClass {
	e.t.Helper()
	if err := e.provider.ResolveNodeClass(e.t.Context(), nc); err != nil {
		e.t.Fatalf("ResolveNodeClass: %v", err)
	}
	status := nc.Status
	if err := e.kube.Create(e.t.Context(), nc); err != nil {
		e.t.Fatalf("creating EC2NodeClass: %v", err)
	}
	nc.Status = status
	if err := e.kube.Status().Update(e.t.Context(), nc); err != nil {
		e.t.Fatalf("updating EC2NodeClass status: %v", err)
	}
	return nc
}

// updateNodeClass re-resolves a stored node class after mutate changed it.
func (e *simEnv) updateNodeClass(name string, mutate func(*apiv1.EC2NodeClass)) {
	e.t.Helper()
	nc := &apiv1.EC2NodeClass{}
	if err := e.kube.Get(e.t.Context(), client.ObjectKey{Name: name}, nc); err != nil {
		e.t.Fatalf("getting EC2NodeClass: %v", err)
	}
	mutate(nc)
	if err := e.provider.ResolveNodeClass(e.t.Context(), nc); err != nil {
		e.t.Fatalf("ResolveNodeClass: %v", err)
	}
	status := nc.Status
	if err := e.kube.Update(e.t.Context(), nc); err != nil {
		e.t.Fatalf("updating EC2NodeClass: %v", err)
	}
	nc.Status = status
	if err := e.kube.Status().Update(e.t.Context(), nc); err != nil {
		e.t.Fatalf("updating EC2NodeClass status: %v", err)
	}
}

func testNodeClaim(name, cpu string, reqs ...apiv1.NodeSelectorRequirementWithMinValues) *apiv1.NodeClaim {
	return &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{apiv1.NodePoolLabelKey: "default", "team": "a"}},
		Spec: apiv1.NodeClaimSpec{
			Requirements: reqs,
			Resources:    apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
			Taints:       []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}},
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		},
	}
}

func requirement(key string, op corev1.NodeSelectorOperator, values ...string) apiv1.NodeSelectorRequirementWithMinValues {
	return apiv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: op, Values: values}
}

// simInstance is ec2sim's view of one instance.
func (e *simEnv) simInstance(id string) (ec2sim.AdminInstance, bool) {
	for _, i := range e.sim.Instances() {
		if i.ID == id {
			return i, true
		}
	}
	return ec2sim.AdminInstance{}, false
}

func instanceIDOf(t *testing.T, nc *apiv1.NodeClaim) string {
	t.Helper()
	id, err := ParseProviderID(nc.Status.ProviderID)
	if err != nil {
		t.Fatalf("ParseProviderID: %v", err)
	}
	return id
}

// admin posts to ec2sim's admin API.
func (e *simEnv) admin(path string, body string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.provider.opts.EndpointURL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("admin request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("admin %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("admin %s: %s: %s", path, resp.Status, msg)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// putFaults replaces ec2sim's faults through its admin API.
func (e *simEnv) putFaults(body string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPut, e.provider.opts.EndpointURL+"/admin/faults", strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("admin request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("PUT /admin/faults: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("PUT /admin/faults: %s: %s", resp.Status, msg)
	}
}
