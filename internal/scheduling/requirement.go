package scheduling

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Operator is a label requirement operator, spelled as in Kubernetes node selector requirements.
type Operator string

// The operators Tailor understands.
const (
	OpIn           Operator = "In"
	OpNotIn        Operator = "NotIn"
	OpExists       Operator = "Exists"
	OpDoesNotExist Operator = "DoesNotExist"
	OpGt           Operator = "Gt"
	OpLt           Operator = "Lt"
)

// Requirement is one label requirement as users write it: a key, an operator and values, and optionally the minimum
// number of distinct values the instance types of a NodeClaim must span for that key (NodePool minValues).
type Requirement struct {
	Key       string
	Operator  Operator
	Values    []string
	MinValues *int
}

// String renders the requirement the way reasons quote it, for example "kubernetes.io/arch In [amd64 arm64]".
func (r Requirement) String() string {
	switch r.Operator {
	case OpExists, OpDoesNotExist:
		return r.Key + " " + string(r.Operator)
	default:
		return fmt.Sprintf("%s %s [%s]", r.Key, r.Operator, strings.Join(r.Values, " "))
	}
}

// valueSet is the set of values a label may take under a conjunction of requirements on one key. The universe is
// every string plus "absent" (the label is not set).
//
// Normal form: when complement is false the set is exactly values (and absent when absent is true) and the bounds are
// unset. When complement is true the set is every string not in values that also satisfies the integer bounds (when
// any bound is set the string must parse as an integer, as Kubernetes requires for Gt and Lt), plus absent when
// absent is true. A complement set whose bounds leave no integer is rewritten to the empty non-complement set.
type valueSet struct {
	complement bool
	values     []string
	gt, lt     *int64
	absent     bool
}

// absentSet allows only absence: what a node has for a key it does not carry.
func absentSet() *valueSet { return &valueSet{absent: true} }

func newValueSet(op Operator, values []string) (*valueSet, error) {
	vals := sortedUnique(values)
	switch op {
	case OpIn:
		if len(vals) == 0 {
			return nil, fmt.Errorf("operator In needs at least one value")
		}
		return &valueSet{values: vals}, nil
	case OpNotIn:
		return &valueSet{complement: true, values: vals, absent: true}, nil
	case OpExists:
		if len(vals) != 0 {
			return nil, fmt.Errorf("operator Exists takes no values")
		}
		return &valueSet{complement: true}, nil
	case OpDoesNotExist:
		if len(vals) != 0 {
			return nil, fmt.Errorf("operator DoesNotExist takes no values")
		}
		return &valueSet{absent: true}, nil
	case OpGt, OpLt:
		if len(vals) != 1 {
			return nil, fmt.Errorf("operator %s needs exactly one integer value, got %d values", op, len(vals))
		}
		n, err := strconv.ParseInt(vals[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("operator %s needs an integer value, got %q", op, vals[0])
		}
		s := &valueSet{complement: true}
		if op == OpGt {
			s.gt = &n
		} else {
			s.lt = &n
		}
		return s.normalize(), nil
	default:
		return nil, fmt.Errorf("unknown operator %q (use In, NotIn, Exists, DoesNotExist, Gt or Lt)", op)
	}
}

func sortedUnique(values []string) []string {
	if len(values) == 0 {
		return nil
	}
	out := slices.Clone(values)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *valueSet) inBounds(v string) bool {
	if s.gt == nil && s.lt == nil {
		return true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false
	}
	return (s.gt == nil || n > *s.gt) && (s.lt == nil || n < *s.lt)
}

// allows reports whether the label may have value v.
func (s *valueSet) allows(v string) bool {
	_, listed := slices.BinarySearch(s.values, v)
	if !s.complement {
		return listed
	}
	return !listed && s.inBounds(v)
}

// empty reports whether nothing, not even absence, satisfies the set.
func (s *valueSet) empty() bool {
	return !s.absent && !s.complement && len(s.values) == 0
}

func (s *valueSet) normalize() *valueSet {
	if !s.complement {
		s.gt, s.lt = nil, nil
		return s
	}
	if s.gt != nil && s.lt != nil && *s.lt-*s.gt <= 1 {
		return &valueSet{absent: s.absent}
	}
	if s.gt != nil || s.lt != nil {
		// Excluded strings outside the bounds are excluded anyway.
		s.values = slices.DeleteFunc(slices.Clone(s.values), func(v string) bool { return !s.inBounds(v) })
		if len(s.values) == 0 {
			s.values = nil
		}
	}
	return s
}

// intersect returns the values both sets allow.
func (s *valueSet) intersect(o *valueSet) *valueSet {
	out := &valueSet{absent: s.absent && o.absent}
	switch {
	case !s.complement && !o.complement:
		out.values = intersectSorted(s.values, o.values)
	case s.complement && !o.complement:
		out.values = filterAllowed(o.values, s)
	case !s.complement && o.complement:
		out.values = filterAllowed(s.values, o)
	default:
		out.complement = true
		out.values = unionSorted(s.values, o.values)
		out.gt = maxPtr(s.gt, o.gt)
		out.lt = minPtr(s.lt, o.lt)
	}
	return out.normalize()
}

// equal reports whether two normalized sets are the same.
func (s *valueSet) equal(o *valueSet) bool {
	return s.complement == o.complement && s.absent == o.absent && slices.Equal(s.values, o.values) &&
		eqPtr(s.gt, o.gt) && eqPtr(s.lt, o.lt)
}

func eqPtr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func filterAllowed(values []string, s *valueSet) []string {
	var out []string
	for _, v := range values {
		if s.allows(v) {
			out = append(out, v)
		}
	}
	return out
}

func intersectSorted(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			out = append(out, a[i])
			i++
			j++
		case -1:
			i++
		default:
			j++
		}
	}
	return out
}

