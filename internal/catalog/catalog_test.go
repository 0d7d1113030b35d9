package catalog

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestNames(t *testing.T) {
	if diff := cmp.Diff([]string{"aws-us-east-1"}, Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
}

func TestLoadUnknown(t *testing.T) {
	_, err := Load("aws-mars-1")
	want := `unknown catalogue "aws-mars-1": choose one of aws-us-east-1`
	if err == nil || err.Error() != want {
		t.Errorf("Load(aws-mars-1) error = %v, want %q", err, want)
	}
}

func TestLoadDefault(t *testing.T) {
	c, err := Load(DefaultName)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Name != "aws-us-east-1" || c.Region != "us-east-1" || c.Version == "" {
		t.Errorf("header = %q %q %q, want name aws-us-east-1, region us-east-1 and a version", c.Name, c.Region, c.Version)
	}
	if n := len(c.InstanceTypes); n < 500 {
		t.Errorf("catalogue has %d instance types, want at least 500", n)
	}
	if !slices.IsSortedFunc(c.InstanceTypes, func(a, b InstanceType) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("instance types are not sorted by name")
	}
}

func TestRoundTrip(t *testing.T) {
	c := MustLoad(DefaultName)
	var doc bytes.Buffer
	if err := Encode(&doc, c); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	again, err := Parse(&doc)
	if err != nil {
		t.Fatalf("Parse(Encode(c)): %v", err)
	}
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("document round trip (-want +got):\n%s", diff)
	}

	var array bytes.Buffer
	if err := EncodeInstanceTypes(&array, c.InstanceTypes); err != nil {
		t.Fatalf("EncodeInstanceTypes: %v", err)
	}
	fromArray, err := Parse(&array)
	if err != nil {
		t.Fatalf("Parse(EncodeInstanceTypes(c)): %v", err)
	}
	if diff := cmp.Diff(c.InstanceTypes, fromArray.InstanceTypes); diff != "" {
		t.Errorf("array round trip (-want +got):\n%s", diff)
	}
}

// graviton families are arm64; every other family in the catalogue is amd64.
func isGraviton(family string) bool {
	if family == "a1" {
		return true
	}
	_, _, _, gen := SplitName(family + ".x")
	// A Graviton family has a "g" right after its generation digit: m6g, c7gn, r8gd, x2gd, im4gn, is4gen, g5g.
	digits := strings.IndexAny(family, "0123456789")
	rest := strings.TrimLeft(family[digits:], "0123456789")
	return gen > 0 && strings.HasPrefix(rest, "g")
}

func TestEmbeddedCatalogueIsSane(t *testing.T) {
	for _, it := range MustLoad(DefaultName).InstanceTypes {
		t.Run(it.Name, func(t *testing.T) {
			checkShape(t, it)
			checkOfferings(t, it, []string{"us-east-1a", "us-east-1b", "us-east-1c"})
		})
	}
}

func checkShape(t *testing.T, it InstanceType) {
	t.Helper()
	if it.Pods < 4 {
		t.Errorf("pods = %d, want >= 4", it.Pods)
	}
	if got := MaxPods(it.ENIs, it.IPsPerENI); got != it.Pods {
		t.Errorf("pods = %d but enis %d × (ipsPerEni %d − 1) + 2 = %d", it.Pods, it.ENIs, it.IPsPerENI, got)
	}
	wantArch := ArchAMD64
	if isGraviton(it.Family) {
		wantArch = ArchARM64
	}
	if it.Arch != wantArch {
		t.Errorf("arch = %s, want %s for family %s", it.Arch, wantArch, it.Family)
	}
	if it.CPU <= 0 || it.MemoryMiB < 512 {
		t.Errorf("cpu %d, memoryMiB %d: want cpu > 0 and at least 512MiB", it.CPU, it.MemoryMiB)
	}
	if family, size, category, gen := SplitName(it.Name); it.Family != family || it.Size != size ||
		it.Category != category || it.Generation != gen || gen == 0 {
		t.Errorf("family/size/category/generation = %s/%s/%s/%d, want %s/%s/%s/%d",
			it.Family, it.Size, it.Category, it.Generation, family, size, category, gen)
	}
	if (it.GPUs > 0) != (it.GPUName != "" && it.GPUMemoryMiB > 0) {
		t.Errorf("gpus %d with name %q and memory %d: a GPU type needs both", it.GPUs, it.GPUName, it.GPUMemoryMiB)
	}
}

// checkOfferings wants an available on-demand and a cheaper spot offering in every zone.
func checkOfferings(t *testing.T, it InstanceType, zones []string) {
	t.Helper()
	if len(it.Offerings) != 2*len(zones) {
		t.Errorf("%d offerings, want %d", len(it.Offerings), 2*len(zones))
	}
	prices := map[string]map[string]float64{apiv1.CapacityTypeOnDemand: {}, apiv1.CapacityTypeSpot: {}}
	for _, o := range it.Offerings {
		if o.PricePerHour <= 0 || !o.Available {
			t.Errorf("offering %+v: want a positive price and available", o)
		}
		prices[o.CapacityType][o.Zone] = o.PricePerHour
	}
	for _, z := range zones {
		od, okOD := prices[apiv1.CapacityTypeOnDemand][z]
		spot, okSpot := prices[apiv1.CapacityTypeSpot][z]
		switch {
		case !okOD || !okSpot:
			t.Errorf("zone %s: missing on-demand or spot offering", z)
		case spot >= od:
			t.Errorf("zone %s: spot %g >= on-demand %g", z, spot, od)
		}
	}
}

