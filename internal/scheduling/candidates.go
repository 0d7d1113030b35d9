package scheduling

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// candidates are the instance types a NodeClaim may still launch as, with what the planner derives from them. Only
// these methods assign the fields, and they keep them consistent:
//   - types are compatible with the claim's requirements and can hold every pod placed on it, cheapest first under
//     the requirements; types only ever leave while the claim grows.
//   - bound and floor bracket the types' allocatable: bound is at least their per-resource maximum (a quick test of
//     whether anything more can fit), floor at most their per-resource minimum without extended resources (what
//     fits it fits them all). Both are exact after start, keepFitting and replace; adopt keeps the wider list's,
//     still a bracket of the narrower one.
//   - ownTypes says types is the claim's own slice, safe to filter in place; otherwise it is shared (a NodePool's,
//     an efficient-types or an attempt's list) and is copied before it is filtered.
//   - capped says types were limited to the efficient ones when the claim opened (efficiency.go); widen lifts it.
//   - domains (possibleValues per topology key) and pins (the effect of pinning key=value) cache work done under the
//     claim's requirements: they are dropped whenever the requirements or the list change other than by fit.
type candidates struct {
	types    []*typeInfo
	ownTypes bool
	bound    Resources
	floor    Resources
	capped   bool
	domains  map[string][]string
	pins     map[string]*pinInfo
}

// start gives a new claim a shared list with its precomputed bound and floor; capped says the list is the efficient
// types of the pod class that opens the claim.
func (c *candidates) start(types []*typeInfo, bound, floor Resources, capped bool) {
	c.types, c.ownTypes, c.bound, c.floor, c.capped = types, false, bound, floor, capped
	c.domains, c.pins = nil, nil
}

// adopt takes the list an attempt narrowed when the claim's requirements changed (own says it is a fresh slice).
// The list is a subset of the current one, so bound and floor still bracket it.
func (c *candidates) adopt(types []*typeInfo, own bool) {
	c.types, c.ownTypes = types, own
	c.domains, c.pins = nil, nil
}

// replace makes types, a list of the claim's own, its whole choice: not capped, with exact bound and floor.
func (c *candidates) replace(types []*typeInfo) {
	c.types, c.ownTypes, c.capped = types, true, false
	c.bound, c.floor = maxAlloc(types), minAlloc(types)
	c.domains, c.pins = nil, nil
}

// keepFitting drops the types that cannot hold used. Types only ever leave: the claim only grows. The topology
// caches stay: the claim's requirements have not changed.
func (c *candidates) keepFitting(used Resources) {
	if used.Fits(c.floor) {
		return // every type still holds the pods: nothing to scan
	}
	first := slices.IndexFunc(c.types, func(t *typeInfo) bool { return !used.Fits(t.alloc) })
	if first < 0 {
		return
	}
	kept := c.types[:first:first]
	if !c.ownTypes {
		kept = make([]*typeInfo, first, len(c.types))
		copy(kept, c.types[:first])
		c.ownTypes = true
	}
	for _, t := range c.types[first+1:] {
		if used.Fits(t.alloc) {
			kept = append(kept, t)
		}
	}
	c.types = kept
	c.bound, c.floor = maxAlloc(kept), minAlloc(kept)
}

// cachedDomains is the cached domain list for key, if any.
func (c *candidates) cachedDomains(key string) ([]string, bool) {
	d, ok := c.domains[key]
	return d, ok
}

// rememberDomains caches the domains for key under the claim's current requirements.
func (c *candidates) rememberDomains(key string, d []string) {
	if c.domains == nil {
		c.domains = map[string][]string{}
	}
	c.domains[key] = d
}

// cachedPin is the cached effect of pinning key=value (ck), if any.
func (c *candidates) cachedPin(ck string) (*pinInfo, bool) {
	pi, ok := c.pins[ck]
	return pi, ok
}

// rememberPin caches the effect of pinning ck under the claim's current requirements.
func (c *candidates) rememberPin(ck string, pi *pinInfo) {
	if c.pins == nil {
		c.pins = map[string]*pinInfo{}
	}
	c.pins[ck] = pi
}

// maxAlloc is the per-resource maximum allocatable over types: nothing that exceeds it fits any of them. It runs on
// every commit that drops types, so it allocates only for extended resources.
func maxAlloc(types []*typeInfo) Resources {
	var out Resources
	for _, t := range types {
		a := &t.alloc
		out.CPU, out.Memory, out.Pods, out.Storage = max(out.CPU, a.CPU), max(out.Memory, a.Memory), max(out.Pods, a.Pods), max(out.Storage, a.Storage)
		for k, v := range a.Extended {
			if out.Extended == nil {
				out.Extended = map[corev1.ResourceName]int64{}
			}
			if cur, ok := out.Extended[k]; !ok || v > cur {
				out.Extended[k] = v
			}
		}
	}
	return out
}

// minAlloc is the per-resource minimum allocatable (cpu, memory, pods, storage) over types: what fits it fits them
// all.
func minAlloc(types []*typeInfo) Resources {
	if len(types) == 0 {
		return Resources{}
	}
	out := types[0].alloc
	out.Extended = nil
	for _, t := range types[1:] {
		a := &t.alloc
		out.CPU, out.Memory, out.Pods, out.Storage = min(out.CPU, a.CPU), min(out.Memory, a.Memory), min(out.Pods, a.Pods), min(out.Storage, a.Storage)
	}
	return out
}
