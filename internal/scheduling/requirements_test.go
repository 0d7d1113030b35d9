package scheduling

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func req(key string, op Operator, values ...string) Requirement {
	return Requirement{Key: key, Operator: op, Values: values}
}

func TestRequirementsHas(t *testing.T) {
	tests := []struct {
		name  string
		req   Requirement
		value string
		want  bool
	}{
		{"in hit", req("k", OpIn, "a", "b"), "b", true},
		{"in miss", req("k", OpIn, "a"), "c", false},
		{"notin hit", req("k", OpNotIn, "a"), "a", false},
		{"notin miss", req("k", OpNotIn, "a"), "z", true},
		{"exists", req("k", OpExists), "anything", true},
		{"doesnotexist", req("k", OpDoesNotExist), "x", false},
		{"gt above", req("k", OpGt, "4"), "5", true},
		{"gt equal", req("k", OpGt, "4"), "4", false},
		{"gt not a number", req("k", OpGt, "4"), "five", false},
		{"lt below", req("k", OpLt, "4"), "-3", true},
		{"lt equal", req("k", OpLt, "4"), "4", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MustRequirements(tt.req)
			if got := r.Has("k", tt.value); got != tt.want {
				t.Errorf("Has(k, %q) = %v, want %v", tt.value, got, tt.want)
			}
			if !r.Has("other", "x") {
				t.Errorf("an unconstrained key must allow every value")
			}
		})
	}
}

func TestRequirementsIntersect(t *testing.T) {
	tests := []struct {
		name string
		a, b []Requirement
		want []Requirement
	}{
		{
			name: "in and in",
			a:    []Requirement{req("zone", OpIn, "a", "b", "c")},
			b:    []Requirement{req("zone", OpIn, "b", "c", "d")},
			want: []Requirement{req("zone", OpIn, "b", "c")},
		},
		{
			name: "in and notin",
			a:    []Requirement{req("zone", OpIn, "a", "b")},
			b:    []Requirement{req("zone", OpNotIn, "a")},
			want: []Requirement{req("zone", OpIn, "b")},
		},
		{
			name: "notin and notin",
			a:    []Requirement{req("zone", OpNotIn, "a")},
			b:    []Requirement{req("zone", OpNotIn, "b")},
			want: []Requirement{req("zone", OpNotIn, "a", "b")},
		},
		{
			name: "notin and exists",
			a:    []Requirement{req("zone", OpNotIn, "a")},
			b:    []Requirement{req("zone", OpExists)},
			want: []Requirement{req("zone", OpNotIn, "a"), req("zone", OpExists)},
		},
		{
			name: "gt and lt",
			a:    []Requirement{req("cpu", OpGt, "2")},
			b:    []Requirement{req("cpu", OpLt, "16")},
			want: []Requirement{req("cpu", OpGt, "2"), req("cpu", OpLt, "16")},
		},
		{
			name: "gt filters in",
			a:    []Requirement{req("cpu", OpGt, "2")},
			b:    []Requirement{req("cpu", OpIn, "1", "4", "x")},
			want: []Requirement{req("cpu", OpIn, "4")},
		},
		{
			name: "empty gt lt window",
			a:    []Requirement{req("cpu", OpGt, "2")},
			b:    []Requirement{req("cpu", OpLt, "3")},
			want: []Requirement{req("cpu", OpExists), req("cpu", OpDoesNotExist)},
		},
		{
			name: "disjoint keys",
			a:    []Requirement{req("a", OpIn, "1")},
			b:    []Requirement{req("b", OpExists)},
			want: []Requirement{req("a", OpIn, "1"), req("b", OpExists)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MustRequirements(tt.a...).Intersect(MustRequirements(tt.b...)).List()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Intersect (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequirementsCompatible(t *testing.T) {
	tests := []struct {
		name        string
		pod, node   []Requirement
		open, node2 bool // want Compatible, want CompatibleWithNode
	}{
		{"same value", []Requirement{req("k", OpIn, "a")}, []Requirement{req("k", OpIn, "a")}, true, true},
		{"different value", []Requirement{req("k", OpIn, "a")}, []Requirement{req("k", OpIn, "b")}, false, false},
		{"node lacks key", []Requirement{req("k", OpIn, "a")}, nil, true, false},
		{"node lacks key, pod allows absence", []Requirement{req("k", OpNotIn, "a")}, nil, true, true},
		{"doesnotexist vs value", []Requirement{req("k", OpDoesNotExist)}, []Requirement{req("k", OpIn, "a")}, false, false},
		{"exists vs notin", []Requirement{req("k", OpExists)}, []Requirement{req("k", OpNotIn, "a")}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, n := MustRequirements(tt.pod...), MustRequirements(tt.node...)
			if got := p.Compatible(n) == nil; got != tt.open {
				t.Errorf("Compatible = %v, want %v", got, tt.open)
			}
			if got := p.CompatibleWithNode(n) == nil; got != tt.node2 {
				t.Errorf("CompatibleWithNode = %v, want %v", got, tt.node2)
			}
		})
	}
}

func TestConflictErrorMessage(t *testing.T) {
	pool := MustRequirements(req("tailor.sh/capacity-type", OpIn, "spot"))
	pod := MustRequirements(req("tailor.sh/capacity-type", OpIn, "on-demand"))
	err := pool.Compatible(pod)
	want := "requirement tailor.sh/capacity-type In [spot] conflicts with tailor.sh/capacity-type In [on-demand]"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestFromNodeSelectorTerm(t *testing.T) {
	term := corev1.NodeSelectorTerm{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "k", Operator: corev1.NodeSelectorOpIn, Values: []string{"b", "a"}}},
		MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}},
	}
	r, err := FromNodeSelectorTerm(term)
	if err != nil {
		t.Fatal(err)
	}
	want := []Requirement{req("k", OpIn, "a", "b"), req("kubernetes.io/hostname", OpIn, "n1")}
	if diff := cmp.Diff(want, r.List()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := FromNodeSelectorTerm(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "k", Operator: "Near"}}}); err == nil || !strings.Contains(err.Error(), `"k"`) {
		t.Errorf("want an error naming the key, got %v", err)
	}
	if _, err := NewRequirements(req("k", OpGt, "x")); err == nil {
		t.Errorf("Gt with a non-integer must fail")
	}
}

