package ec2sim

import (
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// benchHarness is a simulator already holding 1000 running instances.
func benchHarness(b *testing.B, withStateFile bool) (*harness, string) {
	h := newHarness(b, func(o *Options) {
		o.DefaultPoolCapacity = 1_000_000
		if withStateFile {
			o.StateFile = filepath.Join(b.TempDir(), "state.json")
		}
	})
	lt := h.launchTemplate("lt-bench", "x86_64", "")
	for _, zone := range []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a"} {
		h.fleet(lt, "on-demand", 250, [2]string{"m5.large", zone})
	}
	h.step(5 * 1e9)
	return h, lt
}

// BenchmarkDescribeInstances lists 1000 instances by tag through the SDK, as a provider's List does.
func BenchmarkDescribeInstances(b *testing.B) {
	h, _ := benchHarness(b, false)
	in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:tailor.sh/nodepool"), Values: []string{"default"}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}},
	}}
	for b.Loop() {
		n := 0
		p := ec2.NewDescribeInstancesPaginator(h.ec2, in)
		for p.HasMorePages() {
			out, err := p.NextPage(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			n += len(out.Reservations)
		}
		if n != 1000 {
			b.Fatalf("listed %d instances, want 1000", n)
		}
	}
}

// BenchmarkCreateFleet launches one instance into a region of 1000, with and without the state file written on
// every launch.
func BenchmarkCreateFleet(b *testing.B) {
	for _, withState := range []bool{false, true} {
		name := "memory"
		if withState {
			name = "state-file"
		}
		b.Run(name, func(b *testing.B) {
			h, lt := benchHarness(b, withState)
			for b.Loop() {
				out := h.fleet(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"}, [2]string{"m5.xlarge", "us-east-1b"})
				if len(launchedIDs(out)) != 1 {
					b.Fatal("no instance launched")
				}
			}
		})
	}
}

// BenchmarkAllocateIP picks the next address of a subnet in a region of 5000 live instances, 4000 of them in that
// subnet, as every launch of a scale-up does.
func BenchmarkAllocateIP(b *testing.B) {
	h := newHarness(b, func(o *Options) { o.DefaultPoolCapacity = 1_000_000 })
	lt := h.launchTemplate("lt-bench", "x86_64", "")
	for _, zone := range []string{"us-east-1a", "us-east-1a", "us-east-1a", "us-east-1a", "us-east-1b"} {
		h.fleet(lt, "on-demand", 1000, [2]string{"m5.large", zone})
	}
	c := h.sim.cloud
	subnet := c.subnets[h.subnetIDs()["us-east-1a"]]
	for b.Loop() {
		c.mu.Lock()
		ip, err := c.allocateIP(subnet)
		c.mu.Unlock()
		if err != nil || ip != "10.0.15.164" {
			b.Fatalf("allocateIP: %q, %v; want 10.0.15.164", ip, err)
		}
	}
}

// BenchmarkLaunch5000 launches 5000 instances in fleets of 10 into an empty region, without a state file.
func BenchmarkLaunch5000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, func(o *Options) { o.DefaultPoolCapacity = 1_000_000 })
		lt := h.launchTemplate("lt-bench", "x86_64", "")
		zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
		b.StartTimer()
		for i := range 500 {
			h.fleet(lt, "on-demand", 10, [2]string{"m5.large", zones[i%len(zones)]})
		}
	}
}
