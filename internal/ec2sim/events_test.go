package ec2sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

// admin sends a JSON request to the admin API and decodes the answer into out (when not nil).
func (h *harness) admin(method, path string, body any, out any) int {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			h.t.Fatalf("encoding admin body: %v", err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, r)
	if err != nil {
		h.t.Fatalf("admin request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			h.t.Fatalf("decoding admin answer: %v", err)
		}
	}
	return resp.StatusCode
}

// queueURL is the URL of the default queue, from GetQueueUrl.
func (h *harness) queueURL() string {
	h.t.Helper()
	out, err := h.sqs.GetQueueUrl(h.t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String("tailor")})
	if err != nil {
		h.t.Fatalf("GetQueueUrl: %v", err)
	}
	return aws.ToString(out.QueueUrl)
}

// drain receives and deletes every visible message and returns "detail-type instance-id [state]" for each.
func (h *harness) drain() []string {
	h.t.Helper()
	url := h.queueURL()
	var got []string
	for {
		out, err := h.sqs.ReceiveMessage(h.t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			h.t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			got = append(got, describeEvent(h.t, aws.ToString(m.Body)))
			if _, err := h.sqs.DeleteMessage(h.t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				h.t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
}

func describeEvent(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		DetailType string         `json:"detail-type"`
		Source     string         `json:"source"`
		Detail     map[string]any `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("message body is not an EventBridge event: %v\n%s", err, body)
	}
	s := e.DetailType
	if id, ok := e.Detail["instance-id"].(string); ok {
		s += " " + id
	}
	if st, ok := e.Detail["state"].(string); ok {
		s += " " + st
	}
	if a, ok := e.Detail["instance-action"].(string); ok {
		s += " " + a
	}
	if ents, ok := e.Detail["affectedEntities"].([]any); ok {
		for _, ent := range ents {
			s += " " + ent.(map[string]any)["entityValue"].(string)
		}
		s += " " + e.Detail["eventTypeCategory"].(string)
	}
	return s
}

func TestSpotInterruptionThroughAdminAndSQS(t *testing.T) {
	h := newHarness(t, nil)
	lt := h.launchTemplate("lt-default", "x86_64", "")
	ids := launchedIDs(h.fleet(lt, "spot", 2, [2]string{"m5.large", "us-east-1a"}))
	h.step(2 * time.Second)
	id := ids[0]

	var answer map[string]string
	if code := h.admin(http.MethodPost, "/admin/instances/"+id+"/interrupt", map[string]any{"notice": "30s", "rebalance": true}, &answer); code != http.StatusOK {
		t.Fatalf("interrupt: status %d %v", code, answer)
	}
	want := []string{
		"EC2 Instance Rebalance Recommendation " + id,
		"EC2 Spot Instance Interruption Warning " + id + " terminate",
	}
	if diff := cmp.Diff(want, h.drain()); diff != "" {
		t.Errorf("events at the warning (-want +got):\n%s", diff)
	}
	h.step(29 * time.Second)
	if got := h.drain(); len(got) != 0 {
		t.Errorf("events before the notice ends: %v", got)
	}
	h.step(time.Second)
	h.step(3 * time.Second)
	want = []string{
		"EC2 Instance State-change Notification " + id + " shutting-down",
		"EC2 Instance State-change Notification " + id + " terminated",
	}
	if diff := cmp.Diff(want, h.drain()); diff != "" {
		t.Errorf("events at termination (-want +got):\n%s", diff)
	}
	out, err := h.ec2.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	i := out.Reservations[0].Instances[0]
	if i.State.Name != "terminated" || aws.ToString(i.StateReason.Code) != "Server.SpotInstanceTermination" {
		t.Errorf("interrupted instance is %s (%s), want terminated by Server.SpotInstanceTermination", i.State.Name, aws.ToString(i.StateReason.Code))
	}

	if code := h.admin(http.MethodPost, "/admin/instances/"+ids[1]+"/scheduled-change", map[string]any{}, nil); code != http.StatusOK {
		t.Fatalf("scheduled-change: status %d", code)
	}
	if diff := cmp.Diff([]string{"AWS Health Event " + ids[1] + " scheduledChange"}, h.drain()); diff != "" {
		t.Errorf("health event (-want +got):\n%s", diff)
	}
	var errAnswer map[string]string
	if code := h.admin(http.MethodPost, "/admin/instances/i-0123456789abcdef0/interrupt", nil, &errAnswer); code != http.StatusNotFound {
		t.Errorf("interrupting an unknown instance: status %d, want 404 (%v)", code, errAnswer)
	}
	od := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))[0]
	if code := h.admin(http.MethodPost, "/admin/instances/"+od+"/interrupt", nil, &errAnswer); code != http.StatusBadRequest ||
		!strings.Contains(errAnswer["error"], "not spot") {
		t.Errorf("interrupting an on-demand instance: status %d %v, want 400 naming spot", code, errAnswer)
	}
}

func TestRandomSpotInterruptions(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Faults.SpotInterruptionsPerHour = 1
		o.Timing.TerminatedRetention = 24 * time.Hour
	})
	lt := h.launchTemplate("lt-default", "x86_64", "")
	ids := launchedIDs(h.fleet(lt, "spot", 20, [2]string{"m5.large", "us-east-1a"}))
	h.step(6 * time.Hour)
	warned := map[string]bool{}
	for _, e := range h.drain() {
		if strings.HasPrefix(e, "EC2 Spot Instance Interruption Warning") {
			warned[strings.Fields(e)[5]] = true
		}
	}
	terminated := 0
	for _, i := range h.sim.Instances() {
		if i.State == stateTerminated {
			terminated++
			if !warned[i.ID] {
				t.Errorf("%s was terminated without a warning", i.ID)
			}
		}
	}
	// With one interruption per instance-hour, nearly all of 20 instances go within six hours; none survive forever.
	if terminated < 15 || terminated > len(ids) {
		t.Errorf("%d of %d spot instances interrupted in 6h at 1/h, want most", terminated, len(ids))
	}
}

func TestSQSProtocol(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	url := h.queueURL()
	if !strings.HasPrefix(url, h.url+"/123456789012/tailor") {
		t.Errorf("queue URL %s is not on the simulator", url)
	}
	_, err := h.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	if got := errorCode(err); got != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("unknown queue: code %q, want the Query-compatible AWS.SimpleQueueService.NonExistentQueue", got)
	}
	var qne *sqstypes.QueueDoesNotExist
	if !errors.As(err, &qne) {
		t.Errorf("unknown queue: %T is not *types.QueueDoesNotExist", err)
	}

	// A long poll waits for the next message and returns as soon as one is sent.
	got := make(chan []sqstypes.Message, 1)
	go func() {
		out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
		if err != nil {
			t.Errorf("ReceiveMessage: %v", err)
			got <- nil
			return
		}
		got <- out.Messages
	}()
	for !h.clock.HasWaiters() {
		time.Sleep(time.Millisecond) // waiting for the poll to park on the fake clock, not for simulated time
	}
	if _, err := h.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"hello":"world"}`)}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	msgs := <-got
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != `{"hello":"world"}` || msgs[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("long poll got %+v, want the sent message received once", msgs)
	}

	// Not deleted, it comes back after the visibility timeout.
	out, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(out.Messages) != 0 {
		t.Errorf("invisible message received again: %v %+v", err, out)
	}
	h.step(31 * time.Second)
	out, err = h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), VisibilityTimeout: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(out.Messages) != 1 || out.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("after the visibility timeout: %v %+v, want the message with receive count 2", err, out)
	}
	// The first receipt handle is stale now: deleting with it leaves the message.
	if _, err := h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage with a stale handle: %v", err)
	}
	if _, err := h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	h.step(time.Minute)
	if left := h.drain(); len(left) != 0 {
		t.Errorf("deleted message came back: %v", left)
	}
	_, err = h.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
	if got := errorCode(err); got != "ReceiptHandleIsInvalid" {
		t.Errorf("garbage receipt handle: code %q", got)
	}
	_, err = h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	if got := errorCode(err); got != "ValidationException" {
		t.Errorf("11 messages: code %q", got)
	}
}
