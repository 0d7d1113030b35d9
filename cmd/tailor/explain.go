package main

import (
	"errors"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/tailor-sh/tailor/internal/cli"
	"github.com/tailor-sh/tailor/internal/operator"
)

// explainFlags are the flags every form of `tailor explain` shares.
type explainFlags struct {
	opts       cli.ExplainOptions
	kubeconfig string
}

func newExplainCommand() *cobra.Command {
	f := &explainFlags{}
	var pending bool
	cmd := &cobra.Command{
		Use:   "explain (pod NAME | nodeclaim NAME | --pending)",
		Short: "Explain from the live cluster where pods would go and why, and why a NodeClaim exists",
		Long: "Read the live cluster and run Tailor's simulator as a dry run: for each pod, whether it is bound or pending,\n" +
			"which NodePools could launch a node for it and which cannot (with the simulator's reason), and the existing\n" +
			"node, the NodeClaim being launched, or the instance type Tailor would launch, with its price. For a NodeClaim:\n" +
			"its pods, instance type, price, age and conditions, and what disruption it is eligible for and why not.\n" +
			"Instance types and prices come from the embedded catalogue (or --catalog / --instance-types). See docs/explain.md.",
		Example: "  tailor explain pod web-7d9f -n shop\n" +
			"  tailor explain --pending -A\n" +
			"  tailor explain nodeclaim default-x7k2p\n" +
			"  tailor explain --pending -o json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !pending {
				return errors.New("say what to explain: tailor explain pod NAME, tailor explain nodeclaim NAME or tailor explain --pending")
			}
			f.opts.Target = cli.ExplainPending
			return f.run(cmd)
		},
	}
	cmd.Flags().BoolVar(&pending, "pending", false, "explain every pod that is not bound to a node")
	f.addFlags(cmd, true)
	cmd.Flags().BoolVarP(&f.opts.AllNamespaces, "all-namespaces", "A", false, "with --pending, look in every namespace")

	pod := &cobra.Command{
		Use:   "pod NAME",
		Short: "Explain where a pod is or would go, and which NodePools could host it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts.Target, f.opts.Name = cli.ExplainPod, args[0]
			return f.run(cmd)
		},
	}
	f.addFlags(pod, true)
	nodeClaim := &cobra.Command{
		Use:   "nodeclaim NAME",
		Short: "Explain why a NodeClaim exists and what disruption it is eligible for",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts.Target, f.opts.Name = cli.ExplainNodeClaim, args[0]
			return f.run(cmd)
		},
	}
	f.addFlags(nodeClaim, false)
	cmd.AddCommand(pod, nodeClaim)
	return cmd
}

func (f *explainFlags) addFlags(cmd *cobra.Command, namespaced bool) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; default: $KUBECONFIG, in-cluster configuration, then ~/.kube/config")
	cmd.Flags().StringVarP(&f.opts.Output, "output", "o", cli.OutputText, "output format: text or json")
	if namespaced {
		cmd.Flags().StringVarP(&f.opts.Namespace, "namespace", "n", "", "namespace of the pods (default: the kubeconfig context's, else default)")
	}
	addCatalogSourceFlags(cmd, &f.opts.Source)
}

// run builds a plain API client (no cache: one consistent read, nothing left running) and explains.
func (f *explainFlags) run(cmd *cobra.Command) error {
	// Output is for people; the client libraries' own logs and API warnings would only get in the way.
	ctrllog.SetLogger(logr.Discard())
	cfg, err := operator.RESTConfig(f.kubeconfig)
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "tailor-explain"
	cfg.WarningHandler = rest.NoWarnings{}
	scheme, err := operator.NewScheme()
	if err != nil {
		return err
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if f.opts.Namespace == "" && f.opts.Target != cli.ExplainNodeClaim {
		f.opts.Namespace = contextNamespace(f.kubeconfig)
	}
	return cli.Explain(cmd.Context(), kube, f.opts, cmd.OutOrStdout())
}

// contextNamespace is the namespace of the kubeconfig's current context, as kubectl picks it; "default" when none.
func contextNamespace(kubeconfig string) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}
