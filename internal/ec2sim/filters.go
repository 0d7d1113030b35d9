package ec2sim

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Filter is one EC2 filter: the resource matches when its attribute Name has any of Values. Several filters must
// all match.
type Filter struct {
	Name   string
	Values []string
}

// attrFunc returns the values of a resource's attribute for a filter name, and false when the resource kind has no
// such filter.
type attrFunc func(name string) (values []string, ok bool)

// tagAttrs answers the tag filters every taggable resource supports: tag:<key>, tag-key and tag-value.
func tagAttrs(tags map[string]string, name string) ([]string, bool) {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, present := tags[key]; present {
			return []string{v}, true
		}
		return nil, true
	}
	switch name {
	case "tag-key":
		return sortedKeys(tags), true
	case "tag-value":
		var vals []string
		for _, k := range sortedKeys(tags) {
			vals = append(vals, tags[k])
		}
		return vals, true
	}
	return nil, false
}

// matchFilters reports whether a resource passes every filter. A filter name the resource kind does not support is
// an InvalidParameterValue error, as EC2 answers.
func matchFilters(filters []Filter, attr attrFunc) (bool, error) {
	for _, f := range filters {
		vals, ok := attr(f.Name)
		if !ok {
			return false, errInvalidFilter(f.Name)
		}
		if !anyMatches(f.Values, vals) {
			return false, nil
		}
	}
	return true, nil
}

// validateFilters rejects unknown filter names even when there is no resource to try them on.
func validateFilters(filters []Filter, attr attrFunc) error {
	for _, f := range filters {
		if _, ok := attr(f.Name); !ok {
			return errInvalidFilter(f.Name)
		}
		if len(f.Values) == 0 {
			return &apiError{Status: 400, Code: "InvalidParameterValue",
				Message: fmt.Sprintf("The filter '%s' has no values: give at least one Filter.N.Value.M", f.Name)}
		}
	}
	return nil
}

func errInvalidFilter(name string) *apiError {
	return &apiError{Status: 400, Code: "InvalidParameterValue", Message: fmt.Sprintf("The filter '%s' is invalid", name)}
}

func anyMatches(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if matchWildcard(p, v) {
				return true
			}
		}
	}
	return false
}

// matchWildcard matches EC2 filter values: * is any run of characters, ? exactly one, and a backslash makes the
// next character literal.
func matchWildcard(pattern, s string) bool {
	p := []rune(pattern)
	r := []rune(s)
	// Iterative glob matching with one backtracking point for the last *.
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(r) {
		if pi < len(p) {
			switch {
			case p[pi] == '*':
				starP, starS = pi, si
				pi++
				continue
			case p[pi] == '?':
				pi++
				si++
				continue
			case p[pi] == '\\' && pi+1 < len(p):
				if p[pi+1] == r[si] {
					pi += 2
					si++
					continue
				}
			case p[pi] == r[si]:
				pi++
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// page is one page of a paginated Describe call.
type page struct {
	start, end int
	next       string
}

// paginate cuts a list of total items into the page the request asks for. maxResults 0 means the action's
// default page size (0 for "everything"). Tokens are opaque to clients and bound to the action.
func paginate(action string, total, maxResults int, token string, minMax, maxMax, def int) (page, error) {
	if maxResults != 0 && (maxResults < minMax || maxResults > maxMax) {
		return page{}, &apiError{Status: 400, Code: "InvalidParameterValue",
			Message: fmt.Sprintf("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", maxResults, minMax, maxMax)}
	}
	size := maxResults
	if size == 0 {
		size = def
	}
	start := 0
	if token != "" {
		var err error
		start, err = decodeToken(action, token)
		if err != nil || start > total {
			return page{}, &apiError{Status: 400, Code: "InvalidPaginationToken",
				Message: fmt.Sprintf("Invalid pagination token %q: pass the NextToken of the previous %s page unchanged", token, action)}
		}
	}
	end := total
	if size > 0 && start+size < total {
		end = start + size
	}
	p := page{start: start, end: end}
	if end < total {
		p.next = encodeToken(action, end)
	}
	return p, nil
}

func encodeToken(action string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(action + ":" + strconv.Itoa(offset)))
}

func decodeToken(action, token string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, fmt.Errorf("decoding token: %w", err)
	}
	rest, ok := strings.CutPrefix(string(raw), action+":")
	if !ok {
		return 0, fmt.Errorf("token of another action")
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("token offset %q", rest)
	}
	return n, nil
}
