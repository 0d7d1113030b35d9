package scheduling

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

func (s *solver) buildPools(snap *Snapshot) error {
	pools := slices.Clone(snap.NodePools)
	slices.SortStableFunc(pools, func(a, b *NodePool) int {
		if a.Weight != b.Weight {
			return cmp.Compare(b.Weight, a.Weight)
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for _, np := range pools {
		for _, it := range np.InstanceTypes {
			for k := range it.Labels {
				s.typeKeys[k] = true
			}
		}
	}
	for _, ds := range snap.DaemonSetPods {
		_, _, alts, _, err := compileNodeRequirements(ds, nil)
		if err != nil {
			return fmt.Errorf("daemonset pod %s: %w", podKey(ds), err)
		}
		s.dsPods = append(s.dsPods, &podInfo{pod: ds, key: podKey(ds), requests: withVolumes(PodRequests(ds), s.vols.ebsVolumes(ds)), alts: alts, tolerations: ds.Spec.Tolerations})
	}
	for _, np := range pools {
		ps, err := s.buildPool(np)
		if err != nil {
			return fmt.Errorf("nodepool %q: %w", np.Name, err)
		}
		s.pools = append(s.pools, ps)
	}
	s.buildExisting(s.nodesMemo(snap))
	return nil
}

func (s *solver) buildPool(np *NodePool) (*poolState, error) {
	ps := &poolState{np: np}
	base, err := poolBase(np)
	if err != nil {
		return nil, err
	}
	allowBurstable := burstableAllowed(np)
	for _, it := range np.InstanceTypes {
		if ti := s.poolType(np, base, it, allowBurstable); ti != nil {
			ps.types = append(ps.types, ti)
		}
	}
	slices.SortStableFunc(ps.types, func(a, b *typeInfo) int {
		return cmp.Or(cmp.Compare(a.offerings[0].PricePerHour, b.offerings[0].PricePerHour), cmp.Compare(a.it.Name, b.it.Name))
	})
	ps.bound, ps.floor = maxAlloc(ps.types), minAlloc(ps.types)
	s.closeRequirements(&base, ps.types)
	ps.reqs = base
	ps.setLimits()
	return ps, nil
}

// setLimits prepares the NodePool's limits: the capacity each resource has left, and how many nodes.
func (ps *poolState) setLimits() {
	limits, usage := corev1.ResourceList{}, corev1.ResourceList{}
	for name, q := range ps.np.Limits {
		if name == ResourceNodes {
			used := ps.np.Usage[ResourceNodes]
			ps.nodesLeft = max(0, q.Value()-used.Value())
			ps.nodesLimited = true
			continue
		}
		limits[name] = q
		ps.limited = append(ps.limited, name)
	}
	for name, q := range ps.np.Usage {
		if name != ResourceNodes {
			usage[name] = q
		}
	}
	slices.Sort(ps.limited)
	ps.remaining = ResourcesFrom(limits).Sub(ResourcesFrom(usage))
}

// poolBase is a NodePool's requirements with its labels and the nodepool label added as In requirements.
func poolBase(np *NodePool) (Requirements, error) {
	base := np.Requirements.Clone()
	for _, k := range sortedKeys(np.Labels) {
		if err := base.Add(Requirement{Key: k, Operator: OpIn, Values: []string{np.Labels[k]}}); err != nil {
			return Requirements{}, fmt.Errorf("label %q: %w", k, err)
		}
	}
	if err := base.Add(Requirement{Key: apiv1.NodePoolLabelKey, Operator: OpIn, Values: []string{np.Name}}); err != nil {
		return Requirements{}, err
	}
	return base, nil
}

// poolType prepares one instance type for a NodePool: its available offerings the requirements allow (cheapest
// first) and its allocatable net of the daemonset pods that would land on it. It returns nil when the NodePool
// cannot launch the type (a burstable one only when allowBurstable) or the daemonsets alone overflow it.
func (s *solver) poolType(np *NodePool, base Requirements, it *cloudprovider.InstanceType, allowBurstable bool) *typeInfo {
	if !typeCompatible(s.typeKeys, base, it) {
		return nil
	}
	if it.Burstable && !allowBurstable {
		s.burstables[np] = append(s.burstables[np], it)
		return nil
	}
	ti := &typeInfo{it: it, capacity: ResourcesFrom(it.Capacity), alloc: withAttachLimit(ResourcesFrom(it.Allocatable()), DefaultEBSAttachLimit)}
	for _, o := range it.Offerings {
		if offeringAllowed(np, base, o) {
			ti.offerings = append(ti.offerings, o)
		}
	}
	if len(ti.offerings) == 0 {
		return nil
	}
	slices.SortStableFunc(ti.offerings, func(a, b cloudprovider.Offering) int {
		return cmp.Or(cmp.Compare(a.PricePerHour, b.PricePerHour), cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.CapacityType, b.CapacityType))
	})
	ti.ids = make([]offeringID, len(ti.offerings))
	for i, o := range ti.offerings {
		ti.ids[i] = s.offers.id(o.Zone, o.CapacityType)
	}
	nodeReqs := base.Intersect(FromLabels(it.Labels))
	nodeReqs.addSet(apiv1.ZoneLabelKey, &valueSet{values: offeringValues(ti.offerings, true)})
	nodeReqs.addSet(apiv1.CapacityTypeLabelKey, &valueSet{values: offeringValues(ti.offerings, false)})
	for _, ds := range s.dsPods {
		// Daemonset pods that do not tolerate a startup taint still land once it is removed: only Taints count.
		if untoleratedTaint(ds.tolerations, np.Taints) == nil && anyCompatible(ds.alts, nodeReqs) {
			ti.alloc = ti.alloc.Sub(ds.requests)
			ti.dsPods = append(ti.dsPods, ds.pod)
		}
	}
	if ti.alloc.CPU < 0 || ti.alloc.Memory < 0 || ti.alloc.Pods < 0 {
		return nil
	}
	return ti
}

// closeRequirements narrows base to what the pool's types can be: for every instance-type key the values they carry
// (and whether some lack it), and the zones and capacity types of their offerings.
func (s *solver) closeRequirements(base *Requirements, types []*typeInfo) {
	for _, k := range slices.Sorted(maps.Keys(s.typeKeys)) {
		values := map[string]bool{}
		absent := false
		for _, t := range types {
			if v, ok := t.it.Labels[k]; ok {
				values[v] = true
			} else {
				absent = true
			}
		}
		base.addSet(k, &valueSet{values: slices.Sorted(maps.Keys(values)), absent: absent})
	}
	var zones, cts []string
	for _, t := range types {
		zones = append(zones, offeringValues(t.offerings, true)...)
		cts = append(cts, offeringValues(t.offerings, false)...)
	}
	base.addSet(apiv1.ZoneLabelKey, &valueSet{values: sortedUnique(zones)})
	base.addSet(apiv1.CapacityTypeLabelKey, &valueSet{values: sortedUnique(cts)})
}

func offeringValues(offs []cloudprovider.Offering, zone bool) []string {
	out := make([]string, 0, len(offs))
	for _, o := range offs {
		if zone {
			out = append(out, o.Zone)
		} else {
			out = append(out, o.CapacityType)
		}
	}
	return sortedUnique(out)
}

func anyCompatible(alts []Requirements, nodeReqs Requirements) bool {
	for _, a := range alts {
		if a.CompatibleWithNode(nodeReqs) == nil {
			return true
		}
	}
	return false
}

// typeCompatible reports whether an instance type's labels satisfy reqs on the instance-type keys and some
// available offering satisfies its zone and capacity type.
func typeCompatible(typeKeys map[string]bool, reqs Requirements, it *cloudprovider.InstanceType) bool {
	for k, set := range reqs.sets {
		if !typeKeys[k] {
			continue
		}
		if v, ok := it.Labels[k]; ok {
			if !set.allows(v) {
				return false
			}
		} else if !set.absent {
			return false
		}
	}
	return true
}

// typeFilter is reqs compiled for testing many instance types: only the keys instance types carry, plus the
// zone and capacity type sets for offerings.
type typeFilter struct {
	keys     []string
	sets     []*valueSet
	zone, ct *valueSet
	// masked filters test offerings by the solver's offeringIndex.
	masked           bool
	zoneMask, ctMask uint64
}

func (s *solver) compileFilter(reqs Requirements) typeFilter {
	f := s.offeringFilter(reqs)
	for k, set := range reqs.sets {
		unconstrained := set.complement && set.absent && len(set.values) == 0 && set.gt == nil && set.lt == nil
		if s.typeKeys[k] && !unconstrained {
			f.keys = append(f.keys, k)
			f.sets = append(f.sets, set)
		}
	}
	return f
}

func (f *typeFilter) ok(t *typeInfo) bool {
	for i, k := range f.keys {
		if v, ok := t.it.Labels[k]; ok {
			if !f.sets[i].allows(v) {
				return false
			}
		} else if !f.sets[i].absent {
			return false
		}
	}
	for i := range t.offerings {
		if f.offeringOK(t, i) {
			return true
		}
	}
	return false
}