// Spot prices differ modestly between zones for the same type.
func TestSpotPricesVaryByZone(t *testing.T) {
	c := MustLoad(DefaultName)
	varied := 0
	for _, it := range c.InstanceTypes {
		var spot []float64
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeSpot {
				spot = append(spot, o.PricePerHour)
			}
		}
		lo, hi := slices.Min(spot), slices.Max(spot)
		if hi/lo > 1.15 {
			t.Errorf("%s: spot prices %v differ by more than 15%% between zones", it.Name, spot)
		}
		if hi > lo {
			varied++
		}
	}
	if varied < len(c.InstanceTypes)*9/10 {
		t.Errorf("only %d of %d types have spot prices that differ by zone", varied, len(c.InstanceTypes))
	}
}

func TestKnownTypes(t *testing.T) {
	c := MustLoad(DefaultName)
	tests := []struct {
		name string
		want InstanceType
	}{
		{"m5.large", InstanceType{Arch: "amd64", CPU: 2, MemoryMiB: 8192, Pods: 29, ENIs: 3, IPsPerENI: 10}},
		{"m6g.medium", InstanceType{Arch: "arm64", CPU: 1, MemoryMiB: 4096, Pods: 8, ENIs: 2, IPsPerENI: 4}},
		{"t3.micro", InstanceType{Arch: "amd64", CPU: 2, MemoryMiB: 1024, Pods: 4, ENIs: 2, IPsPerENI: 2}},
		{"c5n.large", InstanceType{Arch: "amd64", CPU: 2, MemoryMiB: 5376, Pods: 29, ENIs: 3, IPsPerENI: 10}},
		{"r6i.32xlarge", InstanceType{Arch: "amd64", CPU: 128, MemoryMiB: 1048576, Pods: 737, ENIs: 15, IPsPerENI: 50}},
		{"m7i.metal-48xl", InstanceType{Arch: "amd64", CPU: 192, MemoryMiB: 786432, Pods: 737, ENIs: 15, IPsPerENI: 50}},
		{"g4dn.12xlarge", InstanceType{Arch: "amd64", CPU: 48, MemoryMiB: 196608, Pods: 234, ENIs: 8, IPsPerENI: 30,
			GPUs: 4, GPUName: "t4", GPUManufacturer: "nvidia", GPUMemoryMiB: 16384}},
		{"p5.48xlarge", InstanceType{Arch: "amd64", CPU: 192, MemoryMiB: 2097152, Pods: 100, ENIs: 2, IPsPerENI: 50,
			GPUs: 8, GPUName: "h100", GPUManufacturer: "nvidia", GPUMemoryMiB: 81920}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Lookup(tt.name)
			if !ok {
				t.Fatalf("Lookup(%s): not found", tt.name)
			}
			shape := func(it InstanceType) InstanceType {
				return InstanceType{Arch: it.Arch, CPU: it.CPU, MemoryMiB: it.MemoryMiB, Pods: it.Pods, ENIs: it.ENIs,
					IPsPerENI: it.IPsPerENI, GPUs: it.GPUs, GPUName: it.GPUName, GPUManufacturer: it.GPUManufacturer,
					GPUMemoryMiB: it.GPUMemoryMiB}
			}
			if diff := cmp.Diff(tt.want, shape(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		})
	}
	m5, _ := c.Lookup("m5.large")
	for _, o := range m5.Offerings {
		if o.CapacityType == apiv1.CapacityTypeOnDemand && o.PricePerHour != 0.096 {
			t.Errorf("m5.large on-demand in %s = %g, want the published 0.096", o.Zone, o.PricePerHour)
		}
	}
}

func TestLoadReturnsIndependentCopies(t *testing.T) {
	a := MustLoad(DefaultName)
	a.InstanceTypes[0].Offerings[0].PricePerHour = 1e6
	a.InstanceTypes[0].Name = "changed"
	b := MustLoad(DefaultName)
	if b.InstanceTypes[0].Name == "changed" || b.InstanceTypes[0].Offerings[0].PricePerHour == 1e6 {
		t.Error("a change to one loaded catalogue shows in the next Load")
	}
}

func TestNamed(t *testing.T) {
	c, err := Load(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	its, err := c.Named(Options{}, "m5.xlarge", "m5.large")
	if err != nil {
		t.Fatal(err)
	}
	if len(its) != 2 || its[0].Name != "m5.xlarge" || its[1].Name != "m5.large" || len(its[0].Offerings) == 0 {
		t.Errorf("Named gave %d types (%v), want m5.xlarge then m5.large with offerings", len(its), its)
	}
	if _, err := c.Named(Options{}, "m5.large", "m99.huge"); err == nil || !strings.Contains(err.Error(), `"m99.huge"`) {
		t.Errorf("an unknown name gave %v, want an error naming it", err)
	}
}
