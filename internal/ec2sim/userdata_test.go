package ec2sim

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const al2023MIME = `MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="//"

--//
Content-Type: application/node.eks.aws

apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: tailor
    apiServerEndpoint: https://127.0.0.1:6443
    certificateAuthority: Y2E=
    cidr: 10.100.0.0/16
  kubelet:
    config:
      maxPods: 58
      kubeReserved:
        cpu: 80m
        memory: 893Mi
        ephemeral-storage: 1Gi
      systemReserved:
        memory: 100Mi
      evictionHard:
        memory.available: 5%
        nodefs.available: 10%
      registerWithTaints:
      - key: dedicated
        value: gpu
        effect: NoSchedule
    flags:
    - --node-labels="tailor.sh/nodepool=gpu,tailor.sh/capacity-type=spot"
    - --register-with-taints=tailor.sh/unregistered:NoExecute

--//
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
echo "custom bootstrap" > /tmp/hello

--//--
`

const al2Script = `#!/bin/bash -xe
exec > >(tee /var/log/user-data.log) 2>&1
# the EKS bootstrap
/etc/eks/bootstrap.sh 'tailor' --apiserver-endpoint 'https://127.0.0.1:6443' --b64-cluster-ca 'Y2E=' \
  --use-max-pods false \
  --kubelet-extra-args '--node-labels="tailor.sh/nodepool=default,team=a b" --register-with-taints="critical=true:NoSchedule,spot:PreferNoSchedule" --max-pods=110 --kube-reserved=cpu=100m,memory=1Gi --eviction-hard=memory.available<200Mi'
`

const bottlerocketTOML = `[settings.host-containers.admin]
enabled = true

[settings.kubernetes]
cluster-name = "tailor"
api-server = "https://127.0.0.1:6443"
max-pods = 29

[settings.kubernetes.node-labels]
"tailor.sh/nodepool" = "default"
"team" = "a"

[settings.kubernetes.kube-reserved]
"cpu" = "70m"
"memory" = "574Mi"

[settings.kubernetes.system-reserved]
"memory" = "100Mi"

[settings.kubernetes.eviction-hard]
"memory.available" = "100Mi"

[settings.kubernetes.node-taints]
"dedicated" = ["db:NoSchedule", "db:NoExecute"]
"spot" = [":PreferNoSchedule"]
`

