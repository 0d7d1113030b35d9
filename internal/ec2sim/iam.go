package ec2sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// iamPolicy is an identity-based IAM policy as ec2sim evaluates it: statements with Effect, Action, Resource and
// Condition. What it cannot evaluate faithfully (NotAction, NotResource, Principal, operators other than the
// string ones) is refused when the policy is loaded, so a policy is never enforced in a way AWS would not.
type iamPolicy struct {
	Statements []iamStatement
}

type iamStatement struct {
	Sid        string
	Allow      bool
	Actions    []string
	Resources  []string
	Conditions []iamCondition
}

// iamCondition is one key of one operator block: "StringEquals": {"aws:RequestTag/k": ["v"]}.
type iamCondition struct {
	Operator string // StringEquals, StringNotEquals, StringLike or StringNotLike
	Set      string // "", "ForAllValues" or "ForAnyValue"
	IfExists bool
	Key      string // lower case: condition key names are case-insensitive
	Values   []string
}

// stringOrList is a policy field that is a string or a list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, not %s", b)
	}
	*s = many
	return nil
}

// parseIAMPolicy reads a policy document.
func parseIAMPolicy(doc []byte) (*iamPolicy, error) {
	var raw struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("parsing IAM policy: %w", err)
	}
	if raw.Version != "2012-10-17" {
		return nil, fmt.Errorf("IAM policy Version %q: ec2sim evaluates only \"2012-10-17\" policies", raw.Version)
	}
	p := &iamPolicy{}
	for i, rs := range raw.Statement {
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("IAM policy statement %d: %w", i, err)
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func parseStatement(rs map[string]json.RawMessage) (iamStatement, error) {
	var st iamStatement
	for field, v := range rs {
		var err error
		switch field {
		case "Sid":
			err = json.Unmarshal(v, &st.Sid)
		case "Effect":
			var effect string
			if err = json.Unmarshal(v, &effect); err == nil && effect != "Allow" && effect != "Deny" {
				err = fmt.Errorf("%q is neither Allow nor Deny", effect)
			}
			st.Allow = effect == "Allow"
		case "Action":
			err = json.Unmarshal(v, (*stringOrList)(&st.Actions))
		case "Resource":
			err = json.Unmarshal(v, (*stringOrList)(&st.Resources))
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			err = fmt.Errorf("field %s is not evaluated by ec2sim (it knows Sid, Effect, Action, Resource, Condition)", field)
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", field, err)
		}
	}
	if len(st.Actions) == 0 || len(st.Resources) == 0 {
		return st, fmt.Errorf("statement %q needs an Action and a Resource", st.Sid)
	}
	if _, ok := rs["Effect"]; !ok {
		return st, fmt.Errorf("statement %q has no Effect", st.Sid)
	}
	return st, nil
}

var conditionOperators = []string{"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"}

func parseConditions(v json.RawMessage) ([]iamCondition, error) {
	var blocks map[string]map[string]stringOrList
	if err := json.Unmarshal(v, &blocks); err != nil {
		return nil, err
	}
	var out []iamCondition
	for op, keys := range blocks {
		c := iamCondition{Operator: op}
		if set, rest, ok := strings.Cut(op, ":"); ok {
			if set != "ForAllValues" && set != "ForAnyValue" {
				return nil, fmt.Errorf("operator %q: the set qualifier must be ForAllValues or ForAnyValue", op)
			}
			c.Set, c.Operator = set, rest
		}
		c.Operator, c.IfExists = strings.CutSuffix(c.Operator, "IfExists")
		if !slices.Contains(conditionOperators, c.Operator) {
			return nil, fmt.Errorf("operator %q is not evaluated by ec2sim (it knows %v, ForAllValues:/ForAnyValue: and …IfExists)", op, conditionOperators)
		}
		for _, key := range sortedKeys(keys) {
			kc := c
			kc.Key, kc.Values = strings.ToLower(key), keys[key]
			out = append(out, kc)
		}
	}
	return out, nil
}

// authzRequest is one authorization IAM makes: an action on a resource with the request's condition keys.
type authzRequest struct {
	Action   string
	Resource string
	// Context holds the condition keys of this action on this resource, by lower-case name.
	Context map[string][]string
}

// decision is what the policy says about an authzRequest.
type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

// evaluate applies IAM's rule: an explicit Deny wins, then any Allow, else the request is denied.
func (p *iamPolicy) evaluate(r authzRequest) (decision, []string) {
	d := implicitDeny
	var matched []string
	for _, st := range p.Statements {
		if !st.matches(r) {
			continue
		}
		if !st.Allow {
			return explicitDeny, []string{st.Sid}
		}
		d = allowed
		matched = append(matched, st.Sid)
	}
	return d, matched
}

func (st *iamStatement) matches(r authzRequest) bool {
	if !slices.ContainsFunc(st.Actions, func(a string) bool { return matchWildcard(strings.ToLower(a), strings.ToLower(r.Action)) }) {
		return false
	}
	if !slices.ContainsFunc(st.Resources, func(res string) bool { return matchWildcard(res, r.Resource) }) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(r.Context) {
			return false
		}
	}
	return true
}

// holds evaluates one condition key against the request's values, as IAM does: the policy's values are ORed;
// a missing key fails a positive operator and passes a negated one (IfExists passes either); ForAllValues needs
// every request value to match (and passes when there are none), ForAnyValue at least one.
func (c iamCondition) holds(ctx map[string][]string) bool {
	values, present := ctx[c.Key]
	negated := strings.Contains(c.Operator, "Not")
	matchOne := func(v string) bool {
		return slices.ContainsFunc(c.Values, func(want string) bool {
			if strings.HasSuffix(c.Operator, "Like") {
				return matchWildcard(want, v)
			}
			return want == v
		})
	}
	switch c.Set {
	case "ForAllValues":
		for _, v := range values {
			if matchOne(v) == negated {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, v := range values {
			if matchOne(v) != negated {
				return true
			}
		}
		return false
	}
	if !present || len(values) == 0 {
		return c.IfExists || negated
	}
	if negated {
		return !slices.ContainsFunc(values, matchOne)
	}
	return slices.ContainsFunc(values, matchOne)
}
