package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

func TestKubeReservedMilliCPU(t *testing.T) {
	// 6% of the first core, 1% of the second, 0.5% of the third and fourth, 0.25% of each core above four.
	for vcpus, want := range map[int64]int64{1: 60, 2: 70, 3: 75, 4: 80, 5: 82, 8: 90, 12: 100, 36: 160, 96: 310, 192: 550} {
		if got := KubeReservedMilliCPU(vcpus); got != want {
			t.Errorf("KubeReservedMilliCPU(%d) = %dm, want %dm", vcpus, got, want)
		}
	}
}

// resources renders a ResourceList as canonical strings so that 7518Mi and 7883194368 compare equal.
func resources(rl corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for name, q := range rl {
		out[string(name)] = q.String()
	}
	return out
}

func TestAllocatableOfKnownTypes(t *testing.T) {
	c := MustLoad(DefaultName)
	// Hand-computed: cpu = vCPUs − kube-reserved cpu; memory = MiB − (11Mi × pods + 255Mi) − 100Mi eviction.
	tests := []struct {
		name string
		want map[string]string
	}{
		// 2 vCPU: 60m+10m reserved; 8192 − (319+255) − 100 = 7518Mi.
		{"m5.large", map[string]string{"cpu": "1930m", "memory": "7518Mi", "pods": "29", "ephemeral-storage": "20Gi"}},
		// 4 vCPU: 80m; 16384 − (638+255) − 100 = 15391Mi.
		{"m5.xlarge", map[string]string{"cpu": "3920m", "memory": "15391Mi", "pods": "58", "ephemeral-storage": "20Gi"}},
		// 1 vCPU: 60m; 4096 − (88+255) − 100 = 3653Mi.
		{"m6g.medium", map[string]string{"cpu": "940m", "memory": "3653Mi", "pods": "8", "ephemeral-storage": "20Gi"}},
		// 1024 − (44+255) − 100 = 625Mi.
		{"t3.micro", map[string]string{"cpu": "1930m", "memory": "625Mi", "pods": "4", "ephemeral-storage": "20Gi"}},
		// 96 vCPU: 80m + 92 × 2.5m = 310m; 393216 − (8107+255) − 100 = 384754Mi.
		{"m5.24xlarge", map[string]string{"cpu": "95690m", "memory": "384754Mi", "pods": "737", "ephemeral-storage": "20Gi"}},
		// 4 vCPU: 80m; 16384 − (319+255) − 100 = 15710Mi; one T4.
		{"g4dn.xlarge", map[string]string{"cpu": "3920m", "memory": "15710Mi", "pods": "29", "ephemeral-storage": "20Gi", "nvidia.com/gpu": "1"}},
		// AMD GPUs register as amd.com/gpu. 8 vCPU: 90m; 32768 − (88+255) − 100 = 32325Mi.
		{"g4ad.2xlarge", map[string]string{"cpu": "7910m", "memory": "32325Mi", "pods": "8", "ephemeral-storage": "20Gi", "amd.com/gpu": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, ok := c.Lookup(tt.name)
			if !ok {
				t.Fatalf("%s not in catalogue", tt.name)
			}
			got := it.ToInstanceType(c.Region, Options{})
			if diff := cmp.Diff(tt.want, resources(got.Allocatable())); diff != "" {
				t.Errorf("allocatable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToInstanceTypeM5Large(t *testing.T) {
	c := MustLoad(DefaultName)
	it, _ := c.Lookup("m5.large")
	got := it.ToInstanceType(c.Region, Options{})
	wantLabels := map[string]string{
		"node.kubernetes.io/instance-type": "m5.large",
		"kubernetes.io/arch":               "amd64",
		"kubernetes.io/os":                 "linux",
		"topology.kubernetes.io/region":    "us-east-1",
		"tailor.sh/instance-category":      "m",
		"tailor.sh/instance-family":        "m5",
		"tailor.sh/instance-generation":    "5",
		"tailor.sh/instance-size":          "large",
		"tailor.sh/instance-cpu":           "2",
		"tailor.sh/instance-memory":        "8192",
	}
	if diff := cmp.Diff(wantLabels, got.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantCapacity := map[string]string{"cpu": "2", "memory": "8Gi", "pods": "29", "ephemeral-storage": "20Gi"}
	if diff := cmp.Diff(wantCapacity, resources(got.Capacity)); diff != "" {
		t.Errorf("capacity (-want +got):\n%s", diff)
	}
	wantOverhead := map[string]map[string]string{
		"kube":     {"cpu": "70m", "memory": "574Mi"},
		"system":   {},
		"eviction": {"memory": "100Mi"},
	}
	gotOverhead := map[string]map[string]string{
		"kube":     resources(got.Overhead.KubeReserved),
		"system":   resources(got.Overhead.SystemReserved),
		"eviction": resources(got.Overhead.EvictionThreshold),
	}
	if diff := cmp.Diff(wantOverhead, gotOverhead); diff != "" {
		t.Errorf("overhead (-want +got):\n%s", diff)
	}
	if len(got.Offerings) != 6 || got.Offerings[0] != (cloudprovider.Offering{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 0.096, Available: true}) {
		t.Errorf("offerings = %+v, want 6 starting with us-east-1a on-demand at 0.096", got.Offerings)
	}
}

func TestOptions(t *testing.T) {
	it, _ := MustLoad(DefaultName).Lookup("m5.large")
	storage := resource.MustParse("100Gi")
	got := it.ToInstanceType("", Options{
		EphemeralStorage:        &storage,
		VMMemoryOverheadPercent: 0.075,
		SystemReserved:          corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		EvictionThreshold:       corev1.ResourceList{},
	})
	// floor(8192 × 0.925) = 7577Mi capacity; allocatable 7577 − 574 = 7003Mi; cpu 2000 − 70 − 100 = 1830m.
	want := map[string]string{"cpu": "1830m", "memory": "7003Mi", "pods": "29", "ephemeral-storage": "100Gi"}
	if diff := cmp.Diff(want, resources(got.Allocatable())); diff != "" {
		t.Errorf("allocatable (-want +got):\n%s", diff)
	}
	if _, ok := got.Labels["topology.kubernetes.io/region"]; ok {
		t.Error("region label set although the region is unknown")
	}
}

func TestCustomOverheadReplacesComputed(t *testing.T) {
	c, err := Parse(strings.NewReader(`[{"name":"custom.large","arch":"arm64","cpu":4,"memoryMiB":8192,"pods":20,"gpus":0,
		"overhead":{"cpu":0.25,"memoryMiB":1024},"labels":{"example.com/team":"a"},
		"offerings":[{"zone":"z1","capacityType":"spot","pricePerHour":0.05}]}]`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	got := c.ToInstanceTypes(Options{})[0]
	want := map[string]string{"cpu": "3750m", "memory": "7Gi", "pods": "20", "ephemeral-storage": "20Gi"}
	if diff := cmp.Diff(want, resources(got.Allocatable())); diff != "" {
		t.Errorf("allocatable (-want +got):\n%s", diff)
	}
	if got.Overhead.SystemReserved != nil || got.Overhead.EvictionThreshold != nil {
		t.Errorf("overhead %+v: a given overhead must replace system-reserved and eviction too", got.Overhead)
	}
	if got.Labels["example.com/team"] != "a" || got.Labels["tailor.sh/instance-family"] != "custom" {
		t.Errorf("labels = %v, want the custom label and the derived family", got.Labels)
	}
	if !got.Offerings[0].Available {
		t.Error("offering without \"available\" must default to available")
	}
}

// TestBurstable: category t of the embedded catalogue is burstable and nothing else is; a custom file marks its own.
func TestBurstable(t *testing.T) {
	c := MustLoad(DefaultName)
	for _, it := range c.ToInstanceTypes(Options{}) {
		if want := strings.HasPrefix(it.Name, "t"); it.Burstable != want {
			t.Errorf("%s: Burstable = %v, want %v", it.Name, it.Burstable, want)
		}
	}
	custom, err := Parse(strings.NewReader(`[{"name": "burst.small", "cpu": 2, "memoryMiB": 2048, "pods": 8, "arch": "amd64", "gpus": 0, "burstable": true,
	  "offerings": [{"zone": "z1", "capacityType": "on-demand", "pricePerHour": 0.01, "available": true}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if it := custom.ToInstanceTypes(Options{}); !it[0].Burstable {
		t.Errorf("burst.small from a custom file with \"burstable\": true is not burstable")
	}
}
