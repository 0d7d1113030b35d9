package operator

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Options, error) {
	t.Helper()
	o := &Options{}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := ApplyEnvironment(fs, lookup); err != nil {
		return nil, err
	}
	o.Complete(lookup)
	return o, o.Validate()
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of the error; none means valid
	}{
		{name: "minimal", args: []string{"--cluster-name=demo", "--aws-region=us-east-1"}},
		{name: "from the environment", env: map[string]string{"TAILOR_CLUSTER_NAME": "demo", "AWS_REGION": "eu-west-1", "TAILOR_BATCH_IDLE_DURATION": "2s", "TAILOR_BATCH_MAX_DURATION": "20s"}},
		{name: "flag beats environment", env: map[string]string{"TAILOR_CLUSTER_NAME": "env"}, args: []string{"--cluster-name=flag", "--aws-region=us-east-1"}},
		{name: "no cluster name", args: []string{"--aws-region=us-east-1"}, want: []string{"--cluster-name is required"}},
		{name: "no region", args: []string{"--cluster-name=demo"}, want: []string{"--aws-region is required"}},
		{name: "unknown provider", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--cloud-provider=gcp"}, want: []string{`--cloud-provider "gcp"`}},
		{name: "endpoint not https", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--cluster-endpoint=http://x"}, want: []string{"--cluster-endpoint", "https://"}},
		{name: "aws endpoint not a URL", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--aws-endpoint-url=localhost:4566"}, want: []string{"--aws-endpoint-url"}},
		{name: "max below idle", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--batch-idle-duration=5s", "--batch-max-duration=1s"}, want: []string{"--batch-max-duration 1s must be at least --batch-idle-duration 5s"}},
		{name: "zero idle", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--batch-idle-duration=0s"}, want: []string{"--batch-idle-duration"}},
		{name: "no consolidation candidates", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--consolidation-max-candidates=0"}, want: []string{"--consolidation-max-candidates 0 must be at least 1"}},
		{name: "consolidation cap", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--consolidation-max-candidates=20"}},
		{name: "bad log level", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--log-level=verbose"}, want: []string{`--log-level "verbose"`}},
		{name: "bad bind address", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--metrics-bind-address=8080"}, want: []string{"--metrics-bind-address"}},
		{name: "pprof on", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--pprof-bind-address=127.0.0.1:6060"}},
		{name: "bad pprof address", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--pprof-bind-address=6060"}, want: []string{"--pprof-bind-address"}},
		{name: "leader election defaults", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--leader-elect"}},
		{name: "lease not longer than renew deadline", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--leader-elect", "--leader-election-lease-duration=5s"},
			want: []string{"--leader-election-lease-duration 5s must be longer than --leader-election-renew-deadline 7s"}},
		{name: "renew deadline within a jittered retry", args: []string{"--cluster-name=demo", "--aws-region=us-east-1", "--leader-elect", "--leader-election-retry-period=6s"},
			want: []string{"--leader-election-renew-deadline 7s must be more than 1.2 × --leader-election-retry-period 6s"}},
		{name: "every problem at once", args: []string{"--log-level=x"}, want: []string{"--cluster-name", "--aws-region", "--log-level"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parse(t, tc.env, tc.args...)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %v", tc.args)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			_ = o
		})
	}
}

func TestEnvironmentValues(t *testing.T) {
	o, err := parse(t, map[string]string{"TAILOR_CLUSTER_NAME": "env", "AWS_REGION": "eu-west-1", "TAILOR_BATCH_IDLE_DURATION": "2s", "TAILOR_BATCH_MAX_DURATION": "20s"}, "--cluster-name=flag")
	if err != nil {
		t.Fatal(err)
	}
	if o.ClusterName != "flag" || o.AWSRegion != "eu-west-1" || o.BatchIdleDuration != 2*time.Second || o.BatchMaxDuration != 20*time.Second {
		t.Errorf("options = %+v", o)
	}
	if _, err := parse(t, map[string]string{"TAILOR_BATCH_IDLE_DURATION": "soon"}); err == nil || !strings.Contains(err.Error(), "TAILOR_BATCH_IDLE_DURATION") {
		t.Errorf("a malformed environment variable: error %v, want one naming it", err)
	}
}

func TestJoinSettingsFlags(t *testing.T) {
	o, err := parse(t, map[string]string{"TAILOR_SERVICE_CIDR": "172.20.0.0/16"},
		"--cluster-name=demo", "--aws-region=us-east-1", "--kubernetes-version=1.34", "--cluster-ca-bundle=Q0E=")
	if err != nil {
		t.Fatal(err)
	}
	if o.KubernetesVersion != "1.34" || o.ClusterCABundle != "Q0E=" || o.ServiceCIDR != "172.20.0.0/16" || o.ClusterEndpoint != "" {
		t.Errorf("join settings = %+v; want the flags and the environment, and no endpoint invented", o)
	}
}
