// Command ec2sim is a simulated AWS region on 127.0.0.1 (EC2, SSM, SQS and the Pricing API) whose instances
// register KWOK Nodes in a cluster. It only wires flags to internal/ec2sim; docs/ec2sim.md describes it.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

type flags struct {
	addr, configFile, clusterName, stateFile, kubeconfig, catalogName, instanceTypesFile, endpointFile string
	seed                                                                                               uint64
	vmOverhead                                                                                         float64
	defaultCapacity                                                                                    int
	timing                                                                                             ec2sim.Timing
	throttleRate, serverErrorRate, neverRegisterRate, slowBootRate, interruptionsPerHour               float64
	latency, slowBootLatency                                                                           time.Duration
	faultActions, neverRegisterTypes                                                                   []string
	verbose                                                                                            bool
	iamPolicy                                                                                          string
}

func newCommand() *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:           "ec2sim",
		Short:         "A simulated AWS region on 127.0.0.1 whose instances register KWOK Nodes",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return run(ctx, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.addr, "addr", "127.0.0.1:4566", "loopback address to listen on (port 0 picks a free one)")
	fs.StringVar(&f.configFile, "config", "", "region config file (YAML): zones, subnets, security groups, images, queues, capacity")
	fs.StringVar(&f.clusterName, "cluster-name", "tailor", "cluster name for the default discovery tags and queue (ignored with --config)")
	fs.StringVar(&f.stateFile, "state-file", "", "file that keeps instances, launch templates, capacity, faults and queued messages across restarts")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "cluster in which booted instances register Nodes; empty registers none")
	fs.StringVar(&f.catalogName, "catalog", catalog.DefaultName, "embedded instance catalogue to sell")
	fs.StringVar(&f.instanceTypesFile, "instance-types", "", "custom instance catalogue (JSON, docs/catalog.md) instead of --catalog")
	fs.StringVar(&f.endpointFile, "endpoint-file", "", "write the endpoint URL to this file once listening")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for instance IDs, addresses, placements and injected faults")
	fs.Float64Var(&f.vmOverhead, "vm-memory-overhead", ec2sim.DefaultVMMemoryOverheadPercent, "share of advertised memory the kubelet does not see")
	fs.IntVar(&f.defaultCapacity, "default-capacity", 1000, "instances each (type, zone, capacity type) pool holds unless a capacity rule says otherwise")
	fs.DurationVar(&f.timing.LaunchLatency, "launch-latency", 2*time.Second, "time an instance stays pending")
	fs.DurationVar(&f.timing.BootLatency, "boot-latency", 3*time.Second, "time from running to Node registration")
	fs.DurationVar(&f.timing.TerminateLatency, "terminate-latency", 3*time.Second, "time an instance stays shutting-down")
	fs.DurationVar(&f.timing.InterruptionNotice, "interruption-notice", 2*time.Minute, "time from a spot interruption warning to termination")
	fs.DurationVar(&f.timing.TickInterval, "tick", 200*time.Millisecond, "how often instances move along and Nodes are reconciled")
	fs.Float64Var(&f.throttleRate, "throttle-rate", 0, "fraction of API calls answered with a throttling error")
	fs.Float64Var(&f.serverErrorRate, "server-error-rate", 0, "fraction of API calls answered with a 500 or 503")
	fs.DurationVar(&f.latency, "latency", 0, "latency added to every API call")
	fs.StringSliceVar(&f.faultActions, "fault-actions", nil, "limit throttling, server errors and latency to these actions")
	fs.Float64Var(&f.neverRegisterRate, "never-register-rate", 0, "fraction of instances that never register a Node")
	fs.StringSliceVar(&f.neverRegisterTypes, "never-register-types", nil, "instance types (wildcards allowed) that never register a Node")
	fs.Float64Var(&f.slowBootRate, "slow-boot-rate", 0, "fraction of instances that boot --slow-boot-latency slower")
	fs.DurationVar(&f.slowBootLatency, "slow-boot-latency", 5*time.Minute, "extra boot time of slow instances")
	fs.Float64Var(&f.interruptionsPerHour, "spot-interruptions-per-hour", 0, "rate at which each spot instance is interrupted")
	fs.StringVar(&f.iamPolicy, "iam-policy", ec2sim.IAMPolicyOff, "IAM policy every call must pass: \"builtin\" (Tailor's documented controller policy), a policy file, or \"off\"")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log every launch")
	cmd.MarkFlagsMutuallyExclusive("catalog", "instance-types")
	return cmd
}