func unionSorted(a, b []string) []string {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func maxPtr(a, b *int64) *int64 {
	if a == nil {
		return b
	}
	if b == nil || *a >= *b {
		return a
	}
	return b
}

func minPtr(a, b *int64) *int64 {
	if a == nil {
		return b
	}
	if b == nil || *a <= *b {
		return a
	}
	return b
}

// requirements renders the set as node selector requirements whose conjunction means the same thing. A
// non-complement set that also allows absence (only built internally, from instance types that lack a label) has no
// exact form; it renders as In.
func (s *valueSet) requirements(key string) []Requirement {
	if !s.complement {
		if len(s.values) == 0 {
			if s.absent {
				return []Requirement{{Key: key, Operator: OpDoesNotExist}}
			}
			// Nothing at all satisfies the set; say so with two requirements that cannot both hold.
			return []Requirement{{Key: key, Operator: OpExists}, {Key: key, Operator: OpDoesNotExist}}
		}
		return []Requirement{{Key: key, Operator: OpIn, Values: slices.Clone(s.values)}}
	}
	var out []Requirement
	if len(s.values) > 0 {
		out = append(out, Requirement{Key: key, Operator: OpNotIn, Values: slices.Clone(s.values)})
	}
	if s.gt != nil {
		out = append(out, Requirement{Key: key, Operator: OpGt, Values: []string{strconv.FormatInt(*s.gt, 10)}})
	}
	if s.lt != nil {
		out = append(out, Requirement{Key: key, Operator: OpLt, Values: []string{strconv.FormatInt(*s.lt, 10)}})
	}
	if !s.absent && len(s.values) == 0 && s.gt == nil && s.lt == nil {
		out = append(out, Requirement{Key: key, Operator: OpExists})
	} else if !s.absent && len(s.values) > 0 && s.gt == nil && s.lt == nil {
		out = append(out, Requirement{Key: key, Operator: OpExists})
	}
	return out
}

// single returns the one value the set allows, if it allows exactly one present value and not absence.
func (s *valueSet) single() (string, bool) {
	if !s.complement && !s.absent && len(s.values) == 1 {
		return s.values[0], true
	}
	return "", false
}
