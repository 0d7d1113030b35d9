package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// issueProvisioner is the Provisioner from a widely read Karpenter tutorial that issue 3 asks migrate to handle.
const issueProvisioner = `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  requirements:
    - key: karpenter.sh/capacity-type
      operator: In
      values: ["spot"]
  limits:
    resources:
      cpu: 1000
  provider:
    subnetSelector:
      karpenter.sh/discovery: demo-cluster
    securityGroupSelector:
      karpenter.sh/discovery: demo-cluster
    instanceProfile: KarpenterNodeInstanceProfile-demo-cluster
  ttlSecondsAfterEmpty: 30
`

// provisionerWithProviderRef: Provisioner with consolidation, expiry, labels, taints, kubelet and a providerRef.
const provisionerWithProviderRef = `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: web
  labels: {app.kubernetes.io/managed-by: Helm}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    karpenter.sh/provisioner-hash: "123"
    team: web
  uid: 1234
  resourceVersion: "99"
spec:
  consolidation: {enabled: true}
  ttlSecondsUntilExpired: 2592000
  weight: 20
  labels:
    karpenter.sh/capacity-type: on-demand
    team: web
    karpenter.sh/do-not-evict: "true"
  annotations: {example.com/owner: web}
  taints: [{key: example.com/web, value: "true", effect: NoSchedule}]
  startupTaints: [{key: example.com/cni, effect: NoExecute}]
  requirements:
    - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m6i, m7i]}
    - {key: karpenter.k8s.aws/instance-cpu, operator: Lt, values: ["33"]}
    - {key: beta.kubernetes.io/arch, operator: In, values: [amd64]}
    - {key: karpenter.k8s.aws/instance-hypervisor, operator: In, values: [nitro]}
    - {key: topology.kubernetes.io/zone, operator: NotIn, values: [us-east-1e]}
  limits: {resources: {cpu: "100", memory: 400Gi}}
  providerRef: {name: web-nodes}
  kubeletConfiguration:
    maxPods: 58
    systemReserved: {cpu: 100m, memory: 100Mi}
    clusterDNS: [10.0.0.10]
status:
  resources: {cpu: "4"}
---
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata:
  name: web-nodes
spec:
  subnetSelector: {aws-ids: "subnet-0a1, subnet-0b2"}
  securityGroupSelector: {Name: web-nodes, karpenter.sh/discovery: demo}
  instanceProfile: WebNodes
  amiFamily: AL2
  amiSelector: {aws::name: "my-ami-*", aws::owners: "self,123456789012", team: web}
  userData: "#!/bin/bash\necho hi"
  tags: {cost-center: web, kubernetes.io/cluster/demo: owned}
  metadataOptions: {httpEndpoint: enabled, httpProtocolIPv6: disabled, httpPutResponseHopLimit: 2, httpTokens: required}
  blockDeviceMappings:
    - deviceName: /dev/xvda
      ebs: {volumeSize: 100Gi, volumeType: gp3, iops: 4000, throughput: 250, encrypted: true, deleteOnTermination: true, kmsKeyID: alias/web}
  launchTemplate: web-lt
  detailedMonitoring: true
`

// v1beta1NodePool: v1beta1 NodePool and EC2NodeClass.
const v1beta1NodePool = `
apiVersion: karpenter.sh/v1beta1
kind: NodePool
metadata: {name: general}
spec:
  template:
    metadata:
      labels: {team: platform}
    spec:
      nodeClassRef: {apiVersion: karpenter.k8s.aws/v1beta1, kind: EC2NodeClass, name: general}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
        - {key: karpenter.k8s.aws/instance-generation, operator: Gt, values: ["5"]}
      kubelet: {maxPods: 110, evictionHard: {memory.available: 5%}}
  disruption:
    consolidationPolicy: WhenUnderutilized
    expireAfter: 168h
    budgets: [{nodes: "20%"}, {nodes: "0", schedule: "0 9 * * mon-fri", duration: 8h}]
  limits: {cpu: 500}
  weight: 10
---
apiVersion: karpenter.k8s.aws/v1beta1
kind: EC2NodeClass
metadata: {name: general}
spec:
  amiFamily: AL2023
  role: KarpenterNodeRole-demo
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}, {id: subnet-0abc}]
  securityGroupSelectorTerms: [{name: nodes}, {id: sg-0abc}]
  associatePublicIPAddress: false
  instanceStorePolicy: RAID0
`

