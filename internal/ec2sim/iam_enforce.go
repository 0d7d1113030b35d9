package ec2sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/go-logr/logr"

	"github.com/tailor-sh/tailor/internal/iampolicy"
)

// IAM policy settings of Options.IAMPolicy and the --iam-policy flag.
const (
	// IAMPolicyOff serves every call, as if the caller could do anything.
	IAMPolicyOff = "off"
	// IAMPolicyBuiltin enforces Tailor's documented controller policy (internal/iampolicy, docs/aws-iam.md).
	IAMPolicyBuiltin = "builtin"
)

// LoadIAMPolicy reads the policy a setting names: "off" (or empty) is none, "builtin" the controller's documented
// policy, anything else a file holding a policy document.
func LoadIAMPolicy(setting string) ([]byte, error) {
	switch setting {
	case "", IAMPolicyOff:
		return nil, nil
	case IAMPolicyBuiltin:
		return iampolicy.Controller, nil
	}
	doc, err := os.ReadFile(setting)
	if err != nil {
		return nil, fmt.Errorf("reading the IAM policy: %w", err)
	}
	return doc, nil
}

// SetIAMPolicy enforces a policy document from now on (see Options.IAMPolicy); nil lifts enforcement. Tests use it
// to act for another principal for a moment: another cluster's controller, or EventBridge sending to the queue.
func (s *Sim) SetIAMPolicy(doc []byte) error {
	if doc == nil {
		s.iam.Store(nil)
		return nil
	}
	e, err := newIAMEnforcer(doc, s.cloud.cfg)
	if err != nil {
		return err
	}
	e.log = s.opts.Log
	s.iam.Store(e)
	return nil
}

// IAMState is the body of GET and PUT /admin/iam.
type IAMState struct {
	// Enforce tells whether the configured policy (Options.IAMPolicy) is being enforced. A test lifts it for a moment
	// to act as another principal, such as EventBridge sending to the interruption queue.
	Enforce bool `json:"enforce"`
}

// iamAdmin serves /admin/iam: whether the configured IAM policy is enforced.
func (s *Sim) iamAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/iam", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, IAMState{Enforce: s.iam.Load() != nil})
	})
	mux.HandleFunc("PUT /admin/iam", func(w http.ResponseWriter, r *http.Request) {
		var st IAMState
		if !readAdmin(w, r, &st) {
			return
		}
		if st.Enforce && s.opts.IAMPolicy == nil {
			writeAdminError(w, http.StatusBadRequest, fmt.Errorf("no IAM policy is configured (--iam-policy) to enforce"))
			return
		}
		var doc []byte
		if st.Enforce {
			doc = s.opts.IAMPolicy
		}
		if err := s.SetIAMPolicy(doc); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, IAMState{Enforce: s.iam.Load() != nil})
	})
}

// iamEnforcer decides whether the caller may make a call, from the policy and the simulated region's state.
type iamEnforcer struct {
	policy  *iamPolicy
	region  string
	account string
	log     logr.Logger
}

// newIAMEnforcer parses doc after filling its placeholders from the region's config: <cluster> is the cluster
// name, <queue> the first queue, <node-role> TailorNodeRole-<cluster>.
func newIAMEnforcer(doc []byte, cfg *Config) (*iamEnforcer, error) {
	queue := cfg.ClusterName
	if len(cfg.Queues) > 0 {
		queue = cfg.Queues[0]
	}
	filled := iampolicy.Substitute(doc, iampolicy.Values{Cluster: cfg.ClusterName, Region: cfg.Region,
		Account: cfg.AccountID, Queue: queue, NodeRole: "TailorNodeRole-" + cfg.ClusterName})
	if m := regexp.MustCompile(`<[a-z-]+>`).Find(filled); m != nil {
		return nil, fmt.Errorf("IAM policy: placeholder %s is not one ec2sim fills (<cluster>, <region>, <account>, <queue>, <node-role>)", m)
	}
	p, err := parseIAMPolicy(filled)
	if err != nil {
		return nil, err
	}
	return &iamEnforcer{policy: p, region: cfg.Region, account: cfg.AccountID}, nil
}

