package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// karpenterLabelKeys maps Karpenter's well-known label keys (and the deprecated beta Kubernetes ones Karpenter
// accepted) to Tailor's. Values carry over unchanged: capacity types, families, sizes, GPU names, and memory in MiB
// are written the same way.
var karpenterLabelKeys = map[string]string{
	"karpenter.sh/capacity-type":                  apiv1.CapacityTypeLabelKey,
	"karpenter.sh/provisioner-name":               apiv1.NodePoolLabelKey,
	"karpenter.sh/nodepool":                       apiv1.NodePoolLabelKey,
	"karpenter.k8s.aws/instance-category":         apiv1.InstanceCategoryLabelKey,
	"karpenter.k8s.aws/instance-family":           apiv1.InstanceFamilyLabelKey,
	"karpenter.k8s.aws/instance-generation":       apiv1.InstanceGenerationLabelKey,
	"karpenter.k8s.aws/instance-size":             apiv1.InstanceSizeLabelKey,
	"karpenter.k8s.aws/instance-cpu":              apiv1.InstanceCPULabelKey,
	"karpenter.k8s.aws/instance-memory":           apiv1.InstanceMemoryLabelKey,
	"karpenter.k8s.aws/instance-gpu-count":        apiv1.InstanceGPUCountLabelKey,
	"karpenter.k8s.aws/instance-gpu-name":         apiv1.InstanceGPUNameLabelKey,
	"karpenter.k8s.aws/instance-gpu-memory":       apiv1.InstanceGPUMemoryLabelKey,
	"karpenter.k8s.aws/instance-gpu-manufacturer": apiv1.InstanceGPUManufacturerLabelKey,
	"beta.kubernetes.io/instance-type":            apiv1.InstanceTypeLabelKey,
	"beta.kubernetes.io/arch":                     apiv1.ArchLabelKey,
	"beta.kubernetes.io/os":                       apiv1.OSLabelKey,
	"failure-domain.beta.kubernetes.io/zone":      apiv1.ZoneLabelKey,
	"failure-domain.beta.kubernetes.io/region":    apiv1.RegionLabelKey,
	"topology.kubernetes.io/zone":                 apiv1.ZoneLabelKey,
	"topology.kubernetes.io/region":               apiv1.RegionLabelKey,
	"node.kubernetes.io/instance-type":            apiv1.InstanceTypeLabelKey,
	"kubernetes.io/arch":                          apiv1.ArchLabelKey,
	"kubernetes.io/os":                            apiv1.OSLabelKey,
}

// mapLabelKey returns Tailor's key for a Karpenter label key, or an explanation when Tailor has none.
func mapLabelKey(key string) (string, error) {
	if to, ok := karpenterLabelKeys[key]; ok && to != "" {
		return to, nil
	}
	if isKarpenterKey(key) {
		return "", fmt.Errorf("no Tailor label stands for %s", key)
	}
	return key, nil
}

// requirements converts a list of node selector requirements, mapping Karpenter's label keys. A requirement on a key
// Tailor does not have is dropped with a warning: keeping it would make the NodePool unschedulable or invalid.
func requirements(n node, key string) []apiv1.NodeSelectorRequirementWithMinValues {
	items, _ := n.objList(key)
	var out []apiv1.NodeSelectorRequirementWithMinValues
	for _, item := range items {
		k, ok := item.str("key")
		if !ok {
			item.errorf("key", "required")
			continue
		}
		op, ok := item.str("operator")
		if !ok {
			item.errorf("operator", "required")
			continue
		}
		values, _ := item.strList("values")
		switch corev1.NodeSelectorOperator(op) {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
			corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		case "Gte", "Lte":
			var ok bool
			if op, values, ok = inclusiveBound(item, op, values); !ok {
				continue
			}
		default:
			item.errorf("operator", "want In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte, got %q", op)
			continue
		}
		if k == apiv1.CapacityTypeLabelKey || k == "karpenter.sh/capacity-type" {
			var ok bool
			if values, ok = dropReserved(item, op, values); !ok {
				continue
			}
		}
		req := apiv1.NodeSelectorRequirementWithMinValues{Operator: corev1.NodeSelectorOperator(op), Values: values}
		if mv, ok := item.int32("minValues"); ok {
			req.MinValues = &mv
		}
		to, err := mapLabelKey(k)
		if err == nil {
			err = apiv1.ValidateRequirementKey(to)
		}
		if err != nil {
			item.warnf("key", "%v; dropped the requirement (%s %s %s)", err, k, op, strings.Join(values, ","))
			continue
		}
		req.Key = to
		out = append(out, req)
	}
	return out
}

// templateLabels converts the labels Karpenter put on nodes, mapping its label keys.
func templateLabels(n node, key string) map[string]string {
	labels, ok := n.strMap(key)
	if !ok || len(labels) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		to, err := mapLabelKey(k)
		if err == nil {
			err = apiv1.ValidateTemplateLabelKey(to)
		}
		if err != nil {
			n.doc.warnings = append(n.doc.warnings, fmt.Sprintf("%s.%s: %v; dropped", n.at(key), k, err))
			continue
		}
		out[to] = labels[k]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func taints(n node, key string) apiv1.Taints {
	items, _ := n.objList(key)
	var out apiv1.Taints
	for _, item := range items {
		t := corev1.Taint{}
		var ok bool
		if t.Key, ok = item.str("key"); !ok {
			item.errorf("key", "required")
		}
		t.Value, _ = item.str("value")
		effect, ok := item.str("effect")
		if !ok {
			item.errorf("effect", "required")
		}
		t.Effect = corev1.TaintEffect(effect)
		item.ignore("timeAdded")
		out = append(out, t)
	}
	return out
}

// inclusiveBound turns Karpenter's Gte/Lte (v1.14) into the Gt/Lt Kubernetes node selectors know, on the integer next
// to the bound: Gte 4 is Gt 3, Lte 8 is Lt 9.
func inclusiveBound(item node, op string, values []string) (string, []string, bool) {
	if len(values) != 1 {
		item.errorf("values", "%s takes exactly one integer value, got %d", op, len(values))
		return "", nil, false
	}
	v, err := strconv.ParseInt(values[0], 10, 64)
	if err != nil {
		item.errorf("values", "%s takes an integer, got %q", op, values[0])
		return "", nil, false
	}
	if op == "Gte" {
		return string(corev1.NodeSelectorOpGt), []string{strconv.FormatInt(v-1, 10)}, true
	}
	return string(corev1.NodeSelectorOpLt), []string{strconv.FormatInt(v+1, 10)}, true
}

// dropReserved removes Karpenter's reserved capacity type (capacity reservations), which Tailor does not launch: it
// warns, and drops the requirement when nothing else is left of an In.
func dropReserved(item node, op string, values []string) ([]string, bool) {
	if !slices.Contains(values, "reserved") {
		return values, true
	}
	kept := slices.DeleteFunc(slices.Clone(values), func(v string) bool { return v == "reserved" })
	if op == string(corev1.NodeSelectorOpIn) && len(kept) == 0 {
		item.warnf("values", "capacity type reserved (capacity reservations) is not supported by Tailor; dropped the requirement, so the NodePool allows on-demand and spot: restrict it by hand")
		return nil, false
	}
	item.warnf("values", "capacity type reserved (capacity reservations) is not supported by Tailor; dropped the value")
	return kept, true
}
