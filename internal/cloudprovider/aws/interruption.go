package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// EventKind is the kind of an instance event from the interruption queue (cloudprovider.InterruptionKind).
type EventKind = cloudprovider.InterruptionKind

// The event kinds Tailor acts on, with the EventBridge detail types behind them.
const (
	// EventSpotInterruption: "EC2 Spot Instance Interruption Warning", two minutes before EC2 takes a spot instance.
	EventSpotInterruption = cloudprovider.InterruptionSpot
	// EventRebalanceRecommendation: "EC2 Instance Rebalance Recommendation", a spot instance at elevated risk.
	EventRebalanceRecommendation = cloudprovider.InterruptionRebalance
	// EventStateChange: "EC2 Instance State-change Notification" (stopping, stopped, shutting-down, terminated).
	EventStateChange = cloudprovider.InterruptionStateChange
	// EventScheduledChange: an "AWS Health Event" of category scheduledChange for EC2, such as an instance retirement.
	EventScheduledChange = cloudprovider.InterruptionScheduledChange
)

// Event is one parsed instance event (cloudprovider.InterruptionEvent): InstanceIDs are EC2 instance IDs, the last
// segment of the provider IDs.
type Event = cloudprovider.InterruptionEvent

// ErrUnsupportedEvent is wrapped by ParseEvent's error for a well-formed event of a kind Tailor does not act on.
var ErrUnsupportedEvent = errors.New("unsupported event")

// eventBridgeEvent is an EventBridge event as an SQS target receives it.
type eventBridgeEvent struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

type ec2Detail struct {
	InstanceID     string `json:"instance-id"`
	InstanceAction string `json:"instance-action"`
	State          string `json:"state"`
}

type healthDetail struct {
	Service           string `json:"service"`
	EventTypeCategory string `json:"eventTypeCategory"`
	EventTypeCode     string `json:"eventTypeCode"`
	AffectedEntities  []struct {
		EntityValue string `json:"entityValue"`
	} `json:"affectedEntities"`
}

// ParseEvent reads an EventBridge event from a queue message body.
func ParseEvent(body string) (Event, error) {
	var e eventBridgeEvent
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return Event{}, fmt.Errorf("decoding event: %w", err)
	}
	if e.DetailType == "" || len(e.Detail) == 0 {
		return Event{}, fmt.Errorf("decoding event: no detail-type or detail: not an EventBridge event")
	}
	out := Event{ID: e.ID}
	if e.Time != "" {
		t, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			return Event{}, fmt.Errorf("decoding event %s: time %q: %w", e.ID, e.Time, err)
		}
		out.Time = t
	}
	switch {
	case e.Source == "aws.ec2" && (e.DetailType == detailSpotInterruption || e.DetailType == detailRebalance || e.DetailType == detailStateChange):
		return parseEC2Event(e, out)
	case e.Source == "aws.health" && e.DetailType == detailHealth:
		return parseHealthEvent(e, out)
	}
	return Event{}, fmt.Errorf("event %s from %q of type %q: %w", e.ID, e.Source, e.DetailType, ErrUnsupportedEvent)
}

// EventBridge detail types of the events Tailor acts on.
const (
	detailSpotInterruption = "EC2 Spot Instance Interruption Warning"
	detailRebalance        = "EC2 Instance Rebalance Recommendation"
	detailStateChange      = "EC2 Instance State-change Notification"
	detailHealth           = "AWS Health Event"
)

func parseEC2Event(e eventBridgeEvent, out Event) (Event, error) {
	var d ec2Detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Event{}, fmt.Errorf("decoding %q event %s: %w", e.DetailType, e.ID, err)
	}
	if !strings.HasPrefix(d.InstanceID, "i-") {
		return Event{}, fmt.Errorf("decoding %q event %s: detail.instance-id %q is not an instance id", e.DetailType, e.ID, d.InstanceID)
	}
	out.InstanceIDs = []string{d.InstanceID}
	switch e.DetailType {
	case detailSpotInterruption:
		out.Kind, out.Action = EventSpotInterruption, d.InstanceAction
	case detailRebalance:
		out.Kind = EventRebalanceRecommendation
	default:
		if d.State == "" {
			return Event{}, fmt.Errorf("decoding %q event %s: detail.state is empty", e.DetailType, e.ID)
		}
		out.Kind, out.State = EventStateChange, d.State
	}
	return out, nil
}

func parseHealthEvent(e eventBridgeEvent, out Event) (Event, error) {
	var d healthDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Event{}, fmt.Errorf("decoding %q event %s: %w", e.DetailType, e.ID, err)
	}
	if d.Service != "EC2" || d.EventTypeCategory != "scheduledChange" {
		return Event{}, fmt.Errorf("health event %s of service %q, category %q: %w", e.ID, d.Service, d.EventTypeCategory, ErrUnsupportedEvent)
	}
	for _, a := range d.AffectedEntities {
		if strings.HasPrefix(a.EntityValue, "i-") {
			out.InstanceIDs = append(out.InstanceIDs, a.EntityValue)
		}
	}
	if len(out.InstanceIDs) == 0 {
		return Event{}, fmt.Errorf("decoding health event %s: no instance among detail.affectedEntities", e.ID)
	}
	out.Kind, out.EventTypeCode = EventScheduledChange, d.EventTypeCode
	return out, nil
}

