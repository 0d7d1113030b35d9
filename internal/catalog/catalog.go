package catalog

import (
	"embed"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
)

// DefaultName is the catalogue Tailor uses when none is named.
const DefaultName = "aws-us-east-1"

//go:embed data/*.json
var embedded embed.FS

// Catalog is a named, versioned list of instance types.
type Catalog struct {
	// Name identifies the catalogue, for example "aws-us-east-1"; for a custom file it is the file name.
	Name string `json:"name"`
	// Version changes whenever the data changes, for example "2026-01-19.1".
	Version string `json:"version,omitempty"`
	// Region is the cloud region the offerings belong to, when known.
	Region string `json:"region,omitempty"`
	// InstanceTypes are sorted by name.
	InstanceTypes []InstanceType `json:"instanceTypes"`
}

// InstanceType is one machine shape as the catalogue describes it. The JSON names are the public schema
// (docs/catalog.md).
type InstanceType struct {
	// Name is the provider's name, for example "m5.large".
	Name string `json:"name"`
	// Family, Category, Generation and Size describe the name: "m5", "m", 5, "large". When a custom file leaves
	// them out they are derived from a name of the form <family>.<size>.
	Family     string `json:"family,omitempty"`
	Category   string `json:"category,omitempty"`
	Generation int    `json:"generation,omitempty"`
	Size       string `json:"size,omitempty"`
	// Arch is "amd64" or "arm64".
	Arch string `json:"arch"`
	// CPU is the number of vCPUs.
	CPU int64 `json:"cpu"`
	// MemoryMiB is the memory the provider advertises, in MiB.
	MemoryMiB int64 `json:"memoryMiB"`
	// GPUs is the number of GPUs; GPUName, GPUManufacturer ("nvidia" or "amd") and GPUMemoryMiB (per GPU)
	// describe them.
	GPUs            int64  `json:"gpus"`
	GPUName         string `json:"gpuName,omitempty"`
	GPUManufacturer string `json:"gpuManufacturer,omitempty"`
	GPUMemoryMiB    int64  `json:"gpuMemoryMiB,omitempty"`
	// ENIs and IPsPerENI are the network interface limits behind Pods. ENIs are those of the default network card,
	// which is what the VPC CNI's max-pods formula counts.
	ENIs      int64 `json:"enis,omitempty"`
	IPsPerENI int64 `json:"ipsPerEni,omitempty"`
	// NetworkCards is the number of network cards, each with ENIs interfaces; 0 means one. Types with several
	// (p5.48xlarge has 32) report the interfaces of all cards as their maximum, of which only the default card's
	// count for pods.
	NetworkCards int64 `json:"networkCards,omitempty"`
	// Pods is the most pods a node of this type may run: ENIs*(IPsPerENI-1)+2 for the AWS VPC CNI.
	Pods int64 `json:"pods"`
	// Overhead, when set, is all a node of this type keeps for itself; it replaces the computed overhead.
	Overhead *Overhead `json:"overhead,omitempty"`
	// Burstable marks a burstable-performance type (CPU credits, a baseline below 100%). The embedded catalogue
	// leaves it out: category "t" is burstable there. A custom file sets it for its own burstable types.
	Burstable bool `json:"burstable,omitempty"`
	// Labels are extra node labels for this type.
	Labels map[string]string `json:"labels,omitempty"`
	// Offerings are the ways to buy the type, sorted by zone then capacity type.
	Offerings []Offering `json:"offerings"`
}

// Overhead is what a custom catalogue says a node keeps for itself.
type Overhead struct {
	// CPU is in vCPUs and may be fractional (0.08 is 80m); it is kept to the millicore.
	CPU float64 `json:"cpu"`
	// MemoryMiB is in MiB.
	MemoryMiB int64 `json:"memoryMiB"`
}

