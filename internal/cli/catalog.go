// Package cli holds the logic of Tailor's offline subcommands (simulate, explain, migrate, catalog). Each takes
// explicit options and writers; cmd/tailor only parses flags and wires them in.
package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
)

// Output formats of the listing commands.
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// CatalogSource says where instance types come from: an embedded catalogue by name or a custom file.
type CatalogSource struct {
	// Catalog names an embedded catalogue; empty means catalog.DefaultName unless InstanceTypesFile is set.
	Catalog string
	// InstanceTypesFile is a custom catalogue in the public JSON schema (docs/catalog.md).
	InstanceTypesFile string
}

// Load reads the catalogue the source names. Naming both an embedded catalogue and a file is an error.
func (s CatalogSource) Load() (*catalog.Catalog, error) {
	switch {
	case s.Catalog != "" && s.InstanceTypesFile != "":
		return nil, errors.New("--catalog and --instance-types both name instance types: give one of them")
	case s.InstanceTypesFile != "":
		return catalog.LoadFile(s.InstanceTypesFile)
	case s.Catalog != "":
		return catalog.Load(s.Catalog)
	default:
		return catalog.Load(catalog.DefaultName)
	}
}

// CatalogListOptions are the inputs of `tailor catalog list`.
type CatalogListOptions struct {
	Source CatalogSource
	// Output is OutputTable (the default) or OutputJSON.
	Output string
}

// CatalogList prints a catalogue: JSON in the public schema (readable again with --instance-types) or a table
// for people.
func CatalogList(w io.Writer, opts CatalogListOptions) error {
	output := opts.Output
	if output == "" {
		output = OutputTable
	}
	if output != OutputTable && output != OutputJSON {
		return fmt.Errorf("unknown output format %q: use %q or %q", output, OutputTable, OutputJSON)
	}
	c, err := opts.Source.Load()
	if err != nil {
		return err
	}
	if output == OutputJSON {
		return catalog.EncodeInstanceTypes(w, c.InstanceTypes)
	}
	return writeCatalogTable(w, c)
}

func writeCatalogTable(w io.Writer, c *catalog.Catalog) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "NAME\tARCH\tVCPU\tMEMORY\tPODS\tGPUS\tON-DEMAND $/H\tSPOT $/H (MIN)\tZONES")
	for _, t := range c.InstanceTypes {
		onDemand, spot, zones := summarizeOfferings(t.Offerings)
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
			t.Name, t.Arch, t.CPU, formatMiB(t.MemoryMiB), t.Pods, formatGPUs(t), onDemand, spot, zones)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	about := c.Name
	if c.Version != "" {
		about += " version " + c.Version
	}
	_, err := fmt.Fprintf(w, "%d instance types in %s\n", len(c.InstanceTypes), about)
	return err
}

// summarizeOfferings gives the cheapest available on-demand and spot price and the zones with any offering.
func summarizeOfferings(offerings []catalog.Offering) (onDemand, spot, zones string) {
	best := map[string]float64{}
	var zs []string
	for _, o := range offerings {
		if !slices.Contains(zs, o.Zone) {
			zs = append(zs, o.Zone)
		}
		if !o.Available {
			continue
		}
		if p, ok := best[o.CapacityType]; !ok || o.PricePerHour < p {
			best[o.CapacityType] = o.PricePerHour
		}
	}
	price := func(capacityType string) string {
		if p, ok := best[capacityType]; ok {
			return strconv.FormatFloat(p, 'f', 4, 64)
		}
		return "-"
	}
	slices.Sort(zs)
	return price(apiv1.CapacityTypeOnDemand), price(apiv1.CapacityTypeSpot), strings.Join(zs, ",")
}

func formatMiB(mib int64) string {
	if mib%1024 == 0 {
		return strconv.FormatInt(mib/1024, 10) + "Gi"
	}
	if mib >= 1024 {
		return strconv.FormatFloat(float64(mib)/1024, 'f', -1, 64) + "Gi"
	}
	return strconv.FormatInt(mib, 10) + "Mi"
}

func formatGPUs(t catalog.InstanceType) string {
	if t.GPUs == 0 {
		return "-"
	}
	if t.GPUName == "" {
		return strconv.FormatInt(t.GPUs, 10)
	}
	return fmt.Sprintf("%d×%s", t.GPUs, t.GPUName)
}
