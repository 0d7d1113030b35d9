package aws

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// bottlerocketBootstrap is what Tailor writes for a Bottlerocket node in these tests.
func bottlerocketBootstrap(custom string) bootstrap {
	return bootstrap{
		clusterName: "tailor", clusterEndpoint: "https://api.example", clusterCABundle: "Q0E=", clusterCIDR: "172.20.0.0/16",
		labels:  map[string]string{"tailor.sh/nodepool": "default"},
		taints:  []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}},
		maxPods: 29, kubeReserved: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("70m")},
		evictionHard:   map[string]string{"memory.available": "100Mi"},
		customUserData: custom,
	}
}

func TestBottlerocketUserDataMergesTheUsersSettings(t *testing.T) {
	custom := `[settings.host-containers.admin]
enabled = true

[settings.kubernetes]
cluster-name = "someone-else"
max-pods = 500
image-gc-high-threshold-percent = 80

[settings.kubernetes.node-labels]
"team" = "a"
"tailor.sh/nodepool" = "user-said"

[settings.kubernetes.node-taints]
"user" = ["x:NoExecute"]
`
	ud, err := userData(AMIFamilyBottlerocket, bottlerocketBootstrap(custom))
	if err != nil {
		t.Fatalf("userData: %v", err)
	}
	var got map[string]any
	if err := toml.Unmarshal([]byte(ud), &got); err != nil {
		t.Fatalf("the merged Bottlerocket user data is not valid TOML (Bottlerocket would refuse it): %v\n%s", err, ud)
	}
	want := map[string]any{
		"settings": map[string]any{
			"host-containers": map[string]any{"admin": map[string]any{"enabled": true}},
			"kubernetes": map[string]any{
				"cluster-name":                    "tailor",
				"api-server":                      "https://api.example",
				"cluster-certificate":             "Q0E=",
				"cluster-dns-ip":                  "172.20.0.10",
				"max-pods":                        int64(29),
				"image-gc-high-threshold-percent": int64(80),
				"node-labels":                     map[string]any{"team": "a", "tailor.sh/nodepool": "default"},
				"node-taints":                     map[string]any{"user": []any{"x:NoExecute"}, "dedicated": []any{"db:NoSchedule"}},
				"kube-reserved":                   map[string]any{"cpu": "70m"},
				"eviction-hard":                   map[string]any{"memory.available": "100Mi"},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged settings (-want +got):\n%s", diff)
	}
}

func TestBottlerocketUserDataRefusesInvalidTOML(t *testing.T) {
	for name, custom := range map[string]string{
		"syntax":               "[settings.kubernetes\nmax-pods = 3\n",
		"duplicate table":      "[settings.kubernetes]\nmax-pods = 3\n[settings.kubernetes]\nmax-pods = 4\n",
		"settings not a table": "settings = 3\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := userData(AMIFamilyBottlerocket, bottlerocketBootstrap(custom))
			if err == nil || !strings.Contains(err.Error(), "spec.userData") {
				t.Fatalf("userData = %v, want an error naming spec.userData", err)
			}
		})
	}
}