// Offering is one zone × capacity type in which an instance type can be bought.
type Offering struct {
	Zone string `json:"zone"`
	// CapacityType is "spot" or "on-demand".
	CapacityType string `json:"capacityType"`
	// PricePerHour is in US dollars.
	PricePerHour float64 `json:"pricePerHour"`
	// Available is false when the offering exists but has no capacity; it defaults to true when left out.
	Available bool `json:"available"`
}

// Names lists the embedded catalogues, sorted.
func Names() []string {
	entries, err := fs.ReadDir(embedded, "data")
	if err != nil {
		// The directory is embedded at build time; failing to read it is a build defect.
		panic(fmt.Sprintf("reading embedded catalogues: %v", err))
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// loaded caches each embedded catalogue once parsed: parsing and validating the data takes tens of milliseconds.
var loaded sync.Map // name → func() (*Catalog, error)

// Load reads the embedded catalogue with the given name, for example "aws-us-east-1". Each call returns a fresh
// copy that the caller may change.
func Load(name string) (*Catalog, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("unknown catalogue %q: choose one of %s", name, strings.Join(Names(), ", "))
	}
	once, _ := loaded.LoadOrStore(name, sync.OnceValues(func() (*Catalog, error) { return loadEmbedded(name) }))
	c, err := once.(func() (*Catalog, error))()
	if err != nil {
		return nil, err
	}
	return c.DeepCopy(), nil
}

func loadEmbedded(name string) (*Catalog, error) {
	f, err := embedded.Open(path.Join("data", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("opening catalogue %q: %w", name, err)
	}
	defer func() { _ = f.Close() }()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("reading catalogue %q: %w", name, err)
	}
	if c.Name == "" {
		c.Name = name
	}
	return c, nil
}

// MustLoad is Load for names known at compile time, such as DefaultName; it panics on error.
func MustLoad(name string) *Catalog {
	c, err := Load(name)
	if err != nil {
		panic(err)
	}
	return c
}

// LoadFile reads a custom catalogue from a JSON file (see Parse for the accepted forms). The catalogue is named
// after the file when the file does not name it.
func LoadFile(filename string) (*Catalog, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, fmt.Errorf("opening instance types file: %w", err)
	}
	defer func() { _ = f.Close() }()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("reading instance types file %s: %w", filename, err)
	}
	if c.Name == "" {
		c.Name = path.Base(filename)
	}
	return c, nil
}

// DeepCopy returns a copy of c that shares nothing with it.
func (c *Catalog) DeepCopy() *Catalog {
	out := *c
	out.InstanceTypes = make([]InstanceType, len(c.InstanceTypes))
	for i, t := range c.InstanceTypes {
		out.InstanceTypes[i] = t.DeepCopy()
	}
	return &out
}

// DeepCopy returns a copy of t that shares nothing with it.
func (t InstanceType) DeepCopy() InstanceType {
	t.Offerings = slices.Clone(t.Offerings)
	t.Labels = maps.Clone(t.Labels)
	if t.Overhead != nil {
		o := *t.Overhead
		t.Overhead = &o
	}
	return t
}

// Lookup returns the instance type with the given name.
func (c *Catalog) Lookup(name string) (InstanceType, bool) {
	i, ok := slices.BinarySearchFunc(c.InstanceTypes, name, func(t InstanceType, n string) int {
		return strings.Compare(t.Name, n)
	})
	if !ok {
		return InstanceType{}, false
	}
	return c.InstanceTypes[i], true
}

// Parse reads a catalogue from JSON. It accepts either a bare array of instance types (the custom catalogue form
// that --instance-types takes) or the document form of the embedded catalogues,
// {"name", "version", "region", "instanceTypes": [...]}. Unknown fields, duplicate names and invalid values are
// rejected; every error names the offending entry by index and name. Missing descriptive fields are derived
// from the name, offerings default to available, and the result is sorted.
func Parse(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading catalogue: %w", err)
	}
	return parse(data)
}
