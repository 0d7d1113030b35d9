package main

import (
	"github.com/spf13/cobra"

	"github.com/tailor-sh/tailor/internal/cli"
)

func newMigrateCommand() *cobra.Command {
	opts := cli.MigrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate -f FILE",
		Short: "Convert Karpenter Provisioners, NodePools, AWSNodeTemplates and EC2NodeClasses to Tailor objects",
		Long: `Convert Karpenter objects to Tailor's and print them as YAML.

Reads karpenter.sh/v1alpha5 Provisioner, karpenter.k8s.aws/v1alpha1 AWSNodeTemplate, karpenter.sh v1beta1 and v1
NodePool, and karpenter.k8s.aws v1beta1 and v1 EC2NodeClass objects (multi-document YAML, or a List as printed by
kubectl get -o yaml). Every field that has no Tailor equivalent is named in a warning on standard error. Invalid input
makes the command fail with the reason and print nothing.`,
		Example: `  kubectl get provisioners,awsnodetemplates -o yaml | tailor migrate -f - > tailor.yaml
  tailor migrate -f karpenter.yaml | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Stdin = cmd.InOrStdin()
			opts.Out = cmd.OutOrStdout()
			opts.Warnings = cmd.ErrOrStderr()
			return cli.RunMigrate(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `YAML file of Karpenter objects, or "-" for standard input`)
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
