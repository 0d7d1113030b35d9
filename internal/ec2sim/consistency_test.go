package ec2sim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// putFaults replaces the faults through the admin API, as a chaos run does.
func (h *harness) putFaults(body string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodPut, h.url+"/admin/faults", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("PUT /admin/faults: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("PUT /admin/faults %s: %s", body, resp.Status)
	}
}

// A lost CreateFleet answer: the fleet launches, the call answers 500 InternalError, and so does a retry with the
// same client token while lost answers are left; the next retry learns the instance the first call launched.
func TestLostFleetResponse(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")
	h.putFaults(`{"lostFleetResponses": 2}`)

	in := h.fleetInput(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"})
	in.ClientToken = aws.String("token-lost")
	for attempt := range 2 {
		if _, err := h.ec2.CreateFleet(ctx, in); errorCode(err) != "InternalError" {
			t.Fatalf("CreateFleet attempt %d = %v, want InternalError", attempt+1, err)
		}
	}
	if n := len(h.sim.Instances()); n != 1 {
		t.Fatalf("%d instances after two lost answers of one request, want 1 (the first launched, the retry replayed it)", n)
	}
	if left := h.sim.Faults().LostFleetResponses; left != 0 {
		t.Errorf("lostFleetResponses left = %d, want 0", left)
	}
	out, err := h.ec2.CreateFleet(ctx, in)
	if err != nil {
		t.Fatalf("CreateFleet after the lost answers: %v", err)
	}
	if ids := launchedIDs(out); len(ids) != 1 || ids[0] != h.sim.Instances()[0].ID {
		t.Errorf("the retry answered %v, want the instance the lost call launched (%s)", ids, h.sim.Instances()[0].ID)
	}
	if err := (Faults{LostFleetResponses: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "lostFleetResponses") {
		t.Errorf("Validate of a negative lostFleetResponses = %v, want an error naming it", err)
	}
}

// DescribeInstances is eventually consistent under describeInstancesDelay: a new instance is missing from filtered
// answers and unknown by ID (InvalidInstanceID.NotFound) until the delay has passed; the admin API sees it at once.
func TestDescribeInstancesDelay(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	lt := h.launchTemplate("lt-default", "x86_64", "")
	older := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))[0]
	h.step(time.Minute)
	if err := h.sim.SetFaults(Faults{DescribeInstancesDelay: metav1.Duration{Duration: 30 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	id := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))[0]

	byTag := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:tailor.sh/nodepool"), Values: []string{"default"}}}}
	describe := func() []string {
		t.Helper()
		out, err := h.ec2.DescribeInstances(ctx, byTag)
		if err != nil {
			t.Fatalf("DescribeInstances: %v", err)
		}
		var ids []string
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
		return ids
	}
	if got := describe(); len(got) != 1 || got[0] != older {
		t.Errorf("DescribeInstances by tag right after the launch = %v, want only the older %s", got, older)
	}
	if _, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}); errorCode(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("DescribeInstances by ID right after the launch = %v, want InvalidInstanceID.NotFound", err)
	}
	if n := len(h.sim.Instances()); n != 2 {
		t.Errorf("the admin API lists %d instances, want both at once", n)
	}
	h.step(30 * time.Second)
	if got := describe(); len(got) != 2 {
		t.Errorf("DescribeInstances by tag after the delay = %v, want both", got)
	}
	if _, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Errorf("DescribeInstances by ID after the delay: %v", err)
	}
}
