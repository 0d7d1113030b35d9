package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/cloudprovider/aws"
	"github.com/tailor-sh/tailor/internal/controller/capacitybuffer"
	"github.com/tailor-sh/tailor/internal/controller/disruption"
	"github.com/tailor-sh/tailor/internal/controller/interruption"
	"github.com/tailor-sh/tailor/internal/controller/nodeclaim"
	"github.com/tailor-sh/tailor/internal/controller/nodeclass"
	"github.com/tailor-sh/tailor/internal/controller/nodepool"
	"github.com/tailor-sh/tailor/internal/controller/provisioning"
	"github.com/tailor-sh/tailor/internal/controller/staticpool"
	"github.com/tailor-sh/tailor/internal/controller/termination"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/version"
)

func newControllerCommand() *cobra.Command {
	opts := &operator.Options{}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run Tailor's controllers: provision nodes for pending pods and manage their lifecycle",
		Args:  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := operator.ApplyEnvironment(cmd.Flags(), operator.LookupEnv); err != nil {
				return err
			}
			opts.Complete(operator.LookupEnv)
			return opts.Validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// deps are what every controller is built from.
type deps struct {
	opts      *operator.Options
	mgr       manager.Manager
	clk       clock.Clock
	kube      client.Client
	apiReader client.Reader // uncached, for reads before the manager starts
	cloud     *aws.Provider
	sqs       aws.SQSAPI // for the interruption queue
	cluster   *state.Cluster
	recorder  events.EventRecorder
}

// runController is the composition root of the controller: it builds every dependency and wires the controllers.
func runController(cmd *cobra.Command, opts *operator.Options) error {
	logger := operator.NewLogger(opts.LogLevel)
	ctrl.SetLogger(logger)
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), logger)
	logger.Info("starting tailor controller", "version", version.String(), "cluster", opts.ClusterName)

	cfg, err := operator.RESTConfig(opts.Kubeconfig)
	if err != nil {
		return err
	}
	mgr, err := operator.NewManager(cfg, opts, logger)
	if err != nil {
		return err
	}
	if err := operator.CheckCRDs(mgr.GetRESTMapper()); err != nil {
		return err
	}
	// Events are queued, paced, deduplicated and written by operator.PacedRecorder: through client-go's broadcaster,
	// a large batch's events each held a goroutine waiting for the events client, and a copy for minutes after.
	sink, err := operator.NewEventSink(cfg)
	if err != nil {
		return err
	}
	recorder := operator.NewPacedRecorder(sink, mgr.GetScheme(), "tailor",
		flowcontrol.NewTokenBucketRateLimiter(operator.DefaultEventsPerSecond, operator.DefaultEventsBurst), operator.DefaultEventQueue)
	recorder.Dedupe(clock.RealClock{}, operator.DefaultEventDedupe)
	if err := mgr.Add(recorder); err != nil {
		return err
	}
	d := &deps{opts: opts, mgr: mgr, clk: clock.RealClock{}, kube: mgr.GetClient(), apiReader: mgr.GetAPIReader(),
		recorder: recorder}
	if d.cloud, err = newAWSProvider(ctx, d, cfg); err != nil {
		return err
	}
	d.cluster = state.NewCluster(d.clk, d.kube)
	d.cluster.ReadFromInformers(mgr.GetCache())
	for _, index := range []func(context.Context, client.FieldIndexer) error{nodeclaim.IndexFields, termination.IndexFields} {
		if err := index(ctx, mgr.GetFieldIndexer()); err != nil {
			return fmt.Errorf("indexing: %w", err)
		}
	}
	for _, register := range []func(*deps) error{registerProvisioning, registerLifecycle, registerTermination, registerDisruption, registerNodeClasses, registerNodePools, registerStaticNodePools, registerCapacityBuffers, registerInterruption} {
		if err := register(d); err != nil {
			return err
		}
	}
	return mgr.Start(ctx)
}

