package v1_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

const baseNodePool = `
apiVersion: tailor.sh/v1
kind: NodePool
metadata:
  name: case
spec:
  template:
    spec:
      nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
      requirements:
        - {key: tailor.sh/capacity-type, operator: In, values: [spot]}
`

const baseNodeClaim = `
apiVersion: tailor.sh/v1
kind: NodeClaim
metadata:
  name: case
spec:
  nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: default}
  requirements:
    - {key: node.kubernetes.io/instance-type, operator: In, values: [m7i.large]}
  resources:
    requests: {cpu: "1", memory: 2Gi}
`

const baseEC2NodeClass = `
apiVersion: tailor.sh/v1
kind: EC2NodeClass
metadata:
  name: case
spec:
  subnetSelectorTerms:
    - tags: {tailor.sh/discovery: demo}
  securityGroupSelectorTerms:
    - tags: {tailor.sh/discovery: demo}
  role: TailorNodeRole
  amiSelectorTerms:
    - alias: al2023@latest
`

const baseNodeOverlay = `
apiVersion: tailor.sh/v1
kind: NodeOverlay
metadata:
  name: case
spec:
  requirements:
    - {key: tailor.sh/instance-family, operator: In, values: [m7i]}
    - {key: tailor.sh/capacity-type, operator: In, values: [on-demand]}
  priceAdjustment: "-30%"
`

// requirement is a NodePool patch that replaces the requirements with one.
func requirement(req string) string {
	return `{spec: {template: {spec: {requirements: [` + req + `]}}}}`
}

// templateLabels is a NodePool patch that sets the template's labels.
func templateLabels(labels string) string {
	return `{spec: {template: {metadata: {labels: ` + labels + `}}}}`
}

const (
	req0      = "spec.template.spec.requirements[0]"
	tmplSpec  = "spec.template.spec"
	budget0   = "spec.disruption.budgets[0]"
	threshold = "spec.disruption.consolidationThreshold"
)