// principalARN names the caller in denial messages: an assumed role named after the access key of its signature.
func (e *iamEnforcer) principalARN(r *http.Request) string {
	key := "unknown"
	if m := sigV4Pattern.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
	}
	return "arn:aws:sts::" + e.account + ":assumed-role/TailorController/" + key
}

// denial is a request the policy refused and why.
type denial struct {
	principal string
	req       authzRequest
	explicit  bool
	matched   []string
}

// check evaluates requests in order and returns the first one denied, or nil when all are allowed.
func (e *iamEnforcer) check(principal string, reqs []authzRequest) *denial {
	for _, r := range reqs {
		if r.Context == nil {
			r.Context = map[string][]string{}
		}
		r.Context["aws:requestedregion"] = []string{e.region}
		d, matched := e.policy.evaluate(r)
		if d != allowed {
			e.log.Info("the IAM policy refused a call", "action", r.Action, "resource", r.Resource, "explicit", d == explicitDeny)
			return &denial{principal: principal, req: r, explicit: d == explicitDeny, matched: matched}
		}
	}
	return nil
}

// reason is IAM's wording of why the request was refused.
func (d *denial) reason(action string) string {
	if d.explicit {
		return "with an explicit deny in an identity-based policy"
	}
	return "because no identity-based policy allows the " + action + " action"
}

// encoded is the opaque "encoded authorization failure message": in AWS an encrypted blob sts:DecodeAuthorizationMessage
// reveals; here base64 of the same kind of JSON (decision, matched statements, the request's context), so a test
// or a curious user can decode it.
func (d *denial) encoded() string {
	var conditions []map[string]any
	for _, k := range sortedKeys(d.req.Context) {
		conditions = append(conditions, map[string]any{"key": k, "values": d.req.Context[k]})
	}
	b, _ := json.Marshal(map[string]any{
		"allowed": false, "explicitDeny": d.explicit, "matchedStatements": d.matched,
		"context": map[string]any{
			"principal": map[string]string{"arn": d.principal}, "action": d.req.Action,
			"resource": d.req.Resource, "conditions": conditions,
		},
	})
	return base64.RawURLEncoding.EncodeToString(b)
}

// ec2Message is EC2's UnauthorizedOperation message.
func (d *denial) ec2Message() string {
	return fmt.Sprintf("You are not authorized to perform this operation. User: %s is not authorized to perform: %s on resource: %s %s. Encoded authorization failure message: %s",
		d.principal, d.req.Action, d.req.Resource, d.reason(d.req.Action), d.encoded())
}

// ec2Error is EC2's answer to a call the policy refuses.
func (d *denial) ec2Error() *apiError {
	return &apiError{Status: http.StatusForbidden, Code: "UnauthorizedOperation", Sender: true, Message: d.ec2Message()}
}

// jsonError is the answer of the JSON services: SQS says AccessDenied (403) and names the action in lower case;
// SSM and the Pricing API say AccessDeniedException (400).
func (d *denial) jsonError(service string) *apiError {
	action := d.req.Action
	if service == "sqs" {
		action = strings.ToLower(action)
		return &apiError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true,
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", d.principal, action, d.req.Resource, d.reason(action))}
	}
	return &apiError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true,
		Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", d.principal, action, d.req.Resource, d.reason(action))}
}

// requestTags are the aws:RequestTag/… and aws:TagKeys keys of tags a request puts on a resource.
func requestTags(ctx map[string][]string, tags map[string]string) map[string][]string {
	if ctx == nil {
		ctx = map[string][]string{}
	}
	for _, k := range sortedKeys(tags) {
		ctx["aws:requesttag/"+strings.ToLower(k)] = []string{tags[k]}
		ctx["aws:tagkeys"] = append(ctx["aws:tagkeys"], k)
	}
	return ctx
}

// resourceTags are the aws:ResourceTag/… and ec2:ResourceTag/… keys of an existing resource's tags.
func resourceTags(ctx map[string][]string, tags map[string]string) map[string][]string {
	if ctx == nil {
		ctx = map[string][]string{}
	}
	for k, v := range tags {
		ctx["aws:resourcetag/"+strings.ToLower(k)] = []string{v}
		ctx["ec2:resourcetag/"+strings.ToLower(k)] = []string{v}
	}
	return ctx
}
