package scheduling

import (
	"fmt"
	"strings"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// burstableAllowed reports whether a NodePool names burstable types: an In requirement on the instance category,
// family or type. Burstable vCPUs run at a baseline (5–40% on AWS) and spend credits above it, so filling them
// with CPU requests buys throttling or surplus-credit charges that the hourly price does not show; they are
// launched only for NodePools that ask for them by name.
func burstableAllowed(np *NodePool) bool {
	for _, k := range []string{apiv1.InstanceCategoryLabelKey, apiv1.InstanceFamilyLabelKey, apiv1.InstanceTypeLabelKey} {
		for _, r := range np.Requirements.Get(k) {
			if r.Operator == OpIn {
				return true
			}
		}
	}
	return false
}

// burstableHint completes a NodePool's rejection of p when p's node requirements allow none of the types the
// NodePool launches but some burstable type it does not name: the fix is to name them.
func (s *solver) burstableHint(ps *poolState, p *podInfo) string {
	if len(s.burstables[ps.np]) == 0 {
		return ""
	}
	// Only when the pod's node requirements rule out every type the NodePool does launch.
	for _, t := range ps.types {
		for _, alt := range p.alts {
			if typeCompatible(s.typeKeys, ps.reqs.Intersect(alt), t.it) {
				return ""
			}
		}
	}
	var names []string
	for _, it := range s.burstables[ps.np] {
		for _, alt := range p.alts {
			if typeCompatible(s.typeKeys, alt, it) {
				names = append(names, it.Name)
				break
			}
		}
		if len(names) == 3 {
			break
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the pod could use burstable types such as %s, which NodePool %q does not name: burstable types are launched only for NodePools with an In requirement on %s, %s or %s that includes them)",
		strings.Join(names, ", "), ps.np.Name, apiv1.InstanceCategoryLabelKey, apiv1.InstanceFamilyLabelKey, apiv1.InstanceTypeLabelKey)
}