// newAWSProvider builds the provider. How nodes join the cluster (version, endpoint, CA, service CIDR) comes from
// the flags, else EKS DescribeCluster, else the API server cfg points at; start fails when something is still
// missing or unusable.
func newAWSProvider(ctx context.Context, d *deps, cfg *rest.Config) (*aws.Provider, error) {
	uid, err := operator.ClusterUID(ctx, d.apiReader, d.opts.ClusterUID)
	if err != nil {
		return nil, err
	}
	ctrl.LoggerFrom(ctx).Info("cluster identity", "cluster", d.opts.ClusterName, "cluster-uid", uid)
	awsOpts := aws.Options{
		Region:            d.opts.AWSRegion,
		ClusterName:       d.opts.ClusterName,
		ClusterUID:        uid,
		EndpointURL:       d.opts.AWSEndpointURL,
		KubernetesVersion: d.opts.KubernetesVersion,
		ClusterEndpoint:   d.opts.ClusterEndpoint,
		ClusterCABundle:   d.opts.ClusterCABundle,
		ClusterCIDR:       d.opts.ServiceCIDR,
	}
	if err := awsOpts.Complete(); err != nil {
		return nil, err
	}
	clients, err := aws.NewClients(ctx, awsOpts)
	if err != nil {
		return nil, fmt.Errorf("configuring AWS: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a discovery client: %w", err)
	}
	caData := cfg.CAData
	if len(caData) == 0 && cfg.CAFile != "" {
		if caData, err = os.ReadFile(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("reading the API server's CA %s: %w", cfg.CAFile, err)
		}
	}
	awsOpts.DiscoverCluster(ctx, aws.ClusterSources{EKS: clients.EKS, APIServer: dc, CAData: caData})
	if err := awsOpts.RequireJoinSettings(ctx, clients.SSM); err != nil {
		return nil, fmt.Errorf("how nodes join the cluster: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("nodes join the cluster with", "kubernetes-version", awsOpts.KubernetesVersion,
		"cluster-endpoint", awsOpts.ClusterEndpoint, "service-cidr", awsOpts.ClusterCIDR)
	d.sqs = clients.SQS
	return aws.New(awsOpts, clients, d.kube, d.clk)
}

var _ cloudprovider.CloudProvider = (*aws.Provider)(nil)

func registerProvisioning(d *deps) error {
	p, err := provisioning.New(d.clk, d.kube, d.cluster, d.cloud, d.recorder,
		provisioning.NewBatcher(d.clk, d.opts.BatchIdleDuration, d.opts.BatchMaxDuration))
	if err != nil {
		return err
	}
	p.SetPreferencePolicy(scheduling.PreferencePolicy(d.opts.PreferencePolicy))
	if err := p.Register(d.mgr); err != nil {
		return fmt.Errorf("registering provisioning: %w", err)
	}
	startup, err := provisioning.NewStartupRecorder(d.clk, d.kube)
	if err != nil {
		return err
	}
	if err := startup.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the pod startup recorder: %w", err)
	}
	return nil
}

func registerLifecycle(d *deps) error {
	lifecycle, err := nodeclaim.New(d.clk, d.kube, d.cloud, d.recorder)
	if err != nil {
		return err
	}
	lifecycle.HoldForPublications(d.cluster.Nominations())
	if err := lifecycle.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the nodeclaim lifecycle: %w", err)
	}
	gc, err := nodeclaim.NewGarbageCollector(d.clk, d.kube, d.cloud)
	if err != nil {
		return err
	}
	return d.mgr.Add(gc)
}

func registerTermination(d *deps) error {
	t, err := termination.New(d.clk, d.kube, d.cloud, d.recorder)
	if err != nil {
		return err
	}
	if err := t.Register(d.mgr); err != nil {
		return fmt.Errorf("registering termination: %w", err)
	}
	return nil
}

func registerDisruption(d *deps) error {
	c, err := disruption.New(d.clk, d.kube, d.mgr.GetAPIReader(), d.cloud, d.recorder, d.cluster,
		disruption.WithMaxConsolidationCandidates(d.opts.ConsolidationMaxCandidates))
	if err != nil {
		return err
	}
	c.SetRepair(disruption.RepairOptions{Disabled: !d.opts.NodeRepair, Toleration: d.opts.NodeRepairToleration})
	if err := d.mgr.Add(c); err != nil {
		return err
	}
	if err := disruption.NewPodEvents(d.clk, d.kube).Register(d.mgr); err != nil {
		return fmt.Errorf("registering pod events: %w", err)
	}
	return nil
}

func registerNodeClasses(d *deps) error {
	c, err := nodeclass.New(d.kube, d.cloud)
	if err != nil {
		return err
	}
	if err := c.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the node class controller: %w", err)
	}
	if err := d.mgr.Add(d.cloud.LaunchTemplateGC(aws.LaunchTemplateGCInterval)); err != nil {
		return fmt.Errorf("registering the launch template collector: %w", err)
	}
	return nil
}

func registerNodePools(d *deps) error {
	c, err := nodepool.New(d.clk, d.kube)
	if err != nil {
		return err
	}
	if err := c.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the nodepool status controller: %w", err)
	}
	return nil
}

func registerCapacityBuffers(d *deps) error {
	c, err := capacitybuffer.New(d.clk, d.kube)
	if err != nil {
		return err
	}
	if err := c.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the capacitybuffer status controller: %w", err)
	}
	return nil
}

func registerStaticNodePools(d *deps) error {
	c, err := staticpool.New(d.clk, d.kube, d.mgr.GetAPIReader(), d.cluster, d.cloud, d.recorder)
	if err != nil {
		return err
	}
	if err := c.Register(d.mgr); err != nil {
		return fmt.Errorf("registering the static nodepool controller: %w", err)
	}
	return nil
}

// registerInterruption adds the interruption controller when --interruption-queue names a queue.
func registerInterruption(d *deps) error {
	if d.opts.InterruptionQueue == "" {
		return nil
	}
	queue, err := aws.NewInterruptionQueue(d.sqs, d.opts.InterruptionQueue, d.clk)
	if err != nil {
		return err
	}
	c, err := interruption.New(d.clk, d.kube, queue, d.recorder)
	if err != nil {
		return err
	}
	if err := d.mgr.Add(c); err != nil {
		return fmt.Errorf("registering the interruption controller: %w", err)
	}
	return nil
}