// Message is a received event with what it takes to delete it from the queue.
type Message struct {
	Event
	// MessageID and ReceiptHandle are SQS's.
	MessageID     string
	ReceiptHandle string
}

// Long-poll and backoff settings of the queue.
const (
	queueWaitSeconds   = 20
	queueMaxMessages   = 10
	queueMinErrBackoff = time.Second
	queueMaxErrBackoff = time.Minute
)

// InterruptionQueue reads instance events from the SQS queue EventBridge rules deliver them to.
type InterruptionQueue struct {
	sqs  SQSAPI
	name string
	clk  clock.Clock

	mu  sync.Mutex
	url string
}

var _ cloudprovider.InterruptionQueue = (*InterruptionQueue)(nil)

// NewInterruptionQueue reads the queue with the given name (the --interruption-queue flag).
func NewInterruptionQueue(api SQSAPI, name string, clk clock.Clock) (*InterruptionQueue, error) {
	switch {
	case api == nil:
		return nil, errors.New("interruption queue: an SQS client is required")
	case name == "":
		return nil, errors.New("interruption queue: a queue name is required: set --interruption-queue")
	case clk == nil:
		return nil, errors.New("interruption queue: a clock is required")
	}
	return &InterruptionQueue{sqs: api, name: name, clk: clk}, nil
}

func (q *InterruptionQueue) queueURL(ctx context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.url != "" {
		return q.url, nil
	}
	out, err := q.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.name)})
	if err != nil {
		return "", fmt.Errorf("getting the url of queue %q: %w", q.name, err)
	}
	q.url = aws.ToString(out.QueueUrl)
	return q.url, nil
}

// Receive long-polls the queue (up to 20 s) for up to 10 messages and parses them. Messages that are not events
// Tailor acts on (malformed, or of another kind) are logged and deleted here, so they do not come back.
func (q *InterruptionQueue) Receive(ctx context.Context) ([]Message, error) {
	url, err := q.queueURL(ctx)
	if err != nil {
		return nil, err
	}
	out, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: queueMaxMessages, WaitTimeSeconds: queueWaitSeconds,
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from queue %q: %w", q.name, err)
	}
	var msgs []Message
	for _, m := range out.Messages {
		msg := Message{MessageID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle)}
		ev, err := ParseEvent(aws.ToString(m.Body))
		if err != nil {
			log.FromContext(ctx).Error(err, "dropping queue message that is not an instance event Tailor acts on", "queue", q.name, "message", msg.MessageID)
			if derr := q.Delete(ctx, msg); derr != nil {
				return nil, derr
			}
			continue
		}
		msg.Event = ev
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// Delete removes a handled message from the queue.
func (q *InterruptionQueue) Delete(ctx context.Context, m Message) error {
	url, err := q.queueURL(ctx)
	if err != nil {
		return err
	}
	if _, err := q.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
		return fmt.Errorf("deleting message %s from queue %q: %w", m.MessageID, q.name, err)
	}
	return nil
}

// Run receives events until ctx ends and hands each to handle; a message is deleted once handle returns nil, and
// left to come back after the queue's visibility timeout otherwise. Receive errors are logged and retried with
// backoff (1 s doubling to 1 min) on the injected clock. It returns nil when ctx ends, which makes it usable as a
// controller-runtime manager.Runnable's Start.
func (q *InterruptionQueue) Run(ctx context.Context, handle func(context.Context, Event) error) error {
	backoff := queueMinErrBackoff
	for ctx.Err() == nil {
		msgs, err := q.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.FromContext(ctx).Error(err, "reading the interruption queue; retrying", "queue", q.name, "backoff", backoff)
			select {
			case <-ctx.Done():
			case <-q.clk.After(backoff):
			}
			backoff = min(2*backoff, queueMaxErrBackoff)
			continue
		}
		backoff = queueMinErrBackoff
		for _, m := range msgs {
			if err := handle(ctx, m.Event); err != nil {
				log.FromContext(ctx).Error(err, "handling instance event; it will be delivered again", "kind", m.Kind, "instances", m.InstanceIDs)
				continue
			}
			// A handled event is deleted even when shutdown has begun, so it is not acted on twice.
			if err := q.Delete(context.WithoutCancel(ctx), m); err != nil {
				log.FromContext(ctx).Error(err, "deleting handled event; it will be delivered again", "kind", m.Kind)
			}
		}
	}
	return nil
}
