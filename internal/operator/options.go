package operator

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tailor-sh/tailor/internal/scheduling"
)

// Options are `tailor controller`'s settings. Each flag can also be set by an environment variable: the flag's name
// upper-cased with dashes as underscores and a TAILOR_ prefix (--cluster-name → TAILOR_CLUSTER_NAME); a flag given on
// the command line wins.
type Options struct {
	ClusterName     string
	ClusterUID      string
	ClusterEndpoint string
	// KubernetesVersion, ClusterCABundle and ServiceCIDR, with ClusterEndpoint, say how nodes join the cluster;
	// empty ones are discovered at start (EKS DescribeCluster, then the API server).
	KubernetesVersion       string
	ClusterCABundle         string
	ServiceCIDR             string
	CloudProvider           string
	AWSRegion               string
	AWSEndpointURL          string
	InterruptionQueue       string
	BatchIdleDuration       time.Duration
	BatchMaxDuration        time.Duration
	NodeRepair              bool
	NodeRepairToleration    time.Duration
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
	MetricsBindAddress      string
	HealthProbeBindAddress  string
	LogLevel                string
	Kubeconfig              string
	// ConsolidationMaxCandidates caps how many nodes one multi-node consolidation move may replace.
	ConsolidationMaxCandidates int
	// PreferencePolicy is how the provisioner weighs preferences against cost (scheduling.PreferencePolicy).
	PreferencePolicy string
	// PprofBindAddress serves net/http/pprof (heap, CPU and goroutine profiles); 0 or empty turns it off.
	PprofBindAddress string
}

// AddFlags registers every option on fs with its default.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ClusterName, "cluster-name", "", "name of the cluster; Tailor tags every instance with it and touches no instance without it (required)")
	fs.StringVar(&o.ClusterUID, "cluster-uid", "", "UID tagged on every instance besides the cluster name, to tell this cluster from another of the same name in the account; default: the kube-system namespace's UID. Set it only to adopt the instances of a cluster rebuilt from scratch (docs/aws.md)")
	fs.StringVar(&o.ClusterEndpoint, "cluster-endpoint", "", "https URL of the API server the nodes join; empty: EKS DescribeCluster's endpoint")
	fs.StringVar(&o.KubernetesVersion, "kubernetes-version", "", "the cluster's Kubernetes version (major.minor, such as 1.35), which picks the EKS-optimized AMIs; empty: EKS DescribeCluster's, else the API server's /version")
	fs.StringVar(&o.ClusterCABundle, "cluster-ca-bundle", "", "base64 PEM CA certificate of the API server, for the nodes' bootstrap; empty: EKS DescribeCluster's, else the CA this controller trusts the API server with")
	fs.StringVar(&o.ServiceCIDR, "service-cidr", "", "the cluster's service CIDR (such as 10.100.0.0/16); the nodes' cluster DNS address is its tenth address; empty: EKS DescribeCluster's")
	fs.StringVar(&o.CloudProvider, "cloud-provider", "aws", "cloud provider: aws")
	fs.StringVar(&o.AWSRegion, "aws-region", "", "AWS region, such as us-east-1; empty takes $AWS_REGION (required one way or the other)")
	fs.StringVar(&o.AWSEndpointURL, "aws-endpoint-url", "", "override every AWS endpoint (for ec2sim); empty in production")
	fs.StringVar(&o.InterruptionQueue, "interruption-queue", "", "SQS queue name carrying EC2 interruption events; empty turns interruption handling off")
	fs.DurationVar(&o.BatchIdleDuration, "batch-idle-duration", time.Second, "close a batch of pending pods after this long without a new one")
	fs.DurationVar(&o.BatchMaxDuration, "batch-max-duration", 10*time.Second, "close a batch of pending pods after this long at most")
	fs.BoolVar(&o.NodeRepair, "node-repair", true, "replace, then delete, nodes whose Ready (or a provider-listed condition) has been False or Unknown for longer than the provider's toleration")
	fs.DurationVar(&o.NodeRepairToleration, "node-repair-toleration", 0, "replace every provider repair policy's toleration (30m for Ready) with this one; 0 keeps the provider's")
	fs.IntVar(&o.ConsolidationMaxCandidates, "consolidation-max-candidates", 100, "most nodes one multi-node consolidation move may replace by one node; each step of its binary search simulates that many nodes' pods")
	fs.StringVar(&o.PreferencePolicy, "preference-policy", "Cost", "how preferred affinities, ScheduleAnyway spreads and PreferNoSchedule taints weigh against cost: Cost (honour them only on capacity the plan has anyway, except that soft-HA replicas get up to 3 nodes), Respect (treat them as required, relaxing only when a pod cannot be placed) or Ignore")
	fs.BoolVar(&o.LeaderElect, "leader-elect", false, "elect a leader on a Lease so only one replica acts")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; default: the pod's namespace")
	// Shorter than controller-runtime's 15s/10s/2s: a follower takes over from a crashed leader within about 10-15 s
	// instead of 15-24 s (docs/reliability.md).
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", 10*time.Second, "how long a follower waits after the leader's last renewal before taking the Lease")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", 7*time.Second, "how long the leader keeps retrying to renew the Lease before it steps down")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", 2*time.Second, "how often replicas try to acquire or renew the Lease")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 turns it off")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 turns them off")
	fs.StringVar(&o.PprofBindAddress, "pprof-bind-address", "0", "address of the Go profiler's /debug/pprof/ endpoints (such as 127.0.0.1:6060), for diagnosing CPU and memory; 0 turns it off")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info or error")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster configuration, then $KUBECONFIG")
}

