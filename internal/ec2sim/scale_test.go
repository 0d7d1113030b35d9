package ec2sim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// stateWrites is how many times the simulator has rewritten its state file.
func (h *harness) stateWrites() int {
	h.sim.cloud.mu.Lock()
	defer h.sim.cloud.mu.Unlock()
	return h.sim.cloud.stateWrites
}

// privateIPs returns the private addresses of instances, in the order of ids, as DescribeInstances answers.
func (h *harness) privateIPs(ids []string) []string {
	h.t.Helper()
	out, err := h.ec2.DescribeInstances(h.t.Context(), &ec2.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		h.t.Fatalf("DescribeInstances: %v", err)
	}
	byID := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			byID[aws.ToString(i.InstanceId)] = aws.ToString(i.PrivateIpAddress)
		}
	}
	ips := make([]string, 0, len(ids))
	for _, id := range ids {
		ips = append(ips, byID[id])
	}
	return ips
}

func (h *harness) terminate(ids ...string) {
	h.t.Helper()
	if _, err := h.ec2.TerminateInstances(h.t.Context(), &ec2.TerminateInstancesInput{InstanceIds: ids}); err != nil {
		h.t.Fatalf("TerminateInstances: %v", err)
	}
}

// freeIPs is DescribeSubnets' AvailableIpAddressCount of the subnet of zone.
func (h *harness) freeIPs(zone string) int32 {
	h.t.Helper()
	out, err := h.ec2.DescribeSubnets(h.t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{h.subnetIDs()[zone]}})
	if err != nil || len(out.Subnets) != 1 {
		h.t.Fatalf("DescribeSubnets %s: %v", zone, err)
	}
	return aws.ToInt32(out.Subnets[0].AvailableIpAddressCount)
}

// The Node work of a tick (registering, reclaiming and deleting many Nodes) and a TerminateInstances of many
// instances each rewrite the state file once, not once per Node or instance: the file holds every instance, so a
// rewrite per item made a scale-up quadratic. After the tick the file still records every Node created and deleted.
func TestNodeWorkWritesStateOnce(t *testing.T) {
	const n = 50
	stateFile := filepath.Join(t.TempDir(), "state.json")
	kube := fake.NewClientset()
	h := newHarness(t, func(o *Options) { o.StateFile = stateFile; o.KubeClient = kube })
	lt := h.launchTemplate("lt-default", "x86_64", "")
	ids := launchedIDs(h.fleet(lt, "on-demand", n, [2]string{"m5.large", "us-east-1a"}))
	h.step(2 * time.Second) // running; the kubelets register after the 3 s boot latency

	before := h.stateWrites()
	h.step(3 * time.Second)
	nodes, err := kube.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != n {
		t.Fatalf("after the boot: %v, %d Nodes, want %d", err, len(nodes.Items), n)
	}
	if got := h.stateWrites() - before; got > 1 {
		t.Errorf("a tick registering %d Nodes wrote the state file %d times, want at most 1", n, got)
	}

	before = h.stateWrites()
	h.terminate(ids...) // reclaims the Nodes (their kubelets stop) before shutting the instances down
	if got := h.stateWrites() - before; got != 1 {
		t.Errorf("TerminateInstances of %d instances with Nodes wrote the state file %d times, want 1", n, got)
	}

	before = h.stateWrites()
	h.step(3 * time.Second) // terminated: their Nodes are deleted
	nodes, err = kube.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 0 {
		t.Fatalf("after the termination: %v, %d Nodes, want none", err, len(nodes.Items))
	}
	// One write for the instances turning terminated (under the lock, before the Node work), one for the Nodes.
	if got := h.stateWrites() - before; got > 2 {
		t.Errorf("a tick deleting %d Nodes wrote the state file %d times, want at most 2", n, got)
	}

	restarted := newHarness(t, func(o *Options) { o.StateFile = stateFile })
	for _, in := range restarted.sim.Instances() {
		if !in.NodeCreated || !in.NodeDeleted {
			t.Errorf("instance %s after a restart: NodeCreated %t NodeDeleted %t, want both", in.ID, in.NodeCreated, in.NodeDeleted)
		}
	}
}

