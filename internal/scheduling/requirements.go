package scheduling

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Requirements is a conjunction of label requirements, at most one normalized value set per key. A key that is not
// present is unconstrained. The zero value is usable and allows everything.
//
// Requirements are also used to describe what a node (existing or planned) is: "closed" requirements, where a key
// that is not present means the node does not carry that label. CompatibleWithNode and Matches apply that reading.
type Requirements struct {
	sets      map[string]*valueSet
	minValues map[string]int
}

// NewRequirements builds the conjunction of reqs. It fails on an unknown operator or malformed values, naming the key.
func NewRequirements(reqs ...Requirement) (Requirements, error) {
	var out Requirements
	for _, r := range reqs {
		if err := out.Add(r); err != nil {
			return Requirements{}, err
		}
	}
	return out, nil
}

// MustRequirements is NewRequirements for literals in tests and tables; it panics on malformed input.
func MustRequirements(reqs ...Requirement) Requirements {
	out, err := NewRequirements(reqs...)
	if err != nil {
		panic(err)
	}
	return out
}

// Add intersects one more requirement into r.
func (r *Requirements) Add(req Requirement) error {
	if req.Key == "" {
		return fmt.Errorf("requirement has an empty key")
	}
	s, err := newValueSet(req.Operator, req.Values)
	if err != nil {
		return fmt.Errorf("requirement on key %q: %w", req.Key, err)
	}
	r.addSet(req.Key, s)
	if req.MinValues != nil {
		if *req.MinValues < 1 {
			return fmt.Errorf("requirement on key %q: minValues must be at least 1, got %d", req.Key, *req.MinValues)
		}
		if r.minValues == nil {
			r.minValues = map[string]int{}
		}
		r.minValues[req.Key] = max(r.minValues[req.Key], *req.MinValues)
	}
	return nil
}

func (r *Requirements) addSet(key string, s *valueSet) {
	if r.sets == nil {
		r.sets = map[string]*valueSet{}
	}
	if cur, ok := r.sets[key]; ok {
		s = cur.intersect(s)
	}
	r.sets[key] = s
}

// Clone returns an independent copy (value sets are immutable once built, so they are shared).
func (r Requirements) Clone() Requirements {
	return Requirements{sets: maps.Clone(r.sets), minValues: maps.Clone(r.minValues)}
}

// Intersect returns the conjunction of r and o.
func (r Requirements) Intersect(o Requirements) Requirements {
	out := r.Clone()
	for _, k := range o.Keys() {
		out.addSet(k, o.sets[k])
	}
	for k, n := range o.minValues {
		if out.minValues == nil {
			out.minValues = map[string]int{}
		}
		out.minValues[k] = max(out.minValues[k], n)
	}
	return out
}

// Keys returns the constrained keys in sorted order.
func (r Requirements) Keys() []string {
	return slices.Sorted(maps.Keys(r.sets))
}

// Len is the number of constrained keys.
func (r Requirements) Len() int { return len(r.sets) }

func (r Requirements) get(key string) *valueSet {
	if s, ok := r.sets[key]; ok {
		return s
	}
	return nil
}

// Has reports whether a label key=value satisfies r's requirement on key (true when key is unconstrained).
func (r Requirements) Has(key, value string) bool {
	s := r.get(key)
	return s == nil || s.allows(value)
}

// Get returns the requirements on one key, as users would write them (nil when the key is unconstrained).
func (r Requirements) Get(key string) []Requirement {
	s := r.get(key)
	if s == nil {
		return nil
	}
	out := s.requirements(key)
	if n, ok := r.minValues[key]; ok && len(out) > 0 {
		out[0].MinValues = &n
	}
	return out
}

// Values returns the values r allows for key when it allows a finite set of them (In), and false otherwise.
func (r Requirements) Values(key string) ([]string, bool) {
	s := r.get(key)
	if s == nil || s.complement {
		return nil, false
	}
	return s.values, true
}

// Single returns the one value r allows for key, when there is exactly one and absence is not allowed.
func (r Requirements) Single(key string) (string, bool) {
	s := r.get(key)
	if s == nil {
		return "", false
	}
	return s.single()
}

// MinValues returns the minValues set on key, or 0.
func (r Requirements) MinValues(key string) int { return r.minValues[key] }

// MinValuesKeys returns every key that carries minValues, sorted.
func (r Requirements) MinValuesKeys() []string { return slices.Sorted(maps.Keys(r.minValues)) }

