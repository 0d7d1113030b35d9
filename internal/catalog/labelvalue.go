package catalog

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// LabelValue turns a value from a cloud's data (a GPU name such as "Radeon Pro V520", a manufacturer such as "NVIDIA")
// into a valid label value: lower case, every run of characters a label may not hold replaced by one "-", no leading
// or trailing separator, at most 63 characters. "Radeon Pro V520" becomes "radeon-pro-v520", "T4g" "t4g",
// "Gaudi HL-205" "gaudi-hl-205". A value that is already valid and lower case is returned unchanged.
func LabelValue(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > validation.LabelValueMaxLength {
		out = out[:validation.LabelValueMaxLength]
	}
	return strings.Trim(out, "-_.")
}