// Each instance takes the lowest free address of its subnet after the four reserved ones; a shutting-down
// instance still holds its address, a terminated one gives it back, and a restart from the state file knows
// which addresses are held.
func TestAddressesLowestFreeAcrossRestart(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	withState := func(o *Options) { o.StateFile = stateFile }
	zoneA := [2]string{"m5.large", "us-east-1a"}
	h := newHarness(t, withState)
	lt := h.launchTemplate("lt-default", "x86_64", "")
	const subnetSize = 4096 - 5 // the /20 of us-east-1a, less the four reserves and the broadcast address

	first := launchedIDs(h.fleet(lt, "on-demand", 6, zoneA))
	want := []string{"10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9"}
	if diff := cmp.Diff(want, h.privateIPs(first)); diff != "" {
		t.Errorf("first launch (-want +got):\n%s", diff)
	}
	h.step(2 * time.Second)
	h.terminate(first[1], first[3])
	shuttingDown := launchedIDs(h.fleet(lt, "on-demand", 1, zoneA))
	if diff := cmp.Diff([]string{"10.0.0.10"}, h.privateIPs(shuttingDown)); diff != "" {
		t.Errorf("launch while .5 and .7 are shutting down (-want +got):\n%s", diff)
	}
	h.step(3 * time.Second) // .5 and .7 terminated
	if got := h.freeIPs("us-east-1a"); got != subnetSize-5 {
		t.Errorf("free addresses with 5 live instances: %d, want %d", got, subnetSize-5)
	}
	reused := launchedIDs(h.fleet(lt, "on-demand", 1, zoneA))
	if diff := cmp.Diff([]string{"10.0.0.5"}, h.privateIPs(reused)); diff != "" {
		t.Errorf("launch after .5 and .7 were freed (-want +got):\n%s", diff)
	}

	restarted := newHarness(t, withState)
	if got := restarted.freeIPs("us-east-1a"); got != subnetSize-6 {
		t.Errorf("free addresses after the restart: %d, want %d", got, subnetSize-6)
	}
	after := launchedIDs(restarted.fleet(lt, "on-demand", 3, zoneA))
	if diff := cmp.Diff([]string{"10.0.0.7", "10.0.0.11", "10.0.0.12"}, restarted.privateIPs(after)); diff != "" {
		t.Errorf("launch after the restart (-want +got):\n%s", diff)
	}
	other := launchedIDs(restarted.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1b"}))
	if diff := cmp.Diff([]string{"10.0.16.4"}, restarted.privateIPs(other)); diff != "" {
		t.Errorf("first launch into us-east-1b (-want +got):\n%s", diff)
	}
}

// A full subnet answers InsufficientFreeAddressesInSubnet until an instance in it terminates.
func TestSubnetFull(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Config = DefaultConfig("tailor")
		o.Config.Subnets = []SubnetConfig{{Zone: "us-east-1a", CIDR: "10.0.0.0/28"}}
	})
	lt := h.launchTemplate("lt-default", "x86_64", "")
	zoneA := [2]string{"m5.large", "us-east-1a"}
	ids := launchedIDs(h.fleet(lt, "on-demand", 12, zoneA))
	if len(ids) != 11 {
		t.Fatalf("launched %d instances into a /28, want 11", len(ids))
	}
	if got := h.privateIPs(ids)[10]; got != "10.0.0.14" {
		t.Errorf("last address of the /28: %s, want 10.0.0.14", got)
	}
	if got := h.freeIPs("us-east-1a"); got != 0 {
		t.Errorf("free addresses of the full /28: %d, want 0", got)
	}
	out, err := h.ec2.CreateFleet(t.Context(), h.fleetInput(lt, "on-demand", 1, zoneA))
	if err != nil || len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "InsufficientFreeAddressesInSubnet" {
		t.Fatalf("launch into the full /28: %v %+v, want the error InsufficientFreeAddressesInSubnet", err, out)
	}
	h.step(2 * time.Second)
	h.terminate(ids[7])
	h.step(3 * time.Second)
	again := launchedIDs(h.fleet(lt, "on-demand", 1, zoneA))
	if diff := cmp.Diff([]string{"10.0.0.11"}, h.privateIPs(again)); diff != "" {
		t.Errorf("launch after .11 was freed (-want +got):\n%s", diff)
	}
}

// The address book answers what a walk over the subnet's held addresses answers, over a seeded run of launches
// and terminations that fills a /26 and empties it again, and with held addresses given in any order (as a state
// file may list them) or outside the subnet (a state file written under another config).
func TestAddressBookMatchesScan(t *testing.T) {
	subnet := &SubnetConfig{ID: "subnet-test", CIDR: "10.0.0.64/26"}
	book, err := newAddressBook(subnet)
	if err != nil {
		t.Fatalf("newAddressBook: %v", err)
	}
	held := map[string]bool{} // the live instances' addresses, the reference
	scan := func() (string, bool) {
		for n := 4; n < 63; n++ {
			if ip := fmt.Sprintf("10.0.0.%d", 64+n); !held[ip] {
				return ip, true
			}
		}
		return "", false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 2000 {
		wantIP, wantOK := scan()
		gotIP, gotOK := book.lowest()
		if gotIP != wantIP || gotOK != wantOK {
			t.Fatalf("step %d: lowest %q %t, want %q %t", step, gotIP, gotOK, wantIP, wantOK)
		}
		if got, want := book.free(), 59-len(held); got != want {
			t.Fatalf("step %d: %d free, want %d", step, got, want)
		}
		// Mostly launches in the first half, mostly terminations in the second.
		launch := rng.IntN(2000) > step-200
		switch {
		case launch && wantOK:
			held[wantIP] = true
			book.hold(wantIP)
		case !launch && len(held) > 0:
			ips := slices.Sorted(maps.Keys(held))
			ip := ips[rng.IntN(len(ips))]
			delete(held, ip)
			book.release(ip)
		}
	}

	rebuilt, err := newAddressBook(subnet)
	if err != nil {
		t.Fatalf("newAddressBook: %v", err)
	}
	for _, ip := range []string{"10.0.0.90", "10.0.0.70", "10.0.0.68", "10.0.0.1", "10.0.0.69"} {
		rebuilt.hold(ip)
	}
	var got []string
	for range 3 {
		ip, _ := rebuilt.lowest()
		got = append(got, ip)
		rebuilt.hold(ip)
	}
	if diff := cmp.Diff([]string{"10.0.0.71", "10.0.0.72", "10.0.0.73"}, got); diff != "" {
		t.Errorf("addresses after holding .90 .70 .68 .1 .69 (-want +got):\n%s", diff)
	}
	if got, want := rebuilt.free(), 59-8; got != want {
		t.Errorf("%d free, want %d (10.0.0.1 is outside the subnet but its instance is counted, as before)", got, want)
	}
}