func TestParseUserData(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		data    string
		want    nodeSettings
		wantErr string
	}{
		{name: "empty", data: "", want: nodeSettings{Labels: map[string]string{}}},
		{
			name: "AL2023 MIME NodeConfig", data: b64(al2023MIME),
			want: nodeSettings{
				APIServer: "https://127.0.0.1:6443", CA: "Y2E=",
				Labels: map[string]string{"tailor.sh/nodepool": "gpu", "tailor.sh/capacity-type": "spot"},
				Taints: []corev1.Taint{
					{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
					{Key: "tailor.sh/unregistered", Effect: corev1.TaintEffectNoExecute},
				},
				MaxPods:        58,
				KubeReserved:   map[string]string{"cpu": "80m", "memory": "893Mi", "ephemeral-storage": "1Gi"},
				SystemReserved: map[string]string{"memory": "100Mi"},
				EvictionHard:   map[string]string{"memory.available": "5%", "nodefs.available": "10%"},
			},
		},
		{
			name: "CRLF MIME", data: b64(strings.ReplaceAll(al2023MIME, "\n", "\r\n")),
			want: nodeSettings{
				APIServer: "https://127.0.0.1:6443", CA: "Y2E=",
				Labels: map[string]string{"tailor.sh/nodepool": "gpu", "tailor.sh/capacity-type": "spot"},
				Taints: []corev1.Taint{
					{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
					{Key: "tailor.sh/unregistered", Effect: corev1.TaintEffectNoExecute},
				},
				MaxPods:        58,
				KubeReserved:   map[string]string{"cpu": "80m", "memory": "893Mi", "ephemeral-storage": "1Gi"},
				SystemReserved: map[string]string{"memory": "100Mi"},
				EvictionHard:   map[string]string{"memory.available": "5%", "nodefs.available": "10%"},
			},
		},
		{
			name: "bare NodeConfig", data: b64("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    flags: [\"--node-labels=a=b\", \"--max-pods\", \"17\"]\n"),
			want: nodeSettings{Labels: map[string]string{"a": "b"}, MaxPods: 17},
		},
		{
			name: "AL2 bootstrap.sh", data: b64(al2Script),
			want: nodeSettings{
				APIServer: "https://127.0.0.1:6443", CA: "Y2E=",
				Labels: map[string]string{"tailor.sh/nodepool": "default", "team": "a b"},
				Taints: []corev1.Taint{
					{Key: "critical", Value: "true", Effect: corev1.TaintEffectNoSchedule},
					{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule},
				},
				MaxPods:      110,
				KubeReserved: map[string]string{"cpu": "100m", "memory": "1Gi"},
				EvictionHard: map[string]string{"memory.available": "200Mi"},
			},
		},
		{
			name: "MIME with a bootstrap.sh part", data: b64("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/x-shellscript\n\n" + al2Script + "\n--B--\n"),
			want: nodeSettings{
				APIServer: "https://127.0.0.1:6443", CA: "Y2E=",
				Labels: map[string]string{"tailor.sh/nodepool": "default", "team": "a b"},
				Taints: []corev1.Taint{
					{Key: "critical", Value: "true", Effect: corev1.TaintEffectNoSchedule},
					{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule},
				},
				MaxPods:      110,
				KubeReserved: map[string]string{"cpu": "100m", "memory": "1Gi"},
				EvictionHard: map[string]string{"memory.available": "200Mi"},
			},
		},
		{
			name: "Bottlerocket TOML", data: b64(bottlerocketTOML),
			want: nodeSettings{
				APIServer: "https://127.0.0.1:6443",
				Labels:    map[string]string{"tailor.sh/nodepool": "default", "team": "a"},
				Taints: []corev1.Taint{
					{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule},
					{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute},
					{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule},
				},
				MaxPods:        29,
				KubeReserved:   map[string]string{"cpu": "70m", "memory": "574Mi"},
				SystemReserved: map[string]string{"memory": "100Mi"},
				EvictionHard:   map[string]string{"memory.available": "100Mi"},
			},
		},
		{
			// Bottlerocket refuses TOML that defines a table twice, as any TOML parser does; so does ec2sim.
			name: "Bottlerocket duplicate table", data: b64("[settings.kubernetes]\nmax-pods = 3\n\n[settings.kubernetes]\ncluster-name = \"c\"\n"),
			wantErr: "bottlerocket settings",
		},
		{
			name: "Bottlerocket invalid TOML", data: b64("[settings.kubernetes]\nmax-pods = = 3\n"),
			wantErr: "bottlerocket settings",
		},
		{
			name: "bad taint effect", data: b64("#!/bin/bash\n/etc/eks/bootstrap.sh c --kubelet-extra-args '--register-with-taints=a=b:Sometimes'\n"),
			wantErr: "effect \"Sometimes\"",
		},
		{
			name: "unterminated quote", data: b64("#!/bin/bash\n/etc/eks/bootstrap.sh c --kubelet-extra-args '--max-pods=3\n"),
			wantErr: "unterminated single quote",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUserData(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseUserData: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeResources(t *testing.T) {
	idx, err := newTypeIndex(testTypes())
	if err != nil {
		t.Fatal(err)
	}
	m5 := idx.byName["m5.large"]
	gpu := idx.byName["p3.2xlarge"]
	q := resource.MustParse
	tests := []struct {
		name            string
		it              *InstanceType
		rootGiB         int64
		settings        nodeSettings
		wantCapacity    corev1.ResourceList
		wantAllocatable corev1.ResourceList
	}{
		{
			name: "user data reservations", it: m5, rootGiB: 50,
			settings: nodeSettings{MaxPods: 20, KubeReserved: map[string]string{"cpu": "70m", "memory": "475Mi"},
				SystemReserved: map[string]string{"memory": "100Mi"}, EvictionHard: map[string]string{"memory.available": "100Mi", "nodefs.available": "10%"}},
			// 8192Mi advertised less 7.5% (614Mi) is 7578Mi.
			wantCapacity:    corev1.ResourceList{"cpu": q("2"), "memory": q("7578Mi"), "pods": q("20"), "ephemeral-storage": q("50Gi")},
			wantAllocatable: corev1.ResourceList{"cpu": q("1930m"), "memory": q("6903Mi"), "pods": q("20"), "ephemeral-storage": q("46080Mi")},
		},
		{
			name: "AMI defaults when the user data reserves nothing", it: m5, rootGiB: 20,
			// 29 pods from 3 ENIs × 10 addresses; kube-reserved 70m and 11×29+255 = 574Mi, eviction 100Mi and 10%,
			// 1Gi of storage.
			wantCapacity:    corev1.ResourceList{"cpu": q("2"), "memory": q("7578Mi"), "pods": q("29"), "ephemeral-storage": q("20Gi")},
			wantAllocatable: corev1.ResourceList{"cpu": q("1930m"), "memory": q("6904Mi"), "pods": q("29"), "ephemeral-storage": q("17408Mi")},
		},
		{
			name: "GPUs are capacity", it: gpu, rootGiB: 100, settings: nodeSettings{KubeReserved: map[string]string{"cpu": "1"}},
			wantCapacity:    corev1.ResourceList{"cpu": q("8"), "memory": q("57780Mi"), "pods": q("58"), "ephemeral-storage": q("100Gi"), "nvidia.com/gpu": q("1")},
			wantAllocatable: corev1.ResourceList{"cpu": q("7"), "memory": q("57780Mi"), "pods": q("58"), "ephemeral-storage": q("100Gi"), "nvidia.com/gpu": q("1")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			capacity, allocatable, err := nodeResources(tc.it, tc.rootGiB, &tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantCapacity, capacity, quantityEqual); diff != "" {
				t.Errorf("capacity (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAllocatable, allocatable, quantityEqual); diff != "" {
				t.Errorf("allocatable (-want +got):\n%s", diff)
			}
		})
	}
}

var quantityEqual = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

func TestNodeWork(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Faults = Faults{NeverRegisterInstanceTypes: []string{"m5.x*"}, SlowBootRate: 1, SlowBootLatency: metav1.Duration{Duration: time.Minute}}
	})
	lt := h.launchTemplate("lt-default", "x86_64", "")
	normal := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}))
	never := launchedIDs(h.fleet(lt, "on-demand", 1, [2]string{"m5.xlarge", "us-east-1a"}))
	ids := func(list []*instance) []string {
		var out []string
		for _, i := range list {
			out = append(out, i.ID)
		}
		return out
	}
	h.clock.Step(2*time.Second + 3*time.Second)
	if w := h.sim.cloud.tick(true); len(w.create) != 0 {
		t.Errorf("slow boots registered after the normal boot latency: %v", ids(w.create))
	}
	h.clock.Step(time.Minute)
	w := h.sim.cloud.tick(true)
	if diff := cmp.Diff(normal, ids(w.create)); diff != "" {
		t.Errorf("nodes to create (-want +got):\n%s", diff)
	}
	for _, i := range w.create {
		h.sim.cloud.markNode(i.ID, true, false)
	}
	if w := h.sim.cloud.tick(true); len(w.create)+len(w.remove) != 0 {
		t.Errorf("registered nodes are created again: %+v", w)
	}
	if _, err := h.sim.cloud.terminateInstances(append(normal, never...)); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(3 * time.Second)
	w = h.sim.cloud.tick(true)
	if diff := cmp.Diff(normal, ids(w.remove)); diff != "" {
		t.Errorf("nodes to delete, only of registered instances (-want +got):\n%s", diff)
	}
	if w := h.sim.cloud.tick(false); len(w.create)+len(w.remove) != 0 {
		t.Errorf("without a kube client there is no node work: %+v", w)
	}
}

func TestCheckJoin(t *testing.T) {
	eks := EKSClusterConfig{Endpoint: "https://127.0.0.1:6443", CertificateAuthority: "Y2E="}
	tests := []struct {
		name     string
		settings nodeSettings
		eks      EKSClusterConfig
		wantErr  string
	}{
		{name: "same cluster", settings: nodeSettings{APIServer: "https://127.0.0.1:6443", CA: "Y2E="}, eks: eks},
		{name: "user data names none", eks: eks},
		{name: "simulated cluster names none", settings: nodeSettings{APIServer: "https://elsewhere", CA: "eA=="}},
		{name: "another API server", settings: nodeSettings{APIServer: "https://127.0.0.1:6443/", CA: "Y2E="}, eks: eks, wantErr: "joins API server https://127.0.0.1:6443/"},
		{name: "another CA", settings: nodeSettings{APIServer: "https://127.0.0.1:6443", CA: "eA=="}, eks: eks, wantErr: "CA is not the cluster's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.settings.checkJoin(tt.eks)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkJoin: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkJoin = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
