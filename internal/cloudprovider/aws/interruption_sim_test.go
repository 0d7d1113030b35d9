package aws

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// queueLength is how many messages ec2sim holds in the cluster's queue.
func (e *simEnv) queueLength() int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.provider.opts.EndpointURL+"/admin/queues/"+testCluster, nil)
	if err != nil {
		e.t.Fatalf("admin request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("admin queue: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var msgs []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		e.t.Fatalf("decoding queue: %v", err)
	}
	return len(msgs)
}

// raiseEveryEvent launches a spot and an on-demand instance and makes ec2sim send each of the four event kinds,
// plus one malformed message. It returns the spot and on-demand instance ids.
func (e *simEnv) raiseEveryEvent() (spotID, onDemandID string) {
	t := e.t
	ctx := t.Context()
	e.addNodeClass(nodeClass("default"))
	spot := must[*apiv1.NodeClaim](t, "Create spot")(e.provider.Create(ctx, testNodeClaim("nc-spot", "1")))
	od := must[*apiv1.NodeClaim](t, "Create on-demand")(e.provider.Create(ctx, testNodeClaim("nc-od", "1",
		requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand))))
	e.step(2 * time.Second)
	spotID, onDemandID = instanceIDOf(t, spot), instanceIDOf(t, od)

	e.admin("/admin/instances/"+spotID+"/rebalance", "{}")
	e.admin("/admin/instances/"+onDemandID+"/scheduled-change", "{}")
	if err := e.sim.Interrupt(spotID, 2*time.Minute, false); err != nil {
		t.Fatalf("Interrupt: %v", err)
	}
	if err := e.provider.Delete(ctx, od); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	url := must[*sqs.GetQueueUrlOutput](t, "GetQueueUrl")(e.clients.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(testCluster)}))
	sender, ok := e.clients.SQS.(*sqs.Client)
	if !ok {
		t.Fatalf("SQS client is %T, want *sqs.Client", e.clients.SQS)
	}
	// The sender stands in for EventBridge, which the controller's IAM policy is not.
	liftIAMPolicy(t, e)
	if _, err := sender.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String("{not json")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	restoreIAMPolicy(t, e)
	return spotID, onDemandID
}

type eventSummary struct {
	Kind      EventKind
	Instances []string
	Detail    string
}

func summarize(ev Event) eventSummary {
	detail := ev.State + ev.Action + ev.EventTypeCode
	return eventSummary{Kind: ev.Kind, Instances: ev.InstanceIDs, Detail: detail}
}

func wantEvents(spotID, onDemandID string) []eventSummary {
	return []eventSummary{
		{Kind: EventRebalanceRecommendation, Instances: []string{spotID}},
		{Kind: EventScheduledChange, Instances: []string{onDemandID}, Detail: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"},
		{Kind: EventSpotInterruption, Instances: []string{spotID}, Detail: "terminate"},
		{Kind: EventStateChange, Instances: []string{onDemandID}, Detail: "shutting-down"},
	}
}

func TestSimInterruptionQueueParsesEveryKind(t *testing.T) {
	e := newSimEnv(t)
	spotID, onDemandID := e.raiseEveryEvent()
	q, err := NewInterruptionQueue(e.clients.SQS, testCluster, e.clock)
	if err != nil {
		t.Fatalf("NewInterruptionQueue: %v", err)
	}
	msgs, err := q.Receive(t.Context())
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	var got []eventSummary
	for _, m := range msgs {
		got = append(got, summarize(m.Event))
		if err := q.Delete(t.Context(), m); err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if diff := cmp.Diff(wantEvents(spotID, onDemandID), got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if n := e.queueLength(); n != 0 {
		t.Errorf("%d messages left in the queue, want none (handled ones deleted, the malformed one dropped)", n)
	}
}

func TestSimInterruptionQueueRun(t *testing.T) {
	e := newSimEnv(t)
	spotID, onDemandID := e.raiseEveryEvent()
	q, err := NewInterruptionQueue(e.clients.SQS, testCluster, e.clock)
	if err != nil {
		t.Fatalf("NewInterruptionQueue: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var got []eventSummary
	failedOnce := false
	handle := func(_ context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == EventScheduledChange && !failedOnce {
			// A failed handling leaves the message in the queue.
			failedOnce = true
			return errHandle
		}
		got = append(got, summarize(ev))
		if len(got) == 3 {
			cancel()
		}
		return nil
	}
	if err := q.Run(ctx, handle); err != nil {
		t.Errorf("Run = %v, want nil when its context ends", err)
	}
	want := wantEvents(spotID, onDemandID)
	want = slices.Delete(want, 1, 2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("handled events (-want +got):\n%s", diff)
	}
	if n := e.queueLength(); n != 1 {
		t.Errorf("%d messages left in the queue, want the one whose handling failed", n)
	}
}

var errHandle = &handleError{}

type handleError struct{}

func (*handleError) Error() string { return "handler failed" }
