package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tailor-sh/tailor/internal/cloudprovider/aws"
	"github.com/tailor-sh/tailor/internal/controller/nodeclaim"
	"github.com/tailor-sh/tailor/internal/controller/nodeclass"
	"github.com/tailor-sh/tailor/internal/controller/provisioning"
	"github.com/tailor-sh/tailor/internal/controller/termination"
	"github.com/tailor-sh/tailor/internal/operator"
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
			return opts.Validate()
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runController(cmd, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
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
	clk := clock.RealClock{}
	kube := mgr.GetClient()

	awsOpts := aws.Options{
		Region:          opts.AWSRegion,
		ClusterName:     opts.ClusterName,
		EndpointURL:     opts.AWSEndpointURL,
		ClusterEndpoint: opts.ClusterEndpoint,
	}
	if err := awsOpts.Complete(); err != nil {
		return err
	}
	clients, err := aws.NewClients(cmd.Context(), awsOpts)
	if err != nil {
		return fmt.Errorf("configuring AWS: %w", err)
	}
	cloud, err := aws.New(awsOpts, clients, kube, clk)
	if err != nil {
		return err
	}

	if err := nodeclaim.IndexFields(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("indexing: %w", err)
	}
	if err := termination.IndexFields(ctx, mgr.GetFieldIndexer()); err != nil {
		return fmt.Errorf("indexing: %w", err)
	}
	cluster := state.NewCluster(clk, kube)
	recorder := mgr.GetEventRecorder("tailor")

	provisioner, err := provisioning.New(clk, kube, cluster, cloud, recorder,
		provisioning.NewBatcher(clk, opts.BatchIdleDuration, opts.BatchMaxDuration))
	if err != nil {
		return err
	}
	if err := provisioner.Register(mgr); err != nil {
		return fmt.Errorf("registering provisioning: %w", err)
	}
	lifecycle, err := nodeclaim.New(clk, kube, cloud, recorder)
	if err != nil {
		return err
	}
	if err := lifecycle.Register(mgr); err != nil {
		return fmt.Errorf("registering the nodeclaim lifecycle: %w", err)
	}
	terminator, err := termination.New(clk, kube, cloud, recorder)
	if err != nil {
		return err
	}
	if err := terminator.Register(mgr); err != nil {
		return fmt.Errorf("registering termination: %w", err)
	}
	nodeClasses, err := nodeclass.New(kube, cloud)
	if err != nil {
		return err
	}
	if err := nodeClasses.Register(mgr); err != nil {
		return fmt.Errorf("registering the node class controller: %w", err)
	}
	gc, err := nodeclaim.NewGarbageCollector(clk, kube, cloud)
	if err != nil {
		return err
	}
	if err := mgr.Add(gc); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
