package v1_test

import (
	"strings"
	"testing"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestDoNotDisrupt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		value     string
		after     time.Duration
		protected bool
		until     time.Time
		bad       bool
	}{
		{value: "", protected: false},
		{value: "false", protected: false},
		{value: "true", after: 1000 * time.Hour, protected: true},
		{value: "30m", after: 29 * time.Minute, protected: true, until: start.Add(30 * time.Minute)},
		{value: "30m", after: 30 * time.Minute, protected: false, until: start.Add(30 * time.Minute)},
		{value: "yes", protected: true, bad: true},
		{value: "-5m", protected: true, bad: true},
		{value: "0s", protected: true, bad: true},
	}
	for _, tt := range tests {
		protected, until, err := apiv1.DoNotDisrupt(tt.value, start, start.Add(tt.after))
		if protected != tt.protected || !until.Equal(tt.until) || (err != nil) != tt.bad {
			t.Errorf("DoNotDisrupt(%q, +%s) = %v, %v, %v; want %v, %v, error %v", tt.value, tt.after, protected, until, err, tt.protected, tt.until, tt.bad)
		}
		if err != nil && !strings.Contains(err.Error(), apiv1.DoNotDisruptAnnotationKey) {
			t.Errorf("error %q does not name the annotation", err)
		}
	}
}
