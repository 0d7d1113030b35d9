// Command tailor is Tailor's one binary: the controller and the offline tools (simulate, explain, migrate, catalog).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tailor-sh/tailor/internal/version"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "tailor",
		Short:         "Just-in-time worker nodes for Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCommand(),
		newControllerCommand(),
		newCatalogCommand(),
		newMigrateCommand(),
		newSimulateCommand(),
		newExplainCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version.String())
			return err
		},
	}
}
