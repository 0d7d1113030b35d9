package ec2sim

import (
	"fmt"
	"net"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Options configure a simulator.
type Options struct {
	// Addr is where Run listens, host:port; the host must be 127.0.0.1. Port 0 picks a free port.
	Addr string
	// Config is the region; nil means DefaultConfig("tailor").
	Config *Config
	// InstanceTypes are the shapes the region sells. Required.
	InstanceTypes []InstanceType
	// Seed makes instance IDs, addresses, placements and injected faults repeatable.
	Seed uint64
	// Clock drives every delay; nil means the real clock.
	Clock clock.WithTicker
	// StateFile, when set, is where the simulator keeps its state (instances, launch templates, capacity, faults,
	// queued messages) so that a restarted simulator carries on; it is read at start if it exists.
	StateFile string
	// Timing are the simulated delays.
	Timing Timing
	// DefaultPoolCapacity is the size of a capacity pool no capacity rule matches. 0 means 1000.
	DefaultPoolCapacity int
	// Faults are injected from the start; the admin API changes them later.
	Faults Faults
	// KubeClient registers Nodes for booted instances; nil means no Nodes are registered.
	KubeClient kubernetes.Interface
	// Log receives what the simulator does; the zero value discards it.
	Log logr.Logger
	// IAMPolicy, when set, is the identity-based IAM policy every API call is evaluated against, as AWS would for
	// the caller's role; a call it does not allow is refused (UnauthorizedOperation, AccessDenied). Its
	// placeholders (<cluster>, <region>, …) are filled from Config. LoadIAMPolicy reads one; nil allows every call.
	IAMPolicy []byte
}

// Timing are the delays of the simulated region, in the injected clock's time.
type Timing struct {
	// LaunchLatency is how long an instance stays pending. Default 2s.
	LaunchLatency time.Duration
	// BootLatency is how long a running instance takes to register its Node. Default 3s.
	BootLatency time.Duration
	// TerminateLatency is how long a terminating instance stays shutting-down. Default 3s.
	TerminateLatency time.Duration
	// InterruptionNotice is the time between a spot interruption warning and the termination. Default 2m, as AWS.
	InterruptionNotice time.Duration
	// TerminatedRetention is how long a terminated instance stays visible to DescribeInstances. Default 1h.
	TerminatedRetention time.Duration
	// TickInterval is how often Run moves instances along and reconciles Nodes. Default 200ms.
	TickInterval time.Duration
}

// Faults are failures injected on purpose. Rates are fractions in [0, 1].
type Faults struct {
	// ThrottleRate of API calls answer a throttling error (EC2 RequestLimitExceeded, ThrottlingException for the
	// JSON services).
	ThrottleRate float64 `json:"throttleRate,omitempty"`
	// ServerErrorRate of API calls answer a 500 or 503.
	ServerErrorRate float64 `json:"serverErrorRate,omitempty"`
	// Latency is added to every API call.
	Latency metav1.Duration `json:"latency,omitempty"`
	// Actions limits throttling, server errors and latency to these actions (for example "CreateFleet",
	// "ReceiveMessage"); empty means every action.
	Actions []string `json:"actions,omitempty"`
	// NeverRegisterRate of launched instances never register a Node.
	NeverRegisterRate float64 `json:"neverRegisterRate,omitempty"`
	// NeverRegisterInstanceTypes never register a Node; wildcards * and ? are allowed.
	NeverRegisterInstanceTypes []string `json:"neverRegisterInstanceTypes,omitempty"`
	// SlowBootRate of launched instances take SlowBootLatency more to register.
	SlowBootRate    float64         `json:"slowBootRate,omitempty"`
	SlowBootLatency metav1.Duration `json:"slowBootLatency,omitempty"`
	// SpotInterruptionsPerHour is the rate at which each running spot instance is interrupted (a warning, then
	// termination after the notice), drawn at launch from the seeded source.
	SpotInterruptionsPerHour float64 `json:"spotInterruptionsPerHour,omitempty"`
	// FleetErrors make CreateFleet fail the overrides they match with an error in its answer's Errors list, as
	// EC2 reports per-override failures of an instant fleet; nothing launches from those pools.
	FleetErrors []FleetErrorFault `json:"fleetErrors,omitempty"`
	// LostFleetResponses is how many of the next CreateFleet calls lose their answer: the fleet launches as asked,
	// then the call answers 500 InternalError, so the caller does not learn what launched. Each such call uses one up,
	// a retry with the same client token included (which would otherwise answer the first call's result); GET
	// /admin/faults shows how many are left.
	LostFleetResponses int `json:"lostFleetResponses,omitempty"`
	// DescribeInstancesDelay makes DescribeInstances eventually consistent, as EC2's is: an instance is invisible to
	// it for this long after its launch. Asked for by ID it answers InvalidInstanceID.NotFound; a filter leaves it
	// out. Other actions (TerminateInstances, the admin API) see it at once.
	DescribeInstancesDelay metav1.Duration `json:"describeInstancesDelay,omitempty"`
}

// CreateFleet error codes FleetErrorFault injects.
const (
	// FleetErrorInsufficientCapacity is a pool with no capacity right now.
	FleetErrorInsufficientCapacity = "InsufficientInstanceCapacity"
	// FleetErrorUnfulfillableCapacity is EC2 unable to fulfil the request as configured.
	FleetErrorUnfulfillableCapacity = "UnfulfillableCapacity"
	// FleetErrorSpotServiceLinkedRole is an account without the AWSServiceRoleForEC2Spot service-linked role whose
	// caller may not create it: every spot override fails.
	FleetErrorSpotServiceLinkedRole = "AuthFailure.ServiceLinkedRoleCreationNotPermitted"
)

// fleetErrorMessages are EC2's messages for the injectable codes.
var fleetErrorMessages = map[string]string{
	FleetErrorInsufficientCapacity: "We currently do not have sufficient %[1]s capacity in the Availability Zone you requested (%[2]s). " +
		"Our system will be working on provisioning additional capacity.",
	FleetErrorUnfulfillableCapacity: "Unable to fulfill capacity due to your request configuration. Please adjust your request and try again.",
	FleetErrorSpotServiceLinkedRole: "The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.",
}

// FleetErrorFault fails the CreateFleet overrides it matches with Code. Empty fields match everything;
// InstanceType and Zone may hold * and ? wildcards. The service-linked-role code applies to spot only.
type FleetErrorFault struct {
	Code         string `json:"code"`
	InstanceType string `json:"instanceType,omitempty"`
	Zone         string `json:"zone,omitempty"`
	CapacityType string `json:"capacityType,omitempty"`
}

func (f FleetErrorFault) matches(instanceType, zone, capacityType string) bool {
	if f.Code == FleetErrorSpotServiceLinkedRole && capacityType != "spot" {
		return false
	}
	return (f.InstanceType == "" || matchWildcard(f.InstanceType, instanceType)) &&
		(f.Zone == "" || matchWildcard(f.Zone, zone)) &&
		(f.CapacityType == "" || f.CapacityType == capacityType)
}

// message is EC2's message for the fault's code.
func (f FleetErrorFault) message(instanceType, zone string) string {
	if f.Code == FleetErrorInsufficientCapacity {
		return fmt.Sprintf(fleetErrorMessages[f.Code], instanceType, zone)
	}
	return fleetErrorMessages[f.Code]
}

// Validate checks the rates and durations.
func (f Faults) Validate() error {
	for name, rate := range map[string]float64{
		"throttleRate": f.ThrottleRate, "serverErrorRate": f.ServerErrorRate,
		"neverRegisterRate": f.NeverRegisterRate, "slowBootRate": f.SlowBootRate,
	} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("faults.%s %v: must be a fraction between 0 and 1", name, rate)
		}
	}
	if f.Latency.Duration < 0 || f.SlowBootLatency.Duration < 0 {
		return fmt.Errorf("faults.latency and faults.slowBootLatency must not be negative")
	}
	if f.LostFleetResponses < 0 {
		return fmt.Errorf("faults.lostFleetResponses %d: must not be negative", f.LostFleetResponses)
	}
	if f.DescribeInstancesDelay.Duration < 0 {
		return fmt.Errorf("faults.describeInstancesDelay %s: must not be negative", f.DescribeInstancesDelay.Duration)
	}
	if f.SpotInterruptionsPerHour < 0 {
		return fmt.Errorf("faults.spotInterruptionsPerHour %v: must not be negative", f.SpotInterruptionsPerHour)
	}
	for i, fe := range f.FleetErrors {
		if _, ok := fleetErrorMessages[fe.Code]; !ok {
			return fmt.Errorf("faults.fleetErrors[%d].code %q: use %s, %s or %s", i, fe.Code,
				FleetErrorInsufficientCapacity, FleetErrorUnfulfillableCapacity, FleetErrorSpotServiceLinkedRole)
		}
		if fe.CapacityType != "" && fe.CapacityType != "spot" && fe.CapacityType != "on-demand" {
			return fmt.Errorf("faults.fleetErrors[%d].capacityType %q: use \"spot\", \"on-demand\" or leave it empty for both", i, fe.CapacityType)
		}
		if fe.Code == FleetErrorSpotServiceLinkedRole && fe.CapacityType == "on-demand" {
			return fmt.Errorf("faults.fleetErrors[%d]: %s concerns spot only", i, fe.Code)
		}
	}
	return nil
}

