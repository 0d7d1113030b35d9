package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodOffering = `{"zone":"us-east-1a","capacityType":"on-demand","pricePerHour":0.1}`

// entry is a valid instance type with one field replaced or added.
func entry(name, extra string) string {
	fields := map[string]string{
		"name": `"` + name + `"`, "arch": `"amd64"`, "cpu": "2", "memoryMiB": "8192", "pods": "29", "gpus": "0",
		"offerings": "[" + goodOffering + "]",
	}
	order := []string{"name", "arch", "cpu", "memoryMiB", "pods", "gpus", "offerings"}
	if extra != "" {
		k, v, _ := strings.Cut(extra, "=")
		if _, ok := fields[k]; !ok {
			order = append(order, k)
		}
		fields[k] = v
	}
	var parts []string
	for _, k := range order {
		if v := fields[k]; v != "-" {
			parts = append(parts, `"`+k+`":`+v)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// file is a catalogue of three valid entries followed by the given ones.
func file(entries ...string) string {
	all := append([]string{entry("a.large", ""), entry("b.large", ""), entry("c.large", "")}, entries...)
	return "[\n" + strings.Join(all, ",\n") + "\n]"
}

func TestParseRejectsMalformedFiles(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"empty", "  \n", "catalogue is empty: want a JSON array of instance types"},
		{"not a list", `"m5.large"`, "catalogue must be a JSON array of instance types or a catalogue document object"},
		{"syntax", "[\n {\"name\": \"m5.large\",}\n]", "invalid JSON at line 2, column 22: invalid character '}' looking for beginning of object key string"},
		{"no entries", "[]", "catalogue has no instance types"},
		{"zero memory", file(entry("m5.large", "memoryMiB=0")), `instance type [3] "m5.large": memoryMiB must be > 0`},
		{"negative cpu", file(entry("m5.large", "cpu=-2")), `instance type [3] "m5.large": cpu must be > 0 (the number of vCPUs)`},
		{"fractional cpu", file(entry("m5.large", "cpu=1.5")), `instance type [3] "m5.large": field cpu: want a whole number, got JSON number 1.5`},
		{"cpu as string", file(entry("m5.large", `cpu="2"`)), `instance type [3] "m5.large": field cpu: want a whole number, got JSON string`},
		{"missing name", file(entry("", "")), `instance type [3] "": name is required`},
		{"bad arch", file(entry("m5.large", `arch="x86_64"`)), `instance type [3] "m5.large": arch must be "amd64" or "arm64", not "x86_64"`},
		{"no pods", file(entry("m5.large", "pods=-")), `instance type [3] "m5.large": pods must be > 0 (or give enis and ipsPerEni to compute it)`},
		{"half the ENI limits", file(entry("m5.large", "enis=3")), `instance type [3] "m5.large": enis and ipsPerEni go together: give both or neither`},
		{"unknown field", file(entry("m5.large", "memoryMib=8192")),
			`instance type [3] "m5.large": unknown field "memoryMib" (did you mean "memoryMiB"?); see docs/catalog.md for the schema`},
		{"unknown offering field", file(entry("m5.large", `offerings=[{"zone":"z","capacityType":"spot","price":1}]`)),
			`instance type [3] "m5.large": unknown field "offerings[0].price"; see docs/catalog.md for the schema`},
		{"wrong case in overhead", file(entry("m5.large", `overhead={"CPU":1,"memoryMiB":1}`)),
			`instance type [3] "m5.large": unknown field "overhead.CPU" (did you mean "overhead.cpu"?); see docs/catalog.md for the schema`},
		{"price as string", file(entry("m5.large", `offerings=[{"zone":"z","capacityType":"spot","pricePerHour":"1"}]`)),
			`instance type [3] "m5.large": field offerings.pricePerHour: want a number, got JSON string`},
		{"duplicate name", file(entry("b.large", "")), `instance type [3] "b.large": duplicate name, first defined at [1]`},
		{"no offerings", file(entry("m5.large", "offerings=[]")), `instance type [3] "m5.large": offerings must list at least one zone and capacity type`},
		{"bad offering", file(entry("m5.large", `offerings=[{"zone":"","capacityType":"reserved","pricePerHour":0}]`)),
			`instance type [3] "m5.large": offerings[0].zone is required; offerings[0].capacityType must be "on-demand" or "spot", not "reserved"; offerings[0].pricePerHour must be > 0`},
		{"duplicate offering", file(entry("m5.large", "offerings=["+goodOffering+","+goodOffering+"]")),
			`instance type [3] "m5.large": offerings[1] duplicates offerings[0] (us-east-1a on-demand)`},
		{"gpu name without gpus", file(entry("m5.large", `gpuName="t4"`)), `instance type [3] "m5.large": gpuName, gpuManufacturer and gpuMemoryMiB need gpus > 0`},
		{"unknown gpu maker", file(entry("m5.large", `gpus=1,"gpuManufacturer":"acme"`)),
			`instance type [3] "m5.large": gpuManufacturer must be "nvidia" or "amd", not "acme"`},
		{"overhead too big", file(entry("m5.large", `overhead={"cpu":2,"memoryMiB":100}`)),
			`instance type [3] "m5.large": overhead.cpu 2 must be less than cpu 2`},
		{"label from a field", file(entry("m5.large", `labels={"kubernetes.io/arch":"arm64"}`)),
			`instance type [3] "m5.large": labels: "kubernetes.io/arch" is set from arch; set that instead`},
		{"bad label value", file(entry("m5.large", `labels={"example.com/x":"a b"}`)),
			`instance type [3] "m5.large": labels: value "a b" of "example.com/x" is invalid: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		{"several problems", file(entry("x.large", "memoryMiB=0"), entry("y.large", "cpu=0")),
			"instance type [3] \"x.large\": memoryMiB must be > 0\ninstance type [4] \"y.large\": cpu must be > 0 (the number of vCPUs)"},
		{"document without types", `{"name":"x","version":"1"}`, `catalogue document has no "instanceTypes" array`},
		{"document unknown field", `{"name":"x","types":[]}`, `catalogue document: unknown field "types"; see docs/catalog.md for the schema`},
		{"trailing data", `{"name":"x","instanceTypes":[]} {}`, `catalogue document: unexpected data after the JSON value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.input)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader(`[
		{"name":"p9.2xlarge","arch":"amd64","cpu":8,"memoryMiB":65536,"gpus":2,"enis":4,"ipsPerEni":15,
		 "offerings":[{"zone":"b","capacityType":"spot","pricePerHour":1,"available":false},
		              {"zone":"a","capacityType":"spot","pricePerHour":2}]},
		{"name":"solo","arch":"arm64","cpu":1,"memoryMiB":512,"pods":4,"gpus":0,
		 "offerings":[{"zone":"a","capacityType":"on-demand","pricePerHour":0.01}]}
	]`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []InstanceType{
		{
			Name: "p9.2xlarge", Family: "p9", Category: "p", Generation: 9, Size: "2xlarge", Arch: "amd64", CPU: 8,
			MemoryMiB: 65536, GPUs: 2, GPUManufacturer: "nvidia", ENIs: 4, IPsPerENI: 15, Pods: 58,
			Offerings: []Offering{
				{Zone: "a", CapacityType: "spot", PricePerHour: 2, Available: true},
				{Zone: "b", CapacityType: "spot", PricePerHour: 1, Available: false},
			},
		},
		{
			Name: "solo", Arch: "arm64", CPU: 1, MemoryMiB: 512, Pods: 4,
			Offerings: []Offering{{Zone: "a", CapacityType: "on-demand", PricePerHour: 0.01, Available: true}},
		},
	}
	if diff := cmp.Diff(want, c.InstanceTypes); diff != "" {
		t.Errorf("parsed (-want +got):\n%s", diff)
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		name, family, size, category string
		generation                   int
	}{
		{"m5.large", "m5", "large", "m", 5},
		{"m7i-flex.2xlarge", "m7i-flex", "2xlarge", "m", 7},
		{"im4gn.16xlarge", "im4gn", "16xlarge", "im", 4},
		{"p6-b200.48xlarge", "p6-b200", "48xlarge", "p", 6},
		{"c7i.metal-24xl", "c7i", "metal-24xl", "c", 7},
		{"custom", "", "", "", 0},
	}
	for _, tt := range tests {
		f, s, c, g := SplitName(tt.name)
		if f != tt.family || s != tt.size || c != tt.category || g != tt.generation {
			t.Errorf("SplitName(%q) = %q %q %q %d, want %q %q %q %d", tt.name, f, s, c, g, tt.family, tt.size, tt.category, tt.generation)
		}
	}
}

// Other tools export whole numbers as 400.0 or 4e2; any JSON number with an integral value is a whole number.
func TestParseAcceptsIntegralNumbers(t *testing.T) {
	c, err := Parse(strings.NewReader(`[
		{"name":"x9.100xlarge","arch":"amd64","cpu":400.0,"memoryMiB":1.6384e6,"pods":2.5e1,"gpus":0.0,
		 "enis":15.0,"ipsPerEni":50.00,"generation":9.0,"gpuMemoryMiB":0,"overhead":{"cpu":0.5,"memoryMiB":10.0},
		 "offerings":[{"zone":"a","capacityType":"spot","pricePerHour":1}]}
	]`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []InstanceType{{
		Name: "x9.100xlarge", Family: "x9", Category: "x", Generation: 9, Size: "100xlarge", Arch: "amd64", CPU: 400,
		MemoryMiB: 1638400, ENIs: 15, IPsPerENI: 50, Pods: 25, Overhead: &Overhead{CPU: 0.5, MemoryMiB: 10},
		Offerings: []Offering{{Zone: "a", CapacityType: "spot", PricePerHour: 1, Available: true}},
	}}
	if diff := cmp.Diff(want, c.InstanceTypes); diff != "" {
		t.Errorf("parsed (-want +got):\n%s", diff)
	}
}

func TestParseRejectsFractionalWholeNumbers(t *testing.T) {
	tests := []struct{ extra, want string }{
		{"cpu=1.5", `instance type [3] "m5.large": field cpu: want a whole number, got JSON number 1.5`},
		{"memoryMiB=1e-1", `instance type [3] "m5.large": field memoryMiB: want a whole number, got JSON number 1e-1`},
		{"pods=1e30", `instance type [3] "m5.large": field pods: want a whole number, got JSON number 1e30`},
		{`overhead={"cpu":0.1,"memoryMiB":10.25}`, `instance type [3] "m5.large": field overhead.memoryMiB: want a whole number, got JSON number 10.25`},
		{"generation=7.5", `instance type [3] "m5.large": field generation: want a whole number, got JSON number 7.5`},
		{"gpus=true", `instance type [3] "m5.large": field gpus: want a whole number, got JSON bool`},
	}
	for _, tt := range tests {
		t.Run(tt.extra, func(t *testing.T) {
			_, err := Parse(strings.NewReader(file(entry("m5.large", tt.extra))))
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
