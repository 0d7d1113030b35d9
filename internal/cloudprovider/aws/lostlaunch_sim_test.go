package aws

import (
	"testing"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// liveInstancesOf lists ec2sim's pending or running instances tagged for the NodeClaim.
func (e *simEnv) liveInstancesOf(claim string) []string {
	var ids []string
	for _, i := range e.sim.Instances() {
		if i.Tags[TagNodeClaim] == claim && (i.State == "pending" || i.State == "running") {
			ids = append(ids, i.ID)
		}
	}
	return ids
}

// A CreateFleet whose answer is lost (every SDK retry included) launched an instance Tailor does not know of. The
// next Create of the claim must end with that one instance, not a second: when EC2 already lists it, by its tags;
// when DescribeInstances still lags the launch, by sending the same request with the same client token again, which
// EC2 answers with what the first launched.
func TestSimCreateAfterLostLaunchAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults string
	}{
		{name: "EC2 lists the instance", faults: `{"lostFleetResponses": 10}`},
		{name: "DescribeInstances lags the launch", faults: `{"lostFleetResponses": 10, "describeInstancesDelay": "30s"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSimEnv(t)
			e.addNodeClass(nodeClass("default"))
			e.putFaults(tc.faults)
			if _, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1")); err == nil {
				t.Fatal("Create succeeded although every answer of CreateFleet was lost")
			}
			if n := len(e.liveInstancesOf("nc-1")); n != 1 {
				t.Fatalf("%d instances after the lost answers, want the 1 the first call launched", n)
			}
			e.step(2 * time.Second) // the controller retries after a backoff
			got, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1"))
			if err != nil {
				t.Fatalf("Create retried: %v", err)
			}
			live := e.liveInstancesOf("nc-1")
			if len(live) != 1 {
				t.Fatalf("instances of nc-1 after the retried Create = %v, want one", live)
			}
			if id := instanceIDOf(t, got); id != live[0] {
				t.Errorf("the retried Create returned %s, want the instance the lost call launched, %s", id, live[0])
			}
			if got.Labels[apiv1.InstanceTypeLabelKey] == "" || got.Status.Capacity.Cpu().IsZero() {
				t.Errorf("the retried Create returned a claim without its instance type or capacity: %+v", got)
			}
		})
	}
}
