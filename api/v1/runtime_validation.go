package v1

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The API server rejects almost every invalid object through the CRDs' OpenAPI and CEL rules. A few checks would
// cost CEL more than its budget allows, because they run a regular expression over strings whose length the schema
// cannot bound (corev1.Taint's key and value, map values). They live here; the controllers run them and report the
// result in the ValidationSucceeded condition instead of launching nodes that could never register.

// RuntimeValidate returns the problems the API server could not check in a NodePool: the character set of taint
// keys and values and of template label values.
func (in *NodePool) RuntimeValidate() field.ErrorList {
	spec := field.NewPath("spec", "template", "spec")
	errs := ValidateTaints(in.Spec.Template.Spec.Taints, spec.Child("taints"))
	errs = append(errs, ValidateTaints(in.Spec.Template.Spec.StartupTaints, spec.Child("startupTaints"))...)
	labels := field.NewPath("spec", "template", "metadata", "labels")
	for k, v := range in.Spec.Template.ObjectMeta.Labels {
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(labels.Key(k), v, msg))
		}
	}
	return errs
}

// RuntimeValidate returns the problems the API server could not check in a NodeClaim: the character set of taint
// keys and values.
func (in *NodeClaim) RuntimeValidate() field.ErrorList {
	spec := field.NewPath("spec")
	errs := ValidateTaints(in.Spec.Taints, spec.Child("taints"))
	return append(errs, ValidateTaints(in.Spec.StartupTaints, spec.Child("startupTaints"))...)
}

// RuntimeValidate returns the problems the API server could not check in an EC2NodeClass: eviction percentages
// above 100%.
func (in *EC2NodeClass) RuntimeValidate() field.ErrorList {
	if in.Spec.Kubelet == nil {
		return nil
	}
	var errs field.ErrorList
	path := field.NewPath("spec", "kubelet", "evictionHard")
	for k, v := range in.Spec.Kubelet.EvictionHard {
		pct, ok := strings.CutSuffix(v, "%")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || f < 0 || f > 100 {
			errs = append(errs, field.Invalid(path.Key(k), v, "must be a percentage from 0% to 100%"))
		}
	}
	return errs
}

// ValidateTaints checks that every taint has a qualified-name key and a valid label-value value.
func ValidateTaints(taints Taints, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range taints {
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(path.Index(i).Child("key"), t.Key, msg))
		}
		for _, msg := range validation.IsValidLabelValue(t.Value) {
			errs = append(errs, field.Invalid(path.Index(i).Child("value"), t.Value, msg))
		}
	}
	return errs
}
