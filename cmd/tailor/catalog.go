package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cli"
)

func newCatalogCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Inspect the instance type catalogues Tailor plans with",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCatalogListCommand())
	return cmd
}

func newCatalogListCommand() *cobra.Command {
	var opts cli.CatalogListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Print the instance types of a catalogue",
		Long: "Print every instance type of an embedded catalogue (--catalog, default " + catalog.DefaultName + ") or of a\n" +
			"custom catalogue file (--instance-types). -o json prints the public schema of docs/catalog.md, which\n" +
			"--instance-types reads back.",
		Example: "  tailor catalog list\n" +
			"  tailor catalog list -o json > types.json\n" +
			"  tailor catalog list --instance-types types.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.CatalogList(cmd.OutOrStdout(), opts)
		},
	}
	addCatalogSourceFlags(cmd, &opts.Source)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", cli.OutputTable, "output format: table or json")
	return cmd
}

// addCatalogSourceFlags adds --catalog and --instance-types, the two ways to say where instance types come from.
func addCatalogSourceFlags(cmd *cobra.Command, src *cli.CatalogSource) {
	cmd.Flags().StringVar(&src.Catalog, "catalog", "",
		"embedded instance type catalogue: one of "+strings.Join(catalog.Names(), ", ")+" (default "+catalog.DefaultName+")")
	cmd.Flags().StringVar(&src.InstanceTypesFile, "instance-types", "",
		"custom instance type catalogue, a JSON file in the schema of docs/catalog.md")
	cmd.MarkFlagsMutuallyExclusive("catalog", "instance-types")
}