func TestMatchesLabels(t *testing.T) {
	r := MustRequirements(req("a", OpIn, "1"), req("b", OpDoesNotExist), req("c", OpNotIn, "x"))
	tests := []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"a": "1"}, true},
		{map[string]string{"a": "1", "b": "y"}, false},
		{map[string]string{"a": "1", "c": "x"}, false},
		{map[string]string{"a": "2"}, false},
		{map[string]string{}, false},
	}
	for i, tt := range tests {
		if got := r.Matches(tt.labels); got != tt.want {
			t.Errorf("case %d: Matches(%v) = %v, want %v", i, tt.labels, got, tt.want)
		}
	}
}

// fuzzRequirement decodes a requirement from fuzz input: op selects the operator, vals is a comma-separated list.
func fuzzRequirement(op uint8, vals string) (Requirement, bool) {
	ops := []Operator{OpIn, OpNotIn, OpExists, OpDoesNotExist, OpGt, OpLt}
	o := ops[int(op)%len(ops)]
	var values []string
	if vals != "" {
		values = strings.Split(vals, ",")
	}
	switch o {
	case OpExists, OpDoesNotExist:
		values = nil
	case OpGt, OpLt:
		n, err := strconv.ParseInt(strings.TrimSpace(vals), 10, 64)
		if err != nil || n > 1<<40 || n < -(1<<40) {
			return Requirement{}, false
		}
		values = []string{strconv.FormatInt(n, 10)}
	case OpIn:
		if len(values) == 0 {
			return Requirement{}, false
		}
	}
	return Requirement{Key: "k", Operator: o, Values: values}, true
}

