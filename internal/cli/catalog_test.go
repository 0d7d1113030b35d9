package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tailor-sh/tailor/internal/catalog"
)

const customTypes = `[
  {"name":"tiny.small","arch":"arm64","cpu":1,"memoryMiB":1536,"pods":8,"gpus":0,
   "offerings":[{"zone":"lab-1","capacityType":"on-demand","pricePerHour":0.02},
                {"zone":"lab-1","capacityType":"spot","pricePerHour":0.008},
                {"zone":"lab-2","capacityType":"spot","pricePerHour":0.007,"available":false}]},
  {"name":"gpu.big","arch":"amd64","cpu":32,"memoryMiB":131072,"pods":110,"gpus":4,"gpuName":"l4",
   "offerings":[{"zone":"lab-2","capacityType":"on-demand","pricePerHour":3.5}]}
]`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "types.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCatalogListTableFromFile(t *testing.T) {
	var out bytes.Buffer
	err := CatalogList(&out, CatalogListOptions{Source: CatalogSource{InstanceTypesFile: writeFile(t, customTypes)}})
	if err != nil {
		t.Fatalf("CatalogList: %v", err)
	}
	// Rows are sorted by name; the unavailable spot offering in lab-2 does not count as the cheapest spot price.
	want := "" +
		"NAME        ARCH   VCPU  MEMORY  PODS  GPUS  ON-DEMAND $/H  SPOT $/H (MIN)  ZONES\n" +
		"gpu.big     amd64  32    128Gi   110   4×l4  3.5000         -               lab-2\n" +
		"tiny.small  arm64  1     1.5Gi   8     -     0.0200         0.0080          lab-1,lab-2\n" +
		"2 instance types in types.json\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestCatalogListJSONMatchesSchemaAndReadsBack(t *testing.T) {
	var out bytes.Buffer
	if err := CatalogList(&out, CatalogListOptions{Output: OutputJSON}); err != nil {
		t.Fatalf("CatalogList: %v", err)
	}
	if !strings.HasPrefix(out.String(), "[\n  {\"name\":\"a1.2xlarge\",") {
		t.Errorf("json output does not start with the array of instance types: %.80q", out.String())
	}
	// The JSON is the public schema: --instance-types reads it back to the same instance types.
	again, err := CatalogSource{InstanceTypesFile: writeFile(t, out.String())}.Load()
	if err != nil {
		t.Fatalf("reading the json output back: %v", err)
	}
	if diff := cmp.Diff(catalog.MustLoad(catalog.DefaultName).InstanceTypes, again.InstanceTypes); diff != "" {
		t.Errorf("json round trip (-want +got):\n%s", diff)
	}
}

func TestCatalogListErrors(t *testing.T) {
	bad := writeFile(t, `[{"name":"m5.large","arch":"amd64","cpu":2,"memoryMiB":0,"pods":29,"gpus":0,
		"offerings":[{"zone":"a","capacityType":"spot","pricePerHour":1}]}]`)
	tests := []struct {
		name string
		opts CatalogListOptions
		want string
	}{
		{"both sources", CatalogListOptions{Source: CatalogSource{Catalog: "aws-us-east-1", InstanceTypesFile: bad}},
			"--catalog and --instance-types both name instance types: give one of them"},
		{"unknown catalogue", CatalogListOptions{Source: CatalogSource{Catalog: "gcp"}},
			`unknown catalogue "gcp": choose one of aws-us-east-1`},
		{"unknown output", CatalogListOptions{Output: "yaml"}, `unknown output format "yaml": use "table" or "json"`},
		{"malformed file", CatalogListOptions{Source: CatalogSource{InstanceTypesFile: bad}},
			"reading instance types file " + bad + `: instance type [0] "m5.large": memoryMiB must be > 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CatalogList(&bytes.Buffer{}, tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