// v1NodePool: v1 NodePool and EC2NodeClass.
const v1NodePool = `
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      expireAfter: 720h
      terminationGracePeriod: 48h
      requirements:
        - {key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}
        - {key: karpenter.k8s.aws/instance-family, operator: Exists, minValues: 5}
        - {key: kubernetes.io/os, operator: In, values: [linux]}
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1m
    budgets: [{nodes: "10%", reasons: [Drifted, Underutilized]}]
  limits: {cpu: 1000, memory: 1000Gi}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-demo
  amiSelectorTerms: [{alias: bottlerocket@v1.20.3}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  kubelet: {podsPerCore: 4, kubeReserved: {cpu: 200m}, imageGCHighThresholdPercent: 85}
  blockDeviceMappings:
    - {deviceName: /dev/xvdb, rootVolume: true, ebs: {volumeSize: 50Gi, volumeType: gp3}}
`

// sharedTemplate: two Provisioners share an AWSNodeTemplate but not their kubelet settings.
const sharedTemplate = `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: a}
spec: {providerRef: {name: shared}, kubeletConfiguration: {maxPods: 20}}
---
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: b}
spec: {providerRef: {name: shared}, kubeletConfiguration: {maxPods: 40}}
---
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata: {name: shared}
spec:
  subnetSelector: {env: prod}
  securityGroupSelector: {env: prod}
  instanceProfile: Nodes
  amiFamily: Bottlerocket
`

// provisionerKeep: Provisioner that never removes nodes.
const provisionerKeep = `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: keep}
spec:
  providerRef: {name: default}
`

// inlineClash: inline provider named like an AWSNodeTemplate, in a List with a ConfigMap.
const inlineClash = `
apiVersion: v1
kind: List
items:
  - apiVersion: karpenter.k8s.aws/v1alpha1
    kind: AWSNodeTemplate
    metadata: {name: default}
    spec: {subnetSelector: {a: b}, securityGroupSelector: {a: b}, instanceProfile: P, amiFamily: AL2023}
  - apiVersion: karpenter.sh/v1alpha5
    kind: Provisioner
    metadata: {name: default}
    spec:
      provider: {apiVersion: extensions.karpenter.sh/v1alpha1, kind: AWS, subnetSelector: {c: d}, securityGroupSelector: {c: d}, instanceProfile: Q, amiFamily: Ubuntu}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: karpenter-global-settings}
`

func nodePool(name string, mutate func(*apiv1.NodePool)) *apiv1.NodePool {
	np := &apiv1.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tailor.sh/v1", Kind: "NodePool"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}
	if mutate != nil {
		mutate(np)
	}
	return np
}

func nodeClass(name string, mutate func(*apiv1.EC2NodeClass)) *apiv1.EC2NodeClass {
	nc := &apiv1.EC2NodeClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tailor.sh/v1", Kind: "EC2NodeClass"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}
	if mutate != nil {
		mutate(nc)
	}
	return nc
}

func ref(name string) apiv1.NodeClassReference {
	return apiv1.NodeClassReference{Group: "tailor.sh", Kind: "EC2NodeClass", Name: name}
}

func req(key string, op corev1.NodeSelectorOperator, values ...string) apiv1.NodeSelectorRequirementWithMinValues {
	return apiv1.NodeSelectorRequirementWithMinValues{Key: key, Operator: op, Values: values}
}