// List returns r as user-facing requirements, sorted by key, whose conjunction means r.
func (r Requirements) List() []Requirement {
	var out []Requirement
	for _, k := range r.Keys() {
		out = append(out, r.Get(k)...)
	}
	return out
}

// String renders r for messages.
func (r Requirements) String() string {
	parts := make([]string, 0, len(r.sets))
	for _, req := range r.List() {
		parts = append(parts, req.String())
	}
	return strings.Join(parts, ", ")
}

// Compatible reports nil when some labelling satisfies both r and o (open world: a key missing from either side is
// unconstrained there), and otherwise an error naming the first conflicting key.
func (r Requirements) Compatible(o Requirements) error {
	for _, k := range r.Keys() {
		if os := o.get(k); os != nil && r.sets[k].intersect(os).empty() {
			return &ConflictError{Key: k, Ours: r.Get(k), Theirs: o.Get(k)}
		}
	}
	return nil
}

// CompatibleWithNode is Compatible where node is closed: a key the node side does not constrain means the node
// lacks that label, so r must allow absence there.
func (r Requirements) CompatibleWithNode(node Requirements) error {
	for _, k := range r.Keys() {
		ns := node.get(k)
		if ns == nil {
			ns = absentSet()
		}
		if r.sets[k].intersect(ns).empty() {
			return &ConflictError{Key: k, Ours: r.Get(k), Theirs: node.Get(k)}
		}
	}
	return nil
}

// Matches reports whether a node with exactly these labels satisfies r.
func (r Requirements) Matches(labels map[string]string) bool {
	for k, s := range r.sets {
		v, ok := labels[k]
		if ok && !s.allows(v) || !ok && !s.absent {
			return false
		}
	}
	return true
}

// Equal reports whether r and o constrain the same keys to the same sets.
func (r Requirements) Equal(o Requirements) bool {
	if len(r.sets) != len(o.sets) || !maps.Equal(r.minValues, o.minValues) {
		return false
	}
	for k, s := range r.sets {
		os, ok := o.sets[k]
		if !ok || !s.equal(os) {
			return false
		}
	}
	return true
}

// ConflictError says which key two sets of requirements cannot agree on.
type ConflictError struct {
	Key    string
	Ours   []Requirement
	Theirs []Requirement
}

func (e *ConflictError) Error() string {
	theirs := "absent"
	if len(e.Theirs) > 0 {
		theirs = joinRequirements(e.Theirs)
	}
	return fmt.Sprintf("requirement %s conflicts with %s", joinRequirements(e.Ours), theirs)
}

func joinRequirements(reqs []Requirement) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// FromLabels returns the requirements a node with exactly these labels satisfies: key In [value] for each label.
func FromLabels(labels map[string]string) Requirements {
	out := Requirements{sets: make(map[string]*valueSet, len(labels))}
	for k, v := range labels {
		out.sets[k] = &valueSet{values: []string{v}}
	}
	return out
}

// FromNodeSelectorTerm converts one node selector term (its matchExpressions; a matchFields on metadata.name becomes
// a requirement on kubernetes.io/hostname, which Tailor sets to the node name).
func FromNodeSelectorTerm(term corev1.NodeSelectorTerm) (Requirements, error) {
	var out Requirements
	for _, e := range term.MatchExpressions {
		if err := out.Add(Requirement{Key: e.Key, Operator: Operator(e.Operator), Values: e.Values}); err != nil {
			return Requirements{}, err
		}
	}
	for _, f := range term.MatchFields {
		if f.Key != "metadata.name" {
			return Requirements{}, fmt.Errorf("matchFields key %q is not supported (only metadata.name)", f.Key)
		}
		if err := out.Add(Requirement{Key: apiv1.HostnameLabelKey, Operator: Operator(f.Operator), Values: f.Values}); err != nil {
			return Requirements{}, err
		}
	}
	return out, nil
}

// FromNodeSelector converts a required node selector: the result is an OR of its terms. Kubernetes ignores a nil
// selector; an empty list of terms matches nothing, so it returns an error.
func FromNodeSelector(sel *corev1.NodeSelector) ([]Requirements, error) {
	if sel == nil {
		return nil, nil
	}
	if len(sel.NodeSelectorTerms) == 0 {
		return nil, fmt.Errorf("node selector has no terms and matches no node")
	}
	out := make([]Requirements, 0, len(sel.NodeSelectorTerms))
	for i, t := range sel.NodeSelectorTerms {
		r, err := FromNodeSelectorTerm(t)
		if err != nil {
			return nil, fmt.Errorf("nodeSelectorTerms[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}
