package main

// Usage, from the repository root:
//
//	go run ./hack/gen-catalog -out internal/catalog/data/aws-us-east-1.json
//	go run ./hack/gen-catalog -check internal/catalog/data/aws-us-east-1.json

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
)

const (
	// version names this data; bump the suffix when the data changes without a new price snapshot.
	version = "2026-01-19.2"
	region  = "us-east-1"
)

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

//go:embed ondemand-us-east-1.txt
var onDemandText string

//go:embed maxpods.txt
var maxPodsText string

func main() {
	out := flag.String("out", "", "write the catalogue to this file (default: standard output)")
	check := flag.String("check", "", "fail when this file differs from what would be generated")
	flag.Parse()
	if err := run(*out, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen-catalog:", err)
		os.Exit(1)
	}
}

func run(out, check string) error {
	c, err := build()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := catalog.Encode(&buf, c); err != nil {
		return err
	}
	switch {
	case check != "":
		have, err := os.ReadFile(check)
		if err != nil {
			return fmt.Errorf("reading %s: %w", check, err)
		}
		if !bytes.Equal(have, buf.Bytes()) {
			return fmt.Errorf("%s is stale: run go run ./hack/gen-catalog -out %s", check, check)
		}
		return nil
	case out != "":
		return os.WriteFile(out, buf.Bytes(), 0o644)
	default:
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
}

// build assembles the catalogue: every size that the price table and the max-pods table both list, for every
// family in families.
func build() (*catalog.Catalog, error) {
	prices, err := parseTable(onDemandText, strconv.ParseFloat)
	if err != nil {
		return nil, fmt.Errorf("on-demand prices: %w", err)
	}
	pods, err := parseTable(maxPodsText, func(s string, _ int) (int64, error) { return strconv.ParseInt(s, 10, 64) })
	if err != nil {
		return nil, fmt.Errorf("max pods: %w", err)
	}
	c := &catalog.Catalog{Name: "aws-" + region, Version: version, Region: region}
	var errs []error
	for _, f := range families {
		for _, size := range slices.Sorted(maps.Keys(prices[f.name])) {
			maxPods, ok := pods[f.name][size]
			if !ok {
				fmt.Fprintf(os.Stderr, "gen-catalog: leaving out %s.%s: no published max pods\n", f.name, size)
				continue
			}
			t, err := instanceType(f, size, prices[f.name][size], maxPods)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.InstanceTypes = append(c.InstanceTypes, t)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(c.InstanceTypes, func(a, b catalog.InstanceType) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

func instanceType(f family, size string, onDemand float64, maxPods int64) (catalog.InstanceType, error) {
	name := f.name + "." + size
	s, ok := f.shapes[size]
	if !ok {
		vcpus, err := sizeVCPUs(size, f.metalVCPUs)
		if err != nil {
			return catalog.InstanceType{}, fmt.Errorf("%s: %w", name, err)
		}
		s = shape{vcpus: vcpus, memoryMiB: int64(math.Round(float64(vcpus) * f.gibPerVCPU * 1024))}
	}
	limits, ok := eniLimits[maxPods]
	if !ok || catalog.MaxPods(limits[0], limits[1]) != maxPods {
		return catalog.InstanceType{}, fmt.Errorf("%s: no ENI limits for %d pods", name, maxPods)
	}
	familyName, sizeName, category, generation := catalog.SplitName(name)
	t := catalog.InstanceType{
		Name: name, Family: familyName, Size: sizeName, Category: category, Generation: generation,
		Arch: f.arch, CPU: s.vcpus, MemoryMiB: s.memoryMiB,
		ENIs: limits[0], IPsPerENI: limits[1], NetworkCards: networkCards[name], Pods: maxPods,
	}
	if f.gpu != nil {
		n, ok := f.gpus[size]
		if !ok {
			return catalog.InstanceType{}, fmt.Errorf("%s: GPU count unknown", name)
		}
		t.GPUs, t.GPUName, t.GPUManufacturer, t.GPUMemoryMiB = n, f.gpu.name, f.gpu.manufacturer, f.gpu.memoryMiB
	}
	for _, z := range zones {
		t.Offerings = append(t.Offerings,
			catalog.Offering{Zone: z, CapacityType: apiv1.CapacityTypeOnDemand, PricePerHour: onDemand, Available: true},
			catalog.Offering{Zone: z, CapacityType: apiv1.CapacityTypeSpot, PricePerHour: spotPrice(f.name, name, z, onDemand), Available: true},
		)
	}
	return t, nil
}

// sizeVCPUs applies the EC2 size naming rule.
func sizeVCPUs(size string, metal int64) (int64, error) {
	switch size {
	case "medium":
		return 1, nil
	case "large":
		return 2, nil
	case "xlarge":
		return 4, nil
	case "metal":
		if metal == 0 {
			return 0, errors.New(`family has a "metal" size but no metalVCPUs`)
		}
		return metal, nil
	}
	if n, ok := strings.CutSuffix(size, "xlarge"); ok {
		if v, err := strconv.ParseInt(n, 10, 64); err == nil {
			return 4 * v, nil
		}
	}
	if n, ok := strings.CutPrefix(size, "metal-"); ok {
		if v, err := strconv.ParseInt(strings.TrimSuffix(n, "xl"), 10, 64); err == nil {
			return 4 * v, nil
		}
	}
	return 0, fmt.Errorf("size %q follows no rule: give it a shape", size)
}

// spotPrice is a representative, deterministic spot price: each family gets a discount between 55% and 75% off
// on-demand, and each type and zone moves it by up to ±6%. It is not a recorded spot price.
func spotPrice(family, name, zone string, onDemand float64) float64 {
	discount := 0.55 + 0.20*unit(family)
	zoneFactor := 0.94 + 0.12*unit(name+"/"+zone)
	p := onDemand * (1 - discount) * zoneFactor
	return math.Max(math.Round(p*1e6)/1e6, 1e-6)
}

// unit hashes s to [0, 1).
func unit(s string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return float64(h.Sum64()%10000) / 10000
}

// parseTable reads lines of "family size=value size=value …", skipping blank lines and # comments.
func parseTable[V any](text string, parseValue func(string, int) (V, error)) (map[string]map[string]V, error) {
	out := map[string]map[string]V{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		fam := fields[0]
		if _, dup := out[fam]; dup {
			return nil, fmt.Errorf("line %d: family %s listed twice", line, fam)
		}
		out[fam] = map[string]V{}
		for _, kv := range fields[1:] {
			size, value, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not size=value", line, kv)
			}
			v, err := parseValue(value, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", line, kv, err)
			}
			out[fam][size] = v
		}
	}
	return out, sc.Err()
}
