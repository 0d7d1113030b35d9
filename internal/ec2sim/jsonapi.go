package ec2sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// jsonService is one AWS JSON-protocol service: its X-Amz-Target prefix, content type, SigV4 signing name and
// actions.
type jsonService struct {
	name        string
	prefix      string
	contentType string
	signingName string
	// queryCompatible services (SQS) also report the old Query error code in X-Amzn-Query-Error.
	queryCompatible bool
	// anyRegion services (the Pricing API, served from a few regions only) accept credentials scoped to any region.
	anyRegion bool
	actions   map[string]jsonHandler
}

// jsonHandler answers one JSON action; body is the request document.
type jsonHandler func(ctx context.Context, s *Sim, body []byte) (any, error)

func jsonServices() []*jsonService {
	return []*jsonService{
		{name: "ssm", prefix: "AmazonSSM.", contentType: "application/x-amz-json-1.1", signingName: "ssm",
			actions: map[string]jsonHandler{"GetParameter": getParameter, "GetParameters": getParameters}},
		{name: "sqs", prefix: "AmazonSQS.", contentType: "application/x-amz-json-1.0", signingName: "sqs",
			queryCompatible: true,
			actions: map[string]jsonHandler{"GetQueueUrl": getQueueURL, "ReceiveMessage": receiveMessage,
				"DeleteMessage": deleteMessage, "SendMessage": sendMessage}},
		{name: "pricing", prefix: "AWSPriceListService.", contentType: "application/x-amz-json-1.1",
			signingName: "pricing", anyRegion: true,
			actions: map[string]jsonHandler{"GetProducts": getProducts}},
	}
}

func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "SerializationException", Sender: true,
			Message: "cannot read the request document: " + err.Error()}
	}
	return nil
}

func errValidation(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ValidationException", Sender: true,
		Message: fmt.Sprintf(format, args...)}
}

// ---- SSM ----

type ssmParameter struct {
	Name             string  `json:"Name"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int64   `json:"Version"`
	LastModifiedDate float64 `json:"LastModifiedDate"`
	ARN              string  `json:"ARN"`
	DataType         string  `json:"DataType"`
}

func (s *Sim) parameter(name string) (ssmParameter, bool) {
	v, ok := s.cloud.parameter(name)
	if !ok {
		return ssmParameter{}, false
	}
	dataType := "text"
	if strings.HasPrefix(v, "ami-") {
		dataType = "aws:ec2:image"
	}
	arn := "arn:aws:ssm:" + s.cloud.cfg.Region + "::parameter" + name
	if !strings.HasPrefix(name, "/") {
		arn = "arn:aws:ssm:" + s.cloud.cfg.Region + ":" + s.cloud.cfg.AccountID + ":parameter/" + name
	}
	return ssmParameter{Name: name, Type: "String", Value: v, Version: 1, LastModifiedDate: 1768435200,
		ARN: arn, DataType: dataType}, true
}

func getParameter(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct{ Name string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, errValidation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	p, ok := s.parameter(in.Name)
	if !ok {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "ParameterNotFound", Sender: true,
			Message: "Parameter " + in.Name + " not found."}
	}
	return map[string]any{"Parameter": p}, nil
}

func getParameters(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct{ Names []string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, errValidation("Names must hold 1 to 10 parameter names")
	}
	params := []ssmParameter{}
	invalid := []string{}
	for _, n := range in.Names {
		if p, ok := s.parameter(n); ok {
			params = append(params, p)
		} else {
			invalid = append(invalid, n)
		}
	}
	return map[string]any{"Parameters": params, "InvalidParameters": invalid}, nil
}

// ---- SQS ----

func (s *Sim) queueURL(name string) string {
	return s.endpoint() + "/" + s.cloud.cfg.AccountID + "/" + name
}

func errNoQueue() *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "QueueDoesNotExist", Sender: true,
		Message: "The specified queue does not exist."}
}

// queueByURL finds a queue from its URL; only the last path segment matters, so a URL from before a restart on
// another port still works.
func (s *Sim) queueByURL(u string) (*queue, error) {
	if u == "" {
		return nil, errValidation("1 validation error detected: Value null at 'queueUrl' failed to satisfy constraint: Member must not be null")
	}
	name := u[strings.LastIndex(u, "/")+1:]
	q, ok := s.cloud.queues[name]
	if !ok {
		return nil, errNoQueue()
	}
	return q, nil
}

func getQueueURL(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct{ QueueName string }
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if _, ok := s.cloud.queues[in.QueueName]; !ok {
		return nil, errNoQueue()
	}
	return map[string]string{"QueueUrl": s.queueURL(in.QueueName)}, nil
}

type sqsMessage struct {
	MessageID     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

func receiveMessage(ctx context.Context, s *Sim, body []byte) (any, error) {
	var in struct {
		QueueURL                    string   `json:"QueueUrl"`
		MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
		WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
		VisibilityTimeout           *int     `json:"VisibilityTimeout"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	max, wait, vis := 1, 0, 30
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
	}
	if in.WaitTimeSeconds != nil {
		wait = *in.WaitTimeSeconds
	}
	if in.VisibilityTimeout != nil {
		vis = *in.VisibilityTimeout
	}
	if max < 1 || max > 10 {
		return nil, errValidation("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
	}
	if wait < 0 || wait > 20 {
		return nil, errValidation("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", wait)
	}
	if vis < 0 || vis > 43200 {
		return nil, errValidation("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", vis)
	}
	attrs := append(in.AttributeNames, in.MessageSystemAttributeNames...)
	msgs := q.receive(ctx, max, time.Duration(wait)*time.Second, time.Duration(vis)*time.Second)
	out := make([]sqsMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, sqsMessage{
			MessageID: m.ID, ReceiptHandle: m.Receipt, MD5OfBody: md5Hex(m.Body), Body: m.Body,
			Attributes: messageAttributes(m, attrs, s.cloud.cfg.AccountID),
		})
	}
	if len(out) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"Messages": out}, nil
}

// messageAttributes answers the system attributes a receive asked for ("All" for every one).
func messageAttributes(m message, names []string, account string) map[string]string {
	all := map[string]string{
		"SenderId":                         account,
		"SentTimestamp":                    strconv.FormatInt(m.SentAt.UnixMilli(), 10),
		"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.FirstReceived.UnixMilli(), 10),
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func deleteMessage(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if err := q.remove(in.ReceiptHandle); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func sendMessage(_ context.Context, s *Sim, body []byte) (any, error) {
	var in struct {
		QueueURL    string `json:"QueueUrl"`
		MessageBody string `json:"MessageBody"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	q, err := s.queueByURL(in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.MessageBody == "" {
		return nil, errValidation("The request must contain the parameter MessageBody.")
	}
	id := q.send(in.MessageBody)
	s.cloud.mu.Lock()
	s.cloud.save()
	s.cloud.mu.Unlock()
	return map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(in.MessageBody)}, nil
}