func TestMigrateConverts(t *testing.T) {
	cases := []struct {
		name         string
		input        string
		want         []runtime.Object
		wantWarnings []string // each must appear in one warning, and there must be no other warnings
	}{
		{
			name:  "the issue's Provisioner with an inline provider",
			input: issueProvisioner,
			want: []runtime.Object{
				nodePool("default", func(np *apiv1.NodePool) {
					np.Spec.Template.Spec.NodeClassRef = ref("default")
					np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{req("tailor.sh/capacity-type", corev1.NodeSelectorOpIn, "spot")}
					np.Spec.Template.Spec.ExpireAfter = apiv1.Never
					np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}
					np.Spec.Disruption = apiv1.Disruption{ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmpty, ConsolidateAfter: "30s"}
				}),
				nodeClass("default", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo-cluster"}}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo-cluster"}}}
					nc.Spec.InstanceProfile = "KarpenterNodeInstanceProfile-demo-cluster"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "al2@latest"}}
				}),
			},
			wantWarnings: []string{"Provisioner default: spec.provider.amiFamily: not set, so Karpenter used AL2"},
		},
		{
			name:  "Provisioner with consolidation, expiry, labels, taints, kubelet and a providerRef",
			input: provisionerWithProviderRef,
			want: []runtime.Object{
				nodePool("web", func(np *apiv1.NodePool) {
					np.Labels = map[string]string{"app.kubernetes.io/managed-by": "Helm"}
					np.Annotations = map[string]string{"team": "web"}
					np.Spec.Weight = ptr.To[int32](20)
					np.Spec.Template.ObjectMeta.Labels = map[string]string{"tailor.sh/capacity-type": "on-demand", "team": "web"}
					np.Spec.Template.ObjectMeta.Annotations = map[string]string{"example.com/owner": "web"}
					np.Spec.Template.Spec.Taints = apiv1.Taints{{Key: "example.com/web", Value: "true", Effect: corev1.TaintEffectNoSchedule}}
					np.Spec.Template.Spec.StartupTaints = apiv1.Taints{{Key: "example.com/cni", Effect: corev1.TaintEffectNoExecute}}
					np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{
						req("tailor.sh/instance-family", corev1.NodeSelectorOpIn, "m6i", "m7i"),
						req("tailor.sh/instance-cpu", corev1.NodeSelectorOpLt, "33"),
						req("kubernetes.io/arch", corev1.NodeSelectorOpIn, "amd64"),
						req("topology.kubernetes.io/zone", corev1.NodeSelectorOpNotIn, "us-east-1e"),
					}
					np.Spec.Template.Spec.NodeClassRef = ref("web-nodes")
					np.Spec.Template.Spec.ExpireAfter = "720h"
					np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100"), corev1.ResourceMemory: resource.MustParse("400Gi")}
					np.Spec.Disruption = apiv1.Disruption{ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized, ConsolidateAfter: "0s"}
				}),
				nodeClass("web-nodes", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{ID: "subnet-0a1"}, {ID: "subnet-0b2"}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"Name": "web-nodes", "karpenter.sh/discovery": "demo"}}}
					nc.Spec.InstanceProfile = "WebNodes"
					nc.Spec.AMIFamily = "AL2"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{
						{Name: "my-ami-*", Owner: "self", Tags: map[string]string{"team": "web"}},
						{Name: "my-ami-*", Owner: "123456789012", Tags: map[string]string{"team": "web"}},
					}
					nc.Spec.UserData = ptr.To("#!/bin/bash\necho hi")
					nc.Spec.Tags = map[string]string{"cost-center": "web"}
					nc.Spec.MetadataOptions = &apiv1.MetadataOptions{HTTPEndpoint: "enabled", HTTPProtocolIPv6: "disabled", HTTPPutResponseHopLimit: ptr.To[int64](2), HTTPTokens: "required"}
					nc.Spec.BlockDeviceMappings = []apiv1.BlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: apiv1.BlockDevice{
						VolumeSize: ptr.To(resource.MustParse("100Gi")), VolumeType: "gp3", IOPS: ptr.To[int64](4000), Throughput: ptr.To[int64](250),
						Encrypted: ptr.To(true), DeleteOnTermination: ptr.To(true), KMSKeyID: "alias/web",
					}}}
					nc.Spec.Kubelet = &apiv1.KubeletConfiguration{MaxPods: ptr.To[int32](58), SystemReserved: map[string]string{"cpu": "100m", "memory": "100Mi"}}
				}),
			},
			wantWarnings: []string{
				"Provisioner web: spec.labels.karpenter.sh/do-not-evict: no Tailor label stands for karpenter.sh/do-not-evict; dropped",
				"Provisioner web: spec.requirements[3].key: no Tailor label stands for karpenter.k8s.aws/instance-hypervisor; dropped the requirement (karpenter.k8s.aws/instance-hypervisor In nitro)",
				"Provisioner web: spec.kubeletConfiguration.clusterDNS: Tailor has no equivalent; dropped",
				"AWSNodeTemplate web-nodes: spec.tags.kubernetes.io/cluster/demo: Tailor tags its instances itself; dropped",
				"AWSNodeTemplate web-nodes: spec.launchTemplate: Tailor does not launch from launch templates",
				"AWSNodeTemplate web-nodes: spec.detailedMonitoring: Tailor has no equivalent; dropped",
			},
		},
		{
			name:  "Provisioner that never removes nodes",
			input: provisionerKeep,
			want: []runtime.Object{nodePool("keep", func(np *apiv1.NodePool) {
				np.Spec.Template.Spec.NodeClassRef = ref("default")
				np.Spec.Template.Spec.ExpireAfter = apiv1.Never
				np.Spec.Disruption = apiv1.Disruption{ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmpty, ConsolidateAfter: apiv1.Never}
			})},
		},
		{
			name:  "v1beta1 NodePool and EC2NodeClass",
			input: v1beta1NodePool,
			want: []runtime.Object{
				nodePool("general", func(np *apiv1.NodePool) {
					np.Spec.Template.ObjectMeta.Labels = map[string]string{"team": "platform"}
					np.Spec.Template.Spec.NodeClassRef = ref("general")
					np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{
						req("tailor.sh/capacity-type", corev1.NodeSelectorOpIn, "spot", "on-demand"),
						req("tailor.sh/instance-generation", corev1.NodeSelectorOpGt, "5"),
					}
					np.Spec.Template.Spec.ExpireAfter = "168h"
					np.Spec.Disruption = apiv1.Disruption{
						ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized,
						Budgets: []apiv1.Budget{
							{Nodes: "20%"},
							{Nodes: "0", Schedule: ptr.To("0 9 * * mon-fri"), Duration: &metav1.Duration{Duration: 8 * time.Hour}},
						},
					}
					np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500")}
					np.Spec.Weight = ptr.To[int32](10)
				}),
				nodeClass("general", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.Role = "KarpenterNodeRole-demo"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}}
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo"}}, {ID: "subnet-0abc"}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Name: "nodes"}, {ID: "sg-0abc"}}
					nc.Spec.AssociatePublicIPAddress = ptr.To(false)
					nc.Spec.Kubelet = &apiv1.KubeletConfiguration{MaxPods: ptr.To[int32](110), EvictionHard: map[string]string{"memory.available": "5%"}}
				}),
			},
			wantWarnings: []string{"EC2NodeClass general: spec.instanceStorePolicy: Tailor has no equivalent; dropped"},
		},
		{
			name:  "v1 NodePool and EC2NodeClass",
			input: v1NodePool,
			want: []runtime.Object{
				nodePool("default", func(np *apiv1.NodePool) {
					np.Spec.Template.Spec.NodeClassRef = ref("default")
					np.Spec.Template.Spec.ExpireAfter = "720h"
					np.Spec.Template.Spec.TerminationGracePeriod = &metav1.Duration{Duration: 48 * time.Hour}
					mv := req("tailor.sh/instance-family", corev1.NodeSelectorOpExists)
					mv.MinValues = ptr.To[int32](5)
					np.Spec.Template.Spec.Requirements = []apiv1.NodeSelectorRequirementWithMinValues{
						req("tailor.sh/instance-category", corev1.NodeSelectorOpIn, "c", "m", "r"), mv,
						req("kubernetes.io/os", corev1.NodeSelectorOpIn, "linux"),
					}
					np.Spec.Disruption = apiv1.Disruption{
						ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized,
						ConsolidateAfter:    "1m",
						Budgets:             []apiv1.Budget{{Nodes: "10%", Reasons: []apiv1.DisruptionReason{"Drifted", "Underutilized"}}},
					}
					np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000"), corev1.ResourceMemory: resource.MustParse("1000Gi")}
				}),
				nodeClass("default", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.Role = "KarpenterNodeRole-demo"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "bottlerocket@v1.20.3"}}
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo"}}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"karpenter.sh/discovery": "demo"}}}
					nc.Spec.Kubelet = &apiv1.KubeletConfiguration{PodsPerCore: ptr.To[int32](4), KubeReserved: map[string]string{"cpu": "200m"}}
					nc.Spec.BlockDeviceMappings = []apiv1.BlockDeviceMapping{{DeviceName: "/dev/xvdb", RootVolume: true,
						EBS: apiv1.BlockDevice{VolumeSize: ptr.To(resource.MustParse("50Gi")), VolumeType: "gp3"}}}
				}),
			},
			wantWarnings: []string{"EC2NodeClass default: spec.kubelet.imageGCHighThresholdPercent: Tailor has no equivalent; dropped"},
		},
		{
			name:  "two Provisioners share an AWSNodeTemplate but not their kubelet settings",
			input: sharedTemplate,
			want: func() []runtime.Object {
				pool := func(name, class string) *apiv1.NodePool {
					return nodePool(name, func(np *apiv1.NodePool) {
						np.Spec.Template.Spec.NodeClassRef = ref(class)
						np.Spec.Template.Spec.ExpireAfter = apiv1.Never
						np.Spec.Disruption = apiv1.Disruption{ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmpty, ConsolidateAfter: apiv1.Never}
					})
				}
				class := func(name string, maxPods int32) *apiv1.EC2NodeClass {
					return nodeClass(name, func(nc *apiv1.EC2NodeClass) {
						nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"env": "prod"}}}
						nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"env": "prod"}}}
						nc.Spec.InstanceProfile = "Nodes"
						nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "bottlerocket@latest"}}
						nc.Spec.Kubelet = &apiv1.KubeletConfiguration{MaxPods: ptr.To(maxPods)}
					})
				}
				return []runtime.Object{pool("a", "shared"), pool("b", "shared-b"), class("shared", 20), class("shared-b", 40)}
			}(),
			wantWarnings: []string{"Provisioner b: spec.kubeletConfiguration: EC2NodeClass shared already has other kubelet settings; NodePool b now uses a copy, EC2NodeClass shared-b"},
		},
		{
			name:  "inline provider named like an AWSNodeTemplate, in a List with a ConfigMap",
			input: inlineClash,
			want: []runtime.Object{
				nodeClass("default", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"a": "b"}}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"a": "b"}}}
					nc.Spec.InstanceProfile = "P"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}}
				}),
				nodePool("default", func(np *apiv1.NodePool) {
					np.Spec.Template.Spec.NodeClassRef = ref("default-provisioner")
					np.Spec.Template.Spec.ExpireAfter = apiv1.Never
					np.Spec.Disruption = apiv1.Disruption{ConsolidationPolicy: apiv1.ConsolidationPolicyWhenEmpty, ConsolidateAfter: apiv1.Never}
				}),
				nodeClass("default-provisioner", func(nc *apiv1.EC2NodeClass) {
					nc.Spec.SubnetSelectorTerms = []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"c": "d"}}}
					nc.Spec.SecurityGroupSelectorTerms = []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"c": "d"}}}
					nc.Spec.InstanceProfile = "Q"
					nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}}
				}),
			},
			wantWarnings: []string{
				"Provisioner default: spec.provider.amiFamily: Tailor has no Ubuntu AMIs",
				"Provisioner default: spec.provider: became EC2NodeClass default-provisioner, since default is taken",
				"document 3 (v1 ConfigMap karpenter-global-settings): skipped: not a Karpenter object",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Migrate([]byte(tc.input))
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if diff := cmp.Diff(tc.want, m.Objects); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			checkWarnings(t, tc.wantWarnings, m.Warnings)
		})
	}
}

