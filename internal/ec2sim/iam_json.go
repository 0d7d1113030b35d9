package ec2sim

import (
	"encoding/json"
	"strings"
)

// authorizeJSON evaluates the policy for one call of a JSON service (SSM, SQS, the Pricing API). It returns the
// service's access-denied error, or nil when the call may proceed.
func (e *iamEnforcer) authorizeJSON(service, principal, action string, body []byte) *apiError {
	var in struct {
		Name      string
		Names     []string
		QueueName string
		QueueURL  string `json:"QueueUrl"`
	}
	_ = json.Unmarshal(body, &in) // a malformed body is the handler's to refuse
	var reqs []authzRequest
	switch service {
	case "ssm":
		for _, name := range append([]string{in.Name}, in.Names...) {
			if name != "" {
				reqs = append(reqs, authzRequest{Action: "ssm:" + action, Resource: e.parameterARN(name)})
			}
		}
	case "sqs":
		queue := in.QueueName
		if queue == "" {
			queue = in.QueueURL[strings.LastIndex(in.QueueURL, "/")+1:]
		}
		reqs = append(reqs, authzRequest{Action: "sqs:" + action, Resource: "arn:aws:sqs:" + e.region + ":" + e.account + ":" + queue})
	default:
		// The Pricing API supports no resource-level permissions.
		reqs = append(reqs, authzRequest{Action: service + ":" + action, Resource: "*"})
	}
	if d := e.check(principal, reqs); d != nil {
		return d.jsonError(service)
	}
	return nil
}

// parameterARN is an SSM parameter's ARN; the public parameters AWS publishes under /aws/service/ have no account.
func (e *iamEnforcer) parameterARN(name string) string {
	account := e.account
	if strings.HasPrefix(name, "/aws/service/") {
		account = ""
	}
	return "arn:aws:ssm:" + e.region + ":" + account + ":parameter/" + strings.TrimPrefix(name, "/")
}