// TestInvalidObjectsAreRejected sends objects that break one rule each to the real API server and checks that it
// refuses them with a message that names the field and says what is allowed.
func TestInvalidObjectsAreRejected(t *testing.T) {
	cases := []struct {
		name  string
		base  string
		patch string
		field string // the field the API server blames
		msg   string // part of its message
	}{
		// NodePool requirements.
		{"bad operator", baseNodePool, requirement(`{key: tailor.sh/instance-cpu, operator: Bigger, values: ["4"]}`),
			req0 + ".operator", `Unsupported value: "Bigger": supported values: "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"`},
		{"Gt with two values", baseNodePool, requirement(`{key: tailor.sh/instance-cpu, operator: Gt, values: ["4", "8"]}`),
			req0 + ".values", "values must hold exactly one integer"},
		{"Lt with a non-integer", baseNodePool, requirement(`{key: tailor.sh/instance-cpu, operator: Lt, values: ["4.5"]}`),
			req0 + ".values", "values must hold exactly one integer"},
		{"Gt without values", baseNodePool, requirement(`{key: tailor.sh/instance-cpu, operator: Gt}`),
			req0 + ".values", "values must hold exactly one integer"},
		{"In without values", baseNodePool, requirement(`{key: tailor.sh/instance-family, operator: In, values: []}`),
			req0 + ".values", "values must hold at least one value when operator is In or NotIn"},
		{"NotIn without values", baseNodePool, requirement(`{key: tailor.sh/instance-family, operator: NotIn}`),
			req0 + ".values", "values must hold at least one value when operator is In or NotIn"},
		{"Exists with values", baseNodePool, requirement(`{key: tailor.sh/instance-family, operator: Exists, values: [m7i]}`),
			req0 + ".values", "values must be empty when operator is Exists or DoesNotExist"},
		{"minValues larger than values", baseNodePool, requirement(`{key: tailor.sh/instance-family, operator: In, values: [m7i, c7i], minValues: 3}`),
			req0 + ".minValues", "minValues must not be larger than the number of values when operator is In"},
		{"minValues zero", baseNodePool, requirement(`{key: tailor.sh/instance-family, operator: Exists, minValues: 0}`),
			req0 + ".minValues", "should be greater than or equal to 1"},
		{"requirement on kubernetes.io/hostname", baseNodePool, requirement(`{key: kubernetes.io/hostname, operator: In, values: [node-1]}`),
			req0 + ".key", "key kubernetes.io/hostname is restricted"},
		{"requirement on an unknown tailor.sh key", baseNodePool, requirement(`{key: tailor.sh/instance-colour, operator: Exists}`),
			req0 + ".key", "key in the tailor.sh domain must be one of the well-known labels: tailor.sh/nodepool, tailor.sh/capacity-type"},
		{"requirement on tailor.sh/registered", baseNodePool, requirement(`{key: tailor.sh/registered, operator: Exists}`),
			req0 + ".key", "key in the tailor.sh domain must be one of the well-known labels"},
		{"requirement on a tailor.sh subdomain", baseNodePool, requirement(`{key: x.tailor.sh/thing, operator: Exists}`),
			req0 + ".key", "key in the tailor.sh domain must be one of the well-known labels"},
		{"requirement on an unknown kubernetes.io key", baseNodePool, requirement(`{key: kubernetes.io/role, operator: Exists}`),
			req0 + ".key", "key in the kubernetes.io or k8s.io domain must be a well-known node label"},
		{"requirement key that is no label key", baseNodePool, requirement(`{key: "my key", operator: Exists}`),
			req0 + ".key", "key must be a label key"},
		{"requirement value that is no label value", baseNodePool, requirement(`{key: example.com/team, operator: In, values: ["data team"]}`),
			req0 + ".values[0]", "should match"},

		// NodePool spec.
		{"weight 0", baseNodePool, `{spec: {weight: 0}}`, "spec.weight", "should be greater than or equal to 1"},
		{"weight 101", baseNodePool, `{spec: {weight: 101}}`, "spec.weight", "should be less than or equal to 100"},
		{"negative cpu limit", baseNodePool, `{spec: {limits: {cpu: "-1"}}}`, "spec.limits", "limits must be zero or positive quantities"},
		{"negative integer memory limit", baseNodePool, `{spec: {limits: {memory: -5}}}`, "spec.limits", "limits must be zero or positive quantities"},
		{"limit that is no quantity", baseNodePool, `{spec: {limits: {cpu: lots}}}`, "spec.limits.cpu", "should match"},
		{"missing template", baseNodePool, `{spec: {template: null, weight: 10}}`, "spec.template", "Required value"},
		{"missing nodeClassRef", baseNodePool, `{spec: {template: {spec: {nodeClassRef: null}}}}`, tmplSpec + ".nodeClassRef", "Required value"},
		{"nodeClassRef to a Karpenter kind", baseNodePool, `{spec: {template: {spec: {nodeClassRef: {kind: AWSNodeTemplate}}}}}`,
			tmplSpec + ".nodeClassRef.kind", `supported values: "EC2NodeClass"`},
		{"nodeClassRef to a Karpenter group", baseNodePool, `{spec: {template: {spec: {nodeClassRef: {group: karpenter.k8s.aws}}}}}`,
			tmplSpec + ".nodeClassRef.group", `supported values: "tailor.sh"`},
		{"nodeClassRef name that is no DNS name", baseNodePool, `{spec: {template: {spec: {nodeClassRef: {name: Default_Class}}}}}`,
			tmplSpec + ".nodeClassRef.name", "name must be a DNS subdomain"},
		{"expireAfter in days", baseNodePool, `{spec: {template: {spec: {expireAfter: 30d}}}}`,
			tmplSpec + ".expireAfter", "expireAfter must be a duration of hours, minutes and seconds such as 720h, 1h30m or 90s, or Never"},
		{"terminationGracePeriod Never", baseNodePool, `{spec: {template: {spec: {terminationGracePeriod: Never}}}}`,
			tmplSpec + ".terminationGracePeriod", "terminationGracePeriod must be a duration"},
		{"taint with a bad effect", baseNodePool, `{spec: {template: {spec: {taints: [{key: example.com/team, value: data, effect: NoRun}]}}}}`,
			tmplSpec + ".taints", "taint effect must be NoSchedule, PreferNoSchedule or NoExecute"},
		{"startup taint without a key", baseNodePool, `{spec: {template: {spec: {startupTaints: [{key: "", effect: NoSchedule}]}}}}`,
			tmplSpec + ".startupTaints", "taint key must be a qualified name"},
		{"taint value too long", baseNodePool, `{spec: {template: {spec: {taints: [{key: a, value: "` + strings.Repeat("v", 64) + `", effect: NoSchedule}]}}}}`,
			tmplSpec + ".taints", "taint value must be at most 63 characters"},

		// NodePool template labels.
		{"label kubernetes.io/hostname", baseNodePool, templateLabels(`{kubernetes.io/hostname: node-1}`),
			"spec.template.metadata.labels", "labels must not set kubernetes.io/hostname"},
		{"label tailor.sh/nodepool", baseNodePool, templateLabels(`{tailor.sh/nodepool: other}`),
			"spec.template.metadata.labels", "labels must not set tailor.sh/nodepool"},
		{"label with an unknown tailor.sh key", baseNodePool, templateLabels(`{tailor.sh/initialized: "true"}`),
			"spec.template.metadata.labels", "labels in the tailor.sh domain must be well-known labels"},
		{"label with an unknown k8s.io key", baseNodePool, templateLabels(`{k8s.io/owner: me}`),
			"spec.template.metadata.labels", "labels in the kubernetes.io or k8s.io domain must be well-known node labels"},
		{"label key that is no label key", baseNodePool, templateLabels(`{"-team": data}`),
			"spec.template.metadata.labels", "labels keys must be label keys"},
		{"label value too long", baseNodePool, templateLabels(`{team: "` + strings.Repeat("x", 64) + `"}`),
			"spec.template.metadata.labels", "labels values must be at most 63 characters"},

		// NodePool disruption.
		{"budget of 110%", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "110%"}]}}}`,
			budget0 + ".nodes", "nodes must be a count such as 5 or a percentage from 0% to 100% such as 10%"},
		{"budget that is neither count nor percentage", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "ten"}]}}}`,
			budget0 + ".nodes", "nodes must be a count"},
		{"cron with three fields", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "0", schedule: "* * *", duration: 1h}]}}}`,
			budget0 + ".schedule", "schedule must be a cron expression of five fields"},
		{"cron minute 61", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "0", schedule: "61 * * * *", duration: 1h}]}}}`,
			budget0 + ".schedule", "schedule must be a cron expression"},
		{"schedule without duration", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "0", schedule: "@daily"}]}}}`,
			budget0, "schedule and duration must be set together"},
		{"duration without schedule", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "0", duration: 1h}]}}}`,
			budget0, "schedule and duration must be set together"},
		{"budget duration in days", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "0", schedule: "@daily", duration: 1d}]}}}`,
			budget0 + ".duration", "duration must be a duration of hours, minutes and seconds"},
		{"unknown budget reason", baseNodePool, `{spec: {disruption: {budgets: [{nodes: "1", reasons: [Expired]}]}}}`,
			budget0 + ".reasons[0]", `supported values: "Empty", "Underutilized", "Drifted"`},
		{"unknown consolidationPolicy", baseNodePool, `{spec: {disruption: {consolidationPolicy: Always}}}`,
			"spec.disruption.consolidationPolicy", `supported values: "WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"`},
		{"consolidationThreshold savings over 100%", baseNodePool, `{spec: {disruption: {consolidationThreshold: {savings: "110%"}}}}`,
			threshold + ".savings", "consolidationThreshold.savings must be a percentage from 0% to 100% such as 10% or 2.5%"},
		{"consolidationThreshold savings without %", baseNodePool, `{spec: {disruption: {consolidationThreshold: {savings: "0.1"}}}}`,
			threshold + ".savings", "consolidationThreshold.savings must be a percentage"},
		{"consolidationThreshold minimumHourly negative", baseNodePool, `{spec: {disruption: {consolidationThreshold: {minimumHourly: "-0.01"}}}}`,
			threshold + ".minimumHourly", "consolidationThreshold.minimumHourly must be a non-negative decimal number of dollars per hour such as 0.01"},
		{"consolidationThreshold minimumHourly with a unit", baseNodePool, `{spec: {disruption: {consolidationThreshold: {minimumHourly: "$0.01"}}}}`,
			threshold + ".minimumHourly", "consolidationThreshold.minimumHourly must be a non-negative decimal"},
		{"balanceFactor 0", baseNodePool, `{spec: {disruption: {consolidationPolicy: Balanced, consolidationThreshold: {balanceFactor: 0}}}}`,
			threshold + ".balanceFactor", "should be greater than or equal to 1"},
		{"balanceFactor 11", baseNodePool, `{spec: {disruption: {consolidationPolicy: Balanced, consolidationThreshold: {balanceFactor: 11}}}}`,
			threshold + ".balanceFactor", "should be less than or equal to 10"},
		{"balanceFactor without Balanced", baseNodePool, `{spec: {disruption: {consolidationPolicy: WhenEmptyOrUnderutilized, consolidationThreshold: {balanceFactor: 2}}}}`,
			"spec.disruption", "consolidationThreshold.balanceFactor is only for consolidationPolicy Balanced"},
		{"consolidateAfter that is no duration", baseNodePool, `{spec: {disruption: {consolidateAfter: soon}}}`,
			"spec.disruption.consolidateAfter", "consolidateAfter must be a duration of hours, minutes and seconds such as 30s or 5m, or Never"},

		{"negative replicas", baseNodePool, `{spec: {replicas: -1}}`, "spec.replicas", "should be greater than or equal to 0"},

		// NodeOverlay.
		{"overlay with price and adjustment", baseNodeOverlay, `{spec: {price: "0.05"}}`,
			"spec", "set exactly one of price (an absolute $/h such as 0.0832) and priceAdjustment"},
		{"overlay with neither", baseNodeOverlay, `{spec: {priceAdjustment: null}}`,
			"spec", "set exactly one of price"},
		{"overlay price with a unit", baseNodeOverlay, `{spec: {priceAdjustment: null, price: "$0.05"}}`,
			"spec.price", "price must be a non-negative decimal number of dollars per hour"},
		{"overlay adjustment without a sign", baseNodeOverlay, `{spec: {priceAdjustment: "30%"}}`,
			"spec.priceAdjustment", "priceAdjustment must be a signed percentage such as -30%"},
		{"overlay adjustment below -100%", baseNodeOverlay, `{spec: {priceAdjustment: "-150%"}}`,
			"spec.priceAdjustment", "priceAdjustment may lower a price by at most -100%"},
		{"overlay requirement with minValues", baseNodeOverlay, `{spec: {requirements: [{key: tailor.sh/instance-family, operator: In, values: [m7i], minValues: 1}]}}`,
			"spec.requirements", "requirements[].minValues has no meaning in a NodeOverlay"},
		{"overlay weight 0", baseNodeOverlay, `{spec: {weight: 0}}`, "spec.weight", "should be greater than or equal to 1"},

		// NodeClaim.
		{"NodeClaim without nodeClassRef", baseNodeClaim, `{spec: {nodeClassRef: null}}`, "spec.nodeClassRef", "Required value"},
		{"NodeClaim with negative requests", baseNodeClaim, `{spec: {resources: {requests: {cpu: "-2"}}}}`,
			"spec.resources.requests", "requests must be zero or positive quantities"},
		{"NodeClaim with Gt on two values", baseNodeClaim, `{spec: {requirements: [{key: tailor.sh/instance-memory, operator: Gt, values: ["1", "2"]}]}}`,
			"spec.requirements[0].values", "values must hold exactly one integer"},
		{"NodeClaim requirement on hostname", baseNodeClaim, `{spec: {requirements: [{key: kubernetes.io/hostname, operator: Exists}]}}`,
			"spec.requirements[0].key", "key kubernetes.io/hostname is restricted"},
		{"NodeClaim expireAfter negative", baseNodeClaim, `{spec: {expireAfter: "-1h"}}`,
			"spec.expireAfter", "expireAfter must be a duration"},

		// EC2NodeClass.
		{"both role and instanceProfile", baseEC2NodeClass, `{spec: {instanceProfile: TailorNodeInstanceProfile}}`,
			"spec", "role and instanceProfile are mutually exclusive: set exactly one of them"},
		{"neither role nor instanceProfile", baseEC2NodeClass, `{spec: {role: null}}`,
			"spec", "one of role or instanceProfile is required"},
		{"no subnet selector", baseEC2NodeClass, `{spec: {subnetSelectorTerms: null}}`, "spec.subnetSelectorTerms", "Required value"},
		{"empty subnet selector list", baseEC2NodeClass, `{spec: {subnetSelectorTerms: []}}`, "spec.subnetSelectorTerms", "should have at least 1 items"},
		{"empty subnet selector term", baseEC2NodeClass, `{spec: {subnetSelectorTerms: [{}]}}`,
			"spec.subnetSelectorTerms[0]", "subnetSelectorTerms[] must each set tags, name or id"},
		{"subnet id combined with tags", baseEC2NodeClass, `{spec: {subnetSelectorTerms: [{id: subnet-0abc, tags: {a: b}}]}}`,
			"spec.subnetSelectorTerms[0]", "subnetSelectorTerms[].id selects one subnet and cannot be combined with tags or name"},
		{"subnet id that is no subnet id", baseEC2NodeClass, `{spec: {subnetSelectorTerms: [{id: sg-0abc}]}}`,
			"spec.subnetSelectorTerms[0].id", "id must be a subnet id such as subnet-0123456789abcdef0"},
		{"subnet selector with empty tags", baseEC2NodeClass, `{spec: {subnetSelectorTerms: [{tags: {}}]}}`,
			"spec.subnetSelectorTerms[0].tags", "should have at least 1 properties"},
		{"empty security group selector term", baseEC2NodeClass, `{spec: {securityGroupSelectorTerms: [{}]}}`,
			"spec.securityGroupSelectorTerms[0]", "securityGroupSelectorTerms[] must each set tags, name or id"},
		{"security group tag with empty value", baseEC2NodeClass, `{spec: {securityGroupSelectorTerms: [{tags: {tailor.sh/discovery: ""}}]}}`,
			"spec.securityGroupSelectorTerms[0].tags", `tags keys and values must not be empty; use "*" to match any value`},
		{"no AMI selector", baseEC2NodeClass, `{spec: {amiSelectorTerms: []}}`, "spec.amiSelectorTerms", "should have at least 1 items"},
		{"unknown AMI alias family", baseEC2NodeClass, `{spec: {amiSelectorTerms: [{alias: ubuntu@latest}]}}`,
			"spec.amiSelectorTerms[0].alias", "alias must be family@version: family is al2023, al2 or bottlerocket"},
		{"AMI alias next to other terms", baseEC2NodeClass, `{spec: {amiSelectorTerms: [{alias: al2023@latest}, {id: ami-0abc}]}}`,
			"spec.amiSelectorTerms", "amiSelectorTerms with an alias must hold only that one term"},
		{"AMI alias and id in one term", baseEC2NodeClass, `{spec: {amiSelectorTerms: [{alias: al2023@latest, id: ami-0abc}]}}`,
			"spec.amiSelectorTerms[0]", "amiSelectorTerms[].alias cannot be combined with id, name, owner or tags"},
		{"amiFamily with an alias", baseEC2NodeClass, `{spec: {amiFamily: AL2023}}`,
			"spec", "amiFamily must not be set when amiSelectorTerms holds an alias"},
		{"hop limit 0", baseEC2NodeClass, `{spec: {metadataOptions: {httpPutResponseHopLimit: 0}}}`,
			"spec.metadataOptions.httpPutResponseHopLimit", "should be greater than or equal to 1"},
		{"httpTokens sometimes", baseEC2NodeClass, `{spec: {metadataOptions: {httpTokens: sometimes}}}`,
			"spec.metadataOptions.httpTokens", `supported values: "required", "optional"`},
		{"two root volumes", baseEC2NodeClass,
			`{spec: {blockDeviceMappings: [{deviceName: /dev/xvda, rootVolume: true, ebs: {volumeSize: 20Gi}}, {deviceName: /dev/xvdb, rootVolume: true, ebs: {volumeSize: 20Gi}}]}}`,
			"spec.blockDeviceMappings", "blockDeviceMappings may mark at most one mapping as rootVolume"},
		{"volume of 100Ti", baseEC2NodeClass, `{spec: {blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: 100Ti}}]}}`,
			"spec.blockDeviceMappings[0].ebs.volumeSize", "volumeSize must be a quantity from 1Gi to 64Ti"},
		{"volume of 512 bytes", baseEC2NodeClass, `{spec: {blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: 512}}]}}`,
			"spec.blockDeviceMappings[0].ebs.volumeSize", "volumeSize must be a quantity from 1Gi to 64Ti"},
		{"iops on gp2", baseEC2NodeClass, `{spec: {blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeType: gp2, iops: 3000}}]}}`,
			"spec.blockDeviceMappings[0].ebs", "ebs.iops may only be set for volumeType io1, io2 or gp3"},
		{"systemReserved gpu", baseEC2NodeClass, `{spec: {kubelet: {systemReserved: {nvidia.com/gpu: "1"}}}}`,
			"spec.kubelet.systemReserved", "systemReserved keys must be cpu, memory, ephemeral-storage or pid"},
		{"kubeReserved negative", baseEC2NodeClass, `{spec: {kubelet: {kubeReserved: {memory: "-1Gi"}}}}`,
			"spec.kubelet.kubeReserved", "kubeReserved values must be zero or positive quantities"},
		{"evictionHard that is no quantity", baseEC2NodeClass, `{spec: {kubelet: {evictionHard: {memory.available: lots}}}}`,
			"spec.kubelet.evictionHard", "evictionHard values must be a percentage such as 10% or a zero or positive quantity"},
		{"evictionHard unknown signal", baseEC2NodeClass, `{spec: {kubelet: {evictionHard: {memory.free: 10%}}}}`,
			"spec.kubelet.evictionHard", "evictionHard keys must be memory.available, nodefs.available"},
		{"maxPods 0", baseEC2NodeClass, `{spec: {kubelet: {maxPods: 0}}}`, "spec.kubelet.maxPods", "should be greater than or equal to 1"},
		{"tag Tailor owns", baseEC2NodeClass, `{spec: {tags: {tailor.sh/nodepool: mine}}}`,
			"spec.tags", "tags must not use the keys Tailor sets itself"},
		{"cluster ownership tag", baseEC2NodeClass, `{spec: {tags: {kubernetes.io/cluster/demo: owned}}}`,
			"spec.tags", "tags must not use the keys Tailor sets itself"},
		{"empty capacity reservation term", baseEC2NodeClass, `{spec: {capacityReservationSelectorTerms: [{}]}}`,
			"spec.capacityReservationSelectorTerms[0]", "capacityReservationSelectorTerms[] must each set id or tags"},
		{"capacity reservation id with tags", baseEC2NodeClass, `{spec: {capacityReservationSelectorTerms: [{id: cr-0abc, tags: {a: b}}]}}`,
			"spec.capacityReservationSelectorTerms[0]", "capacityReservationSelectorTerms[].id selects one reservation and cannot be combined with tags or ownerID"},
		{"capacity reservation ownerID alone", baseEC2NodeClass, `{spec: {capacityReservationSelectorTerms: [{ownerID: "123456789012"}]}}`,
			"spec.capacityReservationSelectorTerms[0]", "capacityReservationSelectorTerms[].ownerID narrows a tags term: set tags with it"},
		{"capacity reservation id that is no reservation id", baseEC2NodeClass, `{spec: {capacityReservationSelectorTerms: [{id: subnet-0abc}]}}`,
			"spec.capacityReservationSelectorTerms[0].id", "capacityReservationSelectorTerms[].id must be a capacity reservation id such as cr-0123456789abcdef0"},
		{"capacity reservation ownerID not an account", baseEC2NodeClass, `{spec: {capacityReservationSelectorTerms: [{tags: {a: b}, ownerID: "12345"}]}}`,
			"spec.capacityReservationSelectorTerms[0].ownerID", "capacityReservationSelectorTerms[].ownerID must be a 12-digit AWS account id"},
	}
	if len(cases) < 30 {
		t.Fatalf("the issue asks for at least 30 invalid objects, the table has %d", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := mergePatch(t, object(t, tc.base), tc.patch)
			err := kube.Create(t.Context(), obj, client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted the object; want it rejected on %s with %q", tc.field, tc.msg)
			}
			if !hasCause(err, tc.field, tc.msg) {
				t.Fatalf("want a cause on %s containing %q; got %v\ncauses:\n%s", tc.field, tc.msg, err, causes(err))
			}
			// The message a user sees (kubectl prints err.Error()) names the field.
			if !strings.Contains(err.Error(), tc.field+": ") {
				t.Errorf("error text does not name %s: %v", tc.field, err)
			}
		})
	}
}

// TestConsolidationThresholdsAccepted: the threshold and policy forms the docs show are accepted.
func TestConsolidationThresholdsAccepted(t *testing.T) {
	for _, patch := range []string{
		`{spec: {disruption: {consolidationThreshold: {savings: "0%", minimumHourly: "0"}}}}`,
		`{spec: {disruption: {consolidationThreshold: {savings: "2.5%"}}}}`,
		`{spec: {disruption: {consolidationThreshold: {savings: "100%", minimumHourly: "1.25"}}}}`,
		`{spec: {disruption: {consolidationPolicy: Balanced}}}`,
		`{spec: {disruption: {consolidationPolicy: Balanced, consolidationThreshold: {balanceFactor: 3, savings: "5%"}}}}`,
	} {
		obj := mergePatch(t, object(t, baseNodePool), patch)
		if err := kube.Create(t.Context(), obj, client.DryRunAll); err != nil {
			t.Errorf("%s rejected: %v\n%s", patch, err, causes(err))
		}
	}
}

// TestBaseObjectsAreValid guards the table above: each base object must be accepted, so every rejection comes from
// the case's patch.
func TestBaseObjectsAreValid(t *testing.T) {
	for _, base := range []string{baseNodePool, baseNodeClaim, baseEC2NodeClass, baseNodeOverlay} {
		obj := object(t, base)
		if err := kube.Create(t.Context(), obj, client.DryRunAll); err != nil {
			t.Errorf("%s rejected: %v\n%s", obj.GetKind(), err, causes(err))
		}
	}
}