func checkWarnings(t *testing.T, want, got []string) {
	t.Helper()
	matched := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if strings.Contains(g, w) {
				matched[i], found = true, true
			}
		}
		if !found {
			t.Errorf("missing warning %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	for i, g := range got {
		if !matched[i] {
			t.Errorf("unexpected warning %q", g)
		}
	}
}

func TestMigrateRejectsInvalidInput(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  string
	}{
		{"not YAML", "kind: [", "parsing YAML document 1"},
		{"empty input", "# nothing\n---\n", "the input holds no objects"},
		{"no kind", "apiVersion: karpenter.sh/v1alpha5\nmetadata: {name: x}\n", "document 1: apiVersion and kind are required"},
		{"no name", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nspec: {providerRef: {name: x}}\n", "metadata.name: required"},
		{"ttl as a string", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {providerRef: {name: x}, ttlSecondsAfterEmpty: \"30\"}\n",
			"spec.ttlSecondsAfterEmpty: want a whole number, got a string"},
		{"ttl and consolidation", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {providerRef: {name: x}, ttlSecondsAfterEmpty: 30, consolidation: {enabled: true}}\n",
			"spec.ttlSecondsAfterEmpty: cannot be set together with spec.consolidation.enabled"},
		{"provider and providerRef", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {providerRef: {name: x}, provider: {instanceProfile: p}}\n",
			"spec.provider: cannot be set together with spec.providerRef"},
		{"neither provider nor providerRef", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {}\n",
			"spec.providerRef: one of spec.provider or spec.providerRef is required"},
		{"bad operator", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {providerRef: {name: x}, requirements: [{key: a, operator: Has}]}\n",
			`spec.requirements[0].operator: want In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte or Lte, got "Has"`},
		{"bad duration", "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: x}\nspec: {template: {spec: {nodeClassRef: {name: x, kind: EC2NodeClass}, expireAfter: 30d}}}\n",
			`spec.template.spec.expireAfter: want a duration such as 720h, or Never, got "30d"`},
		{"bad quantity", "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: x}\nspec: {limits: {cpu: lots}, template: {spec: {nodeClassRef: {name: x}}}}\n",
			`spec.limits.cpu: want a quantity such as 100Gi, got "lots"`},
		{"unknown Karpenter version", "apiVersion: karpenter.sh/v1alpha4\nkind: Provisioner\nmetadata: {name: x}\n",
			"karpenter.sh/v1alpha4 Provisioner is not something migrate understands"},
		{"nodeClassRef to another kind", "apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata: {name: x}\nspec: {template: {spec: {nodeClassRef: {name: x, kind: AzureNodeClass}}}}\n",
			`spec.template.spec.nodeClassRef.kind: only EC2NodeClass can be migrated, got "AzureNodeClass"`},
		{"nothing to migrate", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "found no Karpenter Provisioner"},
		{"two NodePools with one name", "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {providerRef: {name: x}}\n---\n" +
			"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: x}\nspec: {template: {spec: {nodeClassRef: {name: x}}}}\n", `two NodePools would be named "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Migrate([]byte(tc.input))
			if err == nil {
				t.Fatalf("Migrate accepted the input and made %d objects; want an error containing %q", len(m.Objects), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRunMigrate(t *testing.T) {
	var out, warnings bytes.Buffer
	err := RunMigrate(MigrateOptions{File: "-", Stdin: strings.NewReader(issueProvisioner), Out: &out, Warnings: &warnings})
	if err != nil {
		t.Fatalf("RunMigrate: %v", err)
	}
	for _, want := range []string{
		"# From karpenter.sh/v1alpha5 Provisioner default\napiVersion: tailor.sh/v1\nkind: NodePool\n",
		"\n---\n# From karpenter.sh/v1alpha5 Provisioner default\napiVersion: tailor.sh/v1\nkind: EC2NodeClass\n",
		"consolidateAfter: 30s", "consolidationPolicy: WhenEmpty", "expireAfter: Never",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, unwanted := range []string{"status", "creationTimestamp"} {
		if strings.Contains(out.String(), unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, out.String())
		}
	}
	if got, want := warnings.String(), "warning: Provisioner default: spec.provider.amiFamily: not set, so Karpenter used AL2"; !strings.HasPrefix(got, want) {
		t.Errorf("warnings = %q, want them to start with %q", got, want)
	}

	out.Reset()
	err = RunMigrate(MigrateOptions{File: "-", Stdin: strings.NewReader("apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: x}\nspec: {}\n"), Out: &out, Warnings: &warnings})
	if err == nil || out.Len() != 0 {
		t.Errorf("invalid input: err = %v, output %q; want an error and no output", err, out.String())
	}
	if err := RunMigrate(MigrateOptions{File: t.TempDir() + "/missing.yaml", Out: &out, Warnings: &warnings}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: err = %v, want one naming the file", err)
	}
	if err := RunMigrate(MigrateOptions{Out: &out, Warnings: &warnings}); err == nil {
		t.Error("no file: want an error")
	}
}

// TestMigrateBalanced: Karpenter's Balanced policy and its consolidationThreshold (k) become Tailor's Balanced and
// consolidationThreshold.balanceFactor; a threshold without Balanced is refused, as Karpenter's validation does.
func TestMigrateBalanced(t *testing.T) {
	pool := func(disruption string) string {
		return "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: b}\nspec:\n  template:\n    spec:\n" +
			"      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}\n  disruption: " + disruption + "\n"
	}
	var out, warnings bytes.Buffer
	if err := RunMigrate(MigrateOptions{File: "-", Stdin: strings.NewReader(pool("{consolidationPolicy: Balanced, consolidationThreshold: 3}")), Out: &out, Warnings: &warnings}); err != nil {
		t.Fatalf("RunMigrate: %v", err)
	}
	for _, want := range []string{"consolidationPolicy: Balanced", "balanceFactor: 3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	err := RunMigrate(MigrateOptions{File: "-", Stdin: strings.NewReader(pool("{consolidationPolicy: WhenEmpty, consolidationThreshold: 2}")), Out: &out, Warnings: &warnings})
	if err == nil || !strings.Contains(err.Error(), "consolidationThreshold: is only for consolidationPolicy: Balanced") {
		t.Errorf("error %v, want consolidationThreshold refused without Balanced", err)
	}
}

// TestMigrateKarpenterV114: Karpenter v1.14 input — Gte/Lte requirements become Gt/Lt on the next integer, an
// ssmParameter AMI term Tailor cannot map is dropped with a warning (never emitted as {}), and the reserved capacity
// type is dropped with a warning.
func TestMigrateKarpenterV114(t *testing.T) {
	const in = `
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: v114}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: v114}
      requirements:
        - {key: karpenter.k8s.aws/instance-cpu, operator: Gte, values: ["4"]}
        - {key: karpenter.k8s.aws/instance-memory, operator: Lte, values: ["65536"]}
        - {key: karpenter.sh/capacity-type, operator: In, values: ["reserved", "on-demand"]}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: v114}
spec:
  role: KarpenterNodeRole
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  amiSelectorTerms:
    - ssmParameter: /aws/service/eks/optimized-ami/1.33/amazon-linux-2023/x86_64/standard/recommended/image_id
    - alias: al2023@latest
`
	var out, warnings bytes.Buffer
	if err := RunMigrate(MigrateOptions{File: "-", Stdin: strings.NewReader(in), Out: &out, Warnings: &warnings}); err != nil {
		t.Fatalf("RunMigrate: %v\nwarnings:\n%s", err, warnings.String())
	}
	for _, want := range []string{
		"operator: Gt\n", "- \"3\"", "operator: Lt\n", "- \"65537\"", "alias: al2023@latest",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range []string{"- {}", "reserved", "Gte", "Lte"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("output contains %q:\n%s", bad, out.String())
		}
	}
	for _, want := range []string{"ssmParameter", "reserved"} {
		if !strings.Contains(warnings.String(), want) {
			t.Errorf("no warning mentions %s:\n%s", want, warnings.String())
		}
	}
}
