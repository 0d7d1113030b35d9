package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/catalog"
)

const committed = "../../internal/catalog/data/aws-us-east-1.json"

// The embedded catalogue must be what the tables generate: edit the tables and regenerate, never the JSON.
func TestCommittedCatalogueIsGenerated(t *testing.T) {
	c, err := build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var want bytes.Buffer
	if err := catalog.Encode(&want, c); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	have, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), have) {
		t.Errorf("%s is stale: run go run ./hack/gen-catalog -out internal/catalog/data/aws-us-east-1.json", committed)
	}
}

func TestEveryFamilyHasSizes(t *testing.T) {
	c, err := build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	sizes := map[string]int{}
	for _, it := range c.InstanceTypes {
		sizes[it.Family]++
	}
	for _, f := range families {
		if sizes[f.name] == 0 {
			t.Errorf("family %s produced no instance types: is it in both tables?", f.name)
		}
	}
}

func TestSizeVCPUs(t *testing.T) {
	for size, want := range map[string]int64{"medium": 1, "large": 2, "xlarge": 4, "9xlarge": 36, "48xlarge": 192, "metal-24xl": 96, "metal": 64} {
		got, err := sizeVCPUs(size, 64)
		if err != nil || got != want {
			t.Errorf("sizeVCPUs(%q) = %d, %v; want %d", size, got, err, want)
		}
	}
	if _, err := sizeVCPUs("metal", 0); err == nil {
		t.Error(`sizeVCPUs("metal") without metalVCPUs: want an error`)
	}
	if _, err := sizeVCPUs("nano", 0); err == nil {
		t.Error(`sizeVCPUs("nano"): want an error (burstable sizes need shapes)`)
	}
}

func TestSpotPrice(t *testing.T) {
	a := spotPrice("m5", "m5.large", "us-east-1a", 0.096)
	if a != spotPrice("m5", "m5.large", "us-east-1a", 0.096) {
		t.Error("spot price is not deterministic")
	}
	if !(a >= 0.096*0.25*0.94 && a <= 0.096*0.45*1.06) {
		t.Errorf("spot price %g is outside 25%%–45%% of on-demand ±6%%", a)
	}
}

func TestParseTable(t *testing.T) {
	got, err := parseTable("# comment\n\nm5 large=29 xlarge=58\n", func(s string, _ int) (string, error) { return s, nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]map[string]string{"m5": {"large": "29", "xlarge": "58"}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parseTable("m5 large\n", func(s string, _ int) (string, error) { return s, nil }); err == nil {
		t.Error("a field without = was accepted")
	}
}

func TestNetworkCardsNameGeneratedTypes(t *testing.T) {
	c, err := build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	for name, cards := range networkCards {
		it, ok := c.Lookup(name)
		if !ok {
			t.Errorf("networkCards names %s, which the catalogue does not have", name)
			continue
		}
		if it.NetworkCards != cards || cards < 2 {
			t.Errorf("%s: networkCards %d in the catalogue, %d in the table (want at least 2)", name, it.NetworkCards, cards)
		}
	}
}