// ApplyEnvironment sets every flag not given on the command line from its TAILOR_ environment variable.
func ApplyEnvironment(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		env := "TAILOR_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment variable %s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// LookupEnv is os.LookupEnv, for ApplyEnvironment.
func LookupEnv(key string) (string, bool) { return os.LookupEnv(key) }

// Complete fills in what the environment supplies: the region from $AWS_REGION when --aws-region is not given.
func (o *Options) Complete(lookup func(string) (string, bool)) {
	if o.AWSRegion == "" {
		if v, ok := lookup("AWS_REGION"); ok {
			o.AWSRegion = v
		}
	}
}

// validateTuning returns the problems with the batching, repair and consolidation settings.
func (o *Options) validateTuning() []error {
	var errs []error
	if o.NodeRepairToleration < 0 {
		errs = append(errs, fmt.Errorf("--node-repair-toleration %s must not be negative; 0 keeps the provider's tolerations", o.NodeRepairToleration))
	}
	if o.BatchIdleDuration <= 0 {
		errs = append(errs, fmt.Errorf("--batch-idle-duration %s must be positive, such as 1s", o.BatchIdleDuration))
	}
	if o.BatchMaxDuration < o.BatchIdleDuration {
		errs = append(errs, fmt.Errorf("--batch-max-duration %s must be at least --batch-idle-duration %s", o.BatchMaxDuration, o.BatchIdleDuration))
	}
	if o.ConsolidationMaxCandidates < 1 {
		errs = append(errs, fmt.Errorf("--consolidation-max-candidates %d must be at least 1", o.ConsolidationMaxCandidates))
	}
	return errs
}

// Validate returns every problem with the options, each naming the flag and what it accepts.
func (o *Options) Validate() error {
	var errs []error
	if o.CloudProvider == "aws" && o.AWSRegion == "" {
		errs = append(errs, errors.New("--aws-region is required (or TAILOR_AWS_REGION, or AWS_REGION): the AWS region of the cluster, such as us-east-1"))
	}
	if o.ClusterName == "" {
		errs = append(errs, errors.New("--cluster-name is required (or TAILOR_CLUSTER_NAME): the name of the cluster whose instances Tailor manages"))
	} else if len(o.ClusterName) > 100 {
		errs = append(errs, fmt.Errorf("--cluster-name %q is longer than 100 characters", o.ClusterName))
	}
	if err := scheduling.PreferencePolicy(o.PreferencePolicy).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--preference-policy: %w", err))
	}
	if o.CloudProvider != "aws" {
		errs = append(errs, fmt.Errorf("--cloud-provider %q is not supported; use aws", o.CloudProvider))
	}
	if o.ClusterEndpoint != "" && !strings.HasPrefix(o.ClusterEndpoint, "https://") {
		errs = append(errs, fmt.Errorf("--cluster-endpoint %q must be an https:// URL", o.ClusterEndpoint))
	}
	if o.AWSEndpointURL != "" && !strings.HasPrefix(o.AWSEndpointURL, "http://") && !strings.HasPrefix(o.AWSEndpointURL, "https://") {
		errs = append(errs, fmt.Errorf("--aws-endpoint-url %q must be an http:// or https:// URL", o.AWSEndpointURL))
	}
	errs = append(errs, o.validateTuning()...)
	if o.LeaderElect {
		// client-go's rules: the lease outlasts the renew deadline, which outlasts a jittered retry (×1.2).
		if o.RetryPeriod <= 0 {
			errs = append(errs, fmt.Errorf("--leader-election-retry-period %s must be positive, such as 2s", o.RetryPeriod))
		}
		if float64(o.RenewDeadline) <= 1.2*float64(o.RetryPeriod) {
			errs = append(errs, fmt.Errorf("--leader-election-renew-deadline %s must be more than 1.2 × --leader-election-retry-period %s", o.RenewDeadline, o.RetryPeriod))
		}
		if o.LeaseDuration <= o.RenewDeadline {
			errs = append(errs, fmt.Errorf("--leader-election-lease-duration %s must be longer than --leader-election-renew-deadline %s", o.LeaseDuration, o.RenewDeadline))
		}
	}
	switch o.LogLevel {
	case "debug", "info", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q is not one of debug, info, error", o.LogLevel))
	}
	for name, addr := range map[string]string{"--metrics-bind-address": o.MetricsBindAddress, "--health-probe-bind-address": o.HealthProbeBindAddress, "--pprof-bind-address": o.PprofBindAddress} {
		if err := checkBindAddress(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addr, err))
		}
	}
	return errors.Join(errs...)
}

func checkBindAddress(addr string) error {
	if addr == "0" || addr == "" {
		return nil
	}
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return errors.New("must be host:port or :port, or 0 to turn it off")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return errors.New("port must be a number from 0 to 65535")
	}
	return nil
}
