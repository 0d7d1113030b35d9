package ec2sim

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// form reads EC2 Query parameters, whose lists are flattened as Name.1, Name.2 and structures as Name.N.Member.
type form url.Values

func (f form) str(key string) string { return url.Values(f).Get(key) }

// integer reads an integer parameter; absent is 0.
func (f form) integer(key string) (int, error) {
	v := f.str(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errInvalidParameterValue("Value (%s) for parameter %s is invalid: expecting an integer", v, key)
	}
	return n, nil
}

// indices returns the N of every parameter named prefix.N or prefix.N.…, sorted.
func (f form) indices(prefix string) []int {
	seen := map[int]bool{}
	for k := range f {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(num); err == nil && n > 0 {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// list reads a flattened list of strings: prefix.1, prefix.2, …
func (f form) list(prefix string) []string {
	var out []string
	for _, n := range f.indices(prefix) {
		if v := f.str(prefix + "." + strconv.Itoa(n)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// filters reads Filter.N.Name and Filter.N.Value.M.
func (f form) filters() []Filter {
	var out []Filter
	for _, n := range f.indices("Filter") {
		p := "Filter." + strconv.Itoa(n)
		out = append(out, Filter{Name: f.str(p + ".Name"), Values: f.list(p + ".Value")})
	}
	return out
}

// tags reads prefix.N.Key and prefix.N.Value into a map.
func (f form) tags(prefix string) map[string]string {
	out := map[string]string{}
	for _, n := range f.indices(prefix) {
		p := prefix + "." + strconv.Itoa(n)
		out[f.str(p+".Key")] = f.str(p + ".Value")
	}
	return out
}

// tagSpecs reads TagSpecification.N.ResourceType with its Tag.M list, by resource type.
func (f form) tagSpecs(prefix string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, n := range f.indices(prefix) {
		p := prefix + "." + strconv.Itoa(n)
		rt := f.str(p + ".ResourceType")
		out[rt] = mergeTags(out[rt], f.tags(p+".Tag"))
	}
	return out
}

// describe reads the parameters every Describe call shares; idParam names the ID list (InstanceId, SubnetId, …).
func (f form) describe(idParam string) (describeInput, error) {
	max, err := f.integer("MaxResults")
	if err != nil {
		return describeInput{}, err
	}
	in := describeInput{Filters: f.filters(), MaxResults: max, NextToken: f.str("NextToken")}
	if idParam != "" {
		in.IDs = f.list(idParam)
	}
	return in, nil
}