// probes are the values worth testing membership for: every mentioned value, integers around every bound (also
// spelled with zero padding longer than any listed value, which no finite NotIn list can exclude), and a fresh value.
func probes(reqs ...Requirement) []string {
	longest := 0
	for _, r := range reqs {
		for _, v := range r.Values {
			longest = max(longest, len(v))
		}
	}
	pad := strings.Repeat("0", longest+1)
	out := []string{"fresh" + pad + "x", "0", "+7", "007"}
	for _, r := range reqs {
		for _, v := range r.Values {
			out = append(out, v)
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				for d := int64(-2); d <= 2; d++ {
					m := n + d
					out = append(out, strconv.FormatInt(m, 10))
					if m >= 0 {
						out = append(out, pad+strconv.FormatInt(m, 10))
					} else {
						out = append(out, "-"+pad+strconv.FormatInt(-m, 10))
					}
				}
			}
		}
	}
	return out
}

func allowsProbe(r Requirements, v string, absent bool) bool {
	if absent {
		return r.Matches(map[string]string{})
	}
	return r.Matches(map[string]string{"k": v})
}

func FuzzRequirementsAlgebra(f *testing.F) {
	f.Add(uint8(0), "a,b", uint8(1), "b", "a")
	f.Add(uint8(0), "1,5", uint8(4), "2", "5")
	f.Add(uint8(4), "2", uint8(5), "3", "2")
	f.Add(uint8(4), "2", uint8(5), "10", "007")
	f.Add(uint8(1), "x", uint8(3), "", "")
	f.Add(uint8(2), "", uint8(1), "a,b,c", "c")
	f.Add(uint8(5), "-3", uint8(0), "-4,x,-2", "-4")
	f.Fuzz(func(t *testing.T, opA uint8, valsA string, opB uint8, valsB string, extra string) {
		ra, okA := fuzzRequirement(opA, valsA)
		rb, okB := fuzzRequirement(opB, valsB)
		if !okA || !okB {
			t.Skip()
		}
		a, errA := NewRequirements(ra)
		b, errB := NewRequirements(rb)
		if errA != nil || errB != nil {
			t.Skip()
		}
		ab, ba := a.Intersect(b), b.Intersect(a)
		if !ab.Equal(ba) {
			t.Fatalf("intersection not commutative: %v vs %v", ab, ba)
		}
		if !ab.Intersect(ab).Equal(ab) {
			t.Fatalf("intersection not idempotent: %v", ab)
		}
		// Round trip through the user-facing form keeps the meaning.
		rt, err := NewRequirements(ab.List()...)
		if err != nil {
			t.Fatalf("List() of %v does not parse back: %v", ab, err)
		}
		witness := false
		check := func(v string, absent bool) {
			want := allowsProbe(a, v, absent) && allowsProbe(b, v, absent)
			if got := allowsProbe(ab, v, absent); got != want {
				t.Fatalf("intersection of %v and %v: allows(%q, absent=%v) = %v, want %v", ra, rb, v, absent, got, want)
			}
			if got := allowsProbe(rt, v, absent); got != want {
				t.Fatalf("round trip of %v: allows(%q, absent=%v) = %v, want %v", ab, v, absent, got, want)
			}
			if !absent && ab.Has("k", v) != want {
				t.Fatalf("Has(%q) on %v disagrees with Matches", v, ab)
			}
			witness = witness || want
		}
		for _, v := range append(probes(ra, rb), extra) {
			check(v, false)
		}
		check("", true)
		if compat := a.Compatible(b) == nil; compat != witness {
			// A complement set always has a witness among integers or fresh strings, which the probes include.
			t.Fatalf("Compatible(%v, %v) = %v but witness found = %v", ra, rb, compat, witness)
		}
	})
}
