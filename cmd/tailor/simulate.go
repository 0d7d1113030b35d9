package main

import (
	"github.com/spf13/cobra"

	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cli"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

func newSimulateCommand() *cobra.Command {
	var opts cli.SimulateOptions
	cmd := &cobra.Command{
		Use:   "simulate -f PATH [-f PATH...]",
		Short: "Show what Tailor would launch for a set of manifests, and what it would cost",
		Long: "Read Kubernetes manifests (files or folders, multi-document YAML or JSON, kind: List) — NodePools, Nodes,\n" +
			"Pods, Deployments, StatefulSets, ReplicaSets, Jobs, DaemonSets, PersistentVolumes, PersistentVolumeClaims,\n" +
			"StorageClasses — and print the plan: new nodes, pods placed on existing nodes, unschedulable pods with\n" +
			"a reason per NodePool, the hourly price and its LP lower bound. See docs/simulate.md.",
		Example: "  tailor simulate -f examples/simulate/\n" +
			"  kubectl get nodes,pods,deployments -A -o json > cluster.json && tailor simulate -f cluster.json -o json\n" +
			"  tailor simulate -f app.yaml --instance-types my-types.json --svg fleet.svg",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.Simulate(opts, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Paths, "filename", "f", nil, "manifest file or folder (repeatable)")
	f.StringVar(&opts.Source.Catalog, "catalog", "", "embedded instance catalogue (default "+catalog.DefaultName+")")
	f.StringVar(&opts.Source.InstanceTypesFile, "instance-types", "", "custom instance type catalogue file (JSON, docs/catalog.md)")
	f.StringVarP(&opts.Output, "output", "o", cli.OutputTable, "output format: table or json")
	f.StringVar(&opts.SVG, "svg", "", "also draw the fleet (cpu and memory requested per node) into this SVG file")
	f.StringVar(&opts.Preferences, "preference-policy", string(scheduling.PreferenceCost),
		"how preferred affinities weigh against cost: Cost (never open a node just for a preference, except up to 3 for soft-HA replicas), Respect (treat them as required, relaxing only when a pod cannot be placed) or Ignore")
	f.StringVar(&opts.Preferences, "preferences", string(scheduling.PreferenceCost), "old name of --preference-policy")
	_ = f.MarkDeprecated("preferences", "use --preference-policy")
	f.Float64Var(&opts.PackingTolerance, "packing-tolerance", scheduling.DefaultPackingTolerance,
		"how much dearer per unit of capacity than the most efficient instance type a node may grow into, as a fraction (0.01 = 1%); negative lets nodes grow into any type, as Karpenter's do")
	return cmd
}