func run(ctx context.Context, f *flags) error {
	verbosity := 0
	if f.verbose {
		verbosity = 1
	}
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) },
		funcr.Options{Verbosity: verbosity, LogTimestamp: true})
	cfg := ec2sim.DefaultConfig(f.clusterName)
	if f.configFile != "" {
		var err error
		if cfg, err = ec2sim.LoadConfig(f.configFile); err != nil {
			return err
		}
	}
	cat, err := loadCatalog(f)
	if err != nil {
		return err
	}
	policy, err := ec2sim.LoadIAMPolicy(f.iamPolicy)
	if err != nil {
		return err
	}
	opts := ec2sim.Options{
		IAMPolicy:           policy,
		Addr:                f.addr,
		Config:              cfg,
		InstanceTypes:       ec2sim.InstanceTypesFromCatalog(cat, cfg.Region, f.vmOverhead),
		Seed:                f.seed,
		StateFile:           f.stateFile,
		Timing:              f.timing,
		DefaultPoolCapacity: f.defaultCapacity,
		Log:                 log,
		Faults: ec2sim.Faults{
			ThrottleRate: f.throttleRate, ServerErrorRate: f.serverErrorRate,
			Latency: metav1.Duration{Duration: f.latency}, Actions: f.faultActions,
			NeverRegisterRate: f.neverRegisterRate, NeverRegisterInstanceTypes: f.neverRegisterTypes,
			SlowBootRate: f.slowBootRate, SlowBootLatency: metav1.Duration{Duration: f.slowBootLatency},
			SpotInterruptionsPerHour: f.interruptionsPerHour,
		},
	}
	if f.kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
		if err != nil {
			return fmt.Errorf("reading --kubeconfig: %w", err)
		}
		if opts.KubeClient, err = kubernetes.NewForConfig(rc); err != nil {
			return fmt.Errorf("building a client from --kubeconfig: %w", err)
		}
		if err := eksFromKubeconfig(cfg, rc); err != nil {
			return err
		}
	}
	sim, err := ec2sim.New(opts)
	if err != nil {
		return err
	}
	return sim.ListenAndServe(ctx, func(endpoint string) {
		fmt.Printf("ec2sim listening on %s (region %s)\n", endpoint, sim.Region())
		if f.endpointFile != "" {
			if err := writeFileAtomically(f.endpointFile, endpoint+"\n"); err != nil {
				log.Error(err, "writing --endpoint-file")
			}
		}
	})
}

func loadCatalog(f *flags) (*catalog.Catalog, error) {
	if f.instanceTypesFile != "" {
		return catalog.LoadFile(f.instanceTypesFile)
	}
	return catalog.Load(f.catalogName)
}

// writeFileAtomically writes through a temporary file and a rename, so a reader never sees half the content.
func writeFileAtomically(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// eksFromKubeconfig makes the simulated EKS cluster the one Nodes register in, unless the config says otherwise: its
// API server and CA are what DescribeCluster answers, as on EKS.
func eksFromKubeconfig(cfg *ec2sim.Config, rc *rest.Config) error {
	if cfg.EKS.Endpoint == "" {
		cfg.EKS.Endpoint = rc.Host
	}
	if cfg.EKS.CertificateAuthority == "" {
		ca := rc.CAData
		if len(ca) == 0 && rc.CAFile != "" {
			var err error
			if ca, err = os.ReadFile(rc.CAFile); err != nil {
				return fmt.Errorf("reading the CA of --kubeconfig: %w", err)
			}
		}
		cfg.EKS.CertificateAuthority = base64.StdEncoding.EncodeToString(ca)
	}
	return nil
}
