package v1_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestScheduleRuleAgreesWithCron checks the CEL regular expression on budget schedules against the cron parser the
// disruption controller uses: whatever the API server accepts must parse. The rule is stricter than the parser only
// where noted. (CEL's matches() is RE2, the same engine as Go's regexp.)
func TestScheduleRuleAgreesWithCron(t *testing.T) {
	re := scheduleRegexp(t)
	cases := []struct {
		expr        string
		accept      bool
		cronAccepts bool // differs from accept only where the rule is deliberately stricter
	}{
		{"0 9 * * mon-fri", true, true},
		{"*/15 * * * *", true, true},
		{"0 0 1 1 *", true, true},
		{"@daily", true, true},
		{"@hourly", true, true},
		{"@annually", true, true},
		{"0 22 * * 1-5", true, true},
		{"5,10 0-6/2 * jan-mar ?", true, true},
		{"0 0 * * SUN", true, true},
		{"59 23 31 12 6", true, true},
		{"0-30/5 9-17 * * MON-FRI", true, true},
		{"0 0 ? * *", true, true},
		{"* * *", false, false},
		{"61 * * * *", false, false},
		{"* 24 * * *", false, false},
		{"* * 32 * *", false, false},
		{"* * 0 * *", false, false},
		{"* * * 13 *", false, false},
		{"* * * * 7", false, false},
		{"* * * * mon-", false, false},
		{"hello", false, false},
		{"* * * * * *", false, false},
		{"*/0 * * * *", false, false},
		{"@often", false, false},
		{"", false, false},
		// Stray whitespace: the parser trims it, the API refuses it so stored schedules stay canonical.
		{"0 9 * * mon-fri ", false, true},
		{" 0 9 * * *", false, true},
		// @every is robfig's extension, not cron; budgets use a schedule plus a duration instead.
		{"@every 1h", false, true},
	}
	for _, tc := range cases {
		_, cronErr := cron.ParseStandard(tc.expr)
		if got := re.MatchString(tc.expr); got != tc.accept {
			t.Errorf("schedule %q: CEL rule accepts = %v, want %v", tc.expr, got, tc.accept)
		}
		if got := cronErr == nil; got != tc.cronAccepts {
			t.Errorf("schedule %q: cron.ParseStandard accepts = %v, want %v (%v)", tc.expr, got, tc.cronAccepts, cronErr)
		}
	}
}

// scheduleRegexp digs the regular expression of spec.disruption.budgets[].schedule out of the generated CRD.
func scheduleRegexp(t *testing.T) *regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "config", "crd", "tailor.sh_nodepools.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	schedule := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.
		Properties["spec"].Properties["disruption"].Properties["budgets"].Items.Schema.Properties["schedule"]
	if len(schedule.XValidations) != 1 {
		t.Fatalf("want one rule on schedule, got %d", len(schedule.XValidations))
	}
	rule := schedule.XValidations[0].Rule
	pattern, okPrefix := strings.CutPrefix(rule, "self.matches('")
	pattern, okSuffix := strings.CutSuffix(pattern, "')")
	if !okPrefix || !okSuffix {
		t.Fatalf("schedule rule is not a single matches(): %s", rule)
	}
	return regexp.MustCompile(pattern)
}