func (o *Options) complete() error {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("address %q: must be 127.0.0.1:<port>: %w", o.Addr, err)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("address %q: ec2sim listens only on loopback: use 127.0.0.1:<port>", o.Addr)
	}
	if o.Config == nil {
		o.Config = DefaultConfig("tailor")
	} else if err := o.Config.complete(); err != nil {
		return fmt.Errorf("ec2sim config: %w", err)
	}
	if len(o.InstanceTypes) == 0 {
		return fmt.Errorf("no instance types: pass the catalogue's (InstanceTypesFromCatalog) or a list of your own")
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.DefaultPoolCapacity < 0 {
		return fmt.Errorf("default pool capacity %d: must not be negative", o.DefaultPoolCapacity)
	}
	if o.DefaultPoolCapacity == 0 {
		o.DefaultPoolCapacity = 1000
	}
	t := &o.Timing
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&t.LaunchLatency, 2 * time.Second},
		{&t.BootLatency, 3 * time.Second},
		{&t.TerminateLatency, 3 * time.Second},
		{&t.InterruptionNotice, 2 * time.Minute},
		{&t.TerminatedRetention, time.Hour},
		{&t.TickInterval, 200 * time.Millisecond},
	} {
		if *d.v < 0 {
			return fmt.Errorf("timing: delays must not be negative")
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return o.Faults.Validate()
}
