package catalog

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"Radeon Pro V520": "radeon-pro-v520", "T4g": "t4g", "A10G": "a10g", "Gaudi HL-205": "gaudi-hl-205",
		"NVIDIA": "nvidia", "radeon-pro-v520": "radeon-pro-v520", "p6-b200": "p6-b200", " (beta) ": "beta",
		"AWS Inferentia2": "aws-inferentia2", "": "", "---": "", strings.Repeat("x", 70): strings.Repeat("x", 63),
		strings.Repeat("a", 62) + " b": strings.Repeat("a", 62),
	} {
		got := LabelValue(in)
		if got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("LabelValue(%q) = %q is not a label value: %v", in, got, errs)
		}
	}
}

// Every label of every type of every embedded catalogue is a valid label value.
func TestEveryCatalogueTypeHasValidLabels(t *testing.T) {
	for _, name := range Names() {
		c := MustLoad(name)
		for _, it := range c.ToInstanceTypes(Options{}) {
			for k, v := range it.Labels {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Errorf("%s %s: label %s=%q: %v", name, it.Name, k, v, errs)
				}
			}
		}
	}
}
