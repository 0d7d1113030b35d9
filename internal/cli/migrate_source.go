package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// document is one Karpenter object being converted. It remembers which fields the converter read, so every field it
// did not read can be reported as dropped, and collects type errors (the input is invalid) and warnings (the input
// is valid but Tailor cannot express part of it).
type document struct {
	// what names the object in messages, such as "Provisioner default".
	what     string
	root     map[string]any
	used     map[string]bool
	errs     []string
	warnings []string
}

func newDocument(what string, root map[string]any) *document {
	return &document{what: what, root: root, used: map[string]bool{}}
}

// node is an object inside a document, at path (empty for the root).
type node struct {
	doc  *document
	path string
	m    map[string]any
}

func (d *document) top() node { return node{doc: d, path: "", m: d.root} }

func (n node) at(key string) string {
	if n.path == "" {
		return key
	}
	return n.path + "." + key
}

func (n node) errorf(key, format string, args ...any) {
	n.doc.errs = append(n.doc.errs, n.at(key)+": "+fmt.Sprintf(format, args...))
}

// warnf records that the field at key cannot be carried over, and marks it read.
func (n node) warnf(key, format string, args ...any) {
	n.doc.used[n.at(key)] = true
	n.doc.warnings = append(n.doc.warnings, n.at(key)+": "+fmt.Sprintf(format, args...))
}

// ignore marks fields read without converting them: server-set metadata, status, fields folded into others.
func (n node) ignore(keys ...string) {
	for _, k := range keys {
		n.doc.used[n.at(k)] = true
	}
}

func (n node) has(key string) bool {
	v, ok := n.m[key]
	return ok && v != nil
}

func (n node) get(key string) (any, bool) {
	if !n.has(key) {
		return nil, false
	}
	n.doc.used[n.at(key)] = true
	return n.m[key], true
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func (n node) str(key string) (string, bool) {
	v, ok := n.get(key)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		n.errorf(key, "want a string, got %s", typeName(v))
		return "", false
	}
	return s, true
}

func (n node) integer(key string) (int64, bool) {
	v, ok := n.get(key)
	if !ok {
		return 0, false
	}
	num, isNum := v.(json.Number)
	if !isNum {
		n.errorf(key, "want a whole number, got %s", typeName(v))
		return 0, false
	}
	i, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil {
		n.errorf(key, "want a whole number, got %s", num)
		return 0, false
	}
	return i, true
}

func (n node) int32(key string) (int32, bool) {
	i, ok := n.integer(key)
	if ok && (i < -1<<31 || i >= 1<<31) {
		n.errorf(key, "%d is out of range", i)
		return 0, false
	}
	return int32(i), ok
}

func (n node) boolean(key string) (bool, bool) {
	v, ok := n.get(key)
	if !ok {
		return false, false
	}
	b, isBool := v.(bool)
	if !isBool {
		n.errorf(key, "want true or false, got %s", typeName(v))
		return false, false
	}
	return b, true
}

// obj returns the object at key. Its fields count as read only when read.
func (n node) obj(key string) (node, bool) {
	if !n.has(key) {
		return node{}, false
	}
	m, ok := n.m[key].(map[string]any)
	if !ok {
		n.doc.used[n.at(key)] = true
		n.errorf(key, "want an object, got %s", typeName(n.m[key]))
		return node{}, false
	}
	return node{doc: n.doc, path: n.at(key), m: m}, true
}

// objList returns the objects of the list at key.
func (n node) objList(key string) ([]node, bool) {
	if !n.has(key) {
		return nil, false
	}
	list, ok := n.m[key].([]any)
	if !ok {
		n.doc.used[n.at(key)] = true
		n.errorf(key, "want a list, got %s", typeName(n.m[key]))
		return nil, false
	}
	if len(list) == 0 {
		n.doc.used[n.at(key)] = true
	}
	out := make([]node, 0, len(list))
	for i, item := range list {
		path := fmt.Sprintf("%s[%d]", n.at(key), i)
		m, ok := item.(map[string]any)
		if !ok {
			n.doc.used[path] = true
			n.doc.errs = append(n.doc.errs, fmt.Sprintf("%s: want an object, got %s", path, typeName(item)))
			continue
		}
		out = append(out, node{doc: n.doc, path: path, m: m})
	}
	return out, true
}

func (n node) strList(key string) ([]string, bool) {
	v, ok := n.get(key)
	if !ok {
		return nil, false
	}
	list, isList := v.([]any)
	if !isList {
		n.errorf(key, "want a list of strings, got %s", typeName(v))
		return nil, false
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, isStr := item.(string)
		if !isStr {
			n.errorf(fmt.Sprintf("%s[%d]", key, i), "want a string, got %s", typeName(item))
			continue
		}
		out = append(out, s)
	}
	return out, true
}

// strMap reads a map of strings in a stable (sorted) key order.
func (n node) strMap(key string) (map[string]string, bool) {
	v, ok := n.get(key)
	if !ok {
		return nil, false
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		n.errorf(key, "want a map of strings, got %s", typeName(v))
		return nil, false
	}
	out := make(map[string]string, len(m))
	for k, item := range m {
		s, isStr := item.(string)
		if !isStr {
			n.errorf(key+"."+k, "want a string, got %s", typeName(item))
			continue
		}
		out[k] = s
	}
	return out, true
}

func (n node) quantity(key string) (*resource.Quantity, bool) {
	v, ok := n.get(key)
	if !ok {
		return nil, false
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		n.errorf(key, "want a quantity such as 100Gi, got %s", typeName(v))
		return nil, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		n.errorf(key, "want a quantity such as 100Gi, got %q", s)
		return nil, false
	}
	return &q, true
}

// leftovers lists, in sorted order, the fields the converter never read. A field counts as read when it, or an
// enclosing object or list, was read.
func (d *document) leftovers() []string {
	var out []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if d.used[path] {
			return
		}
		if !d.anyUsedBelow(path) {
			out = append(out, path)
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				walk(path+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	for k, v := range d.root {
		walk(k, v)
	}
	slices.Sort(out)
	return out
}

func (d *document) anyUsedBelow(path string) bool {
	for p := range d.used {
		if strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}
