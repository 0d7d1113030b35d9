package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodePool describes a family of nodes Tailor may launch for pending pods: which instance types, zones and capacity
// types are allowed, with which labels and taints, up to which limits, and when Tailor may take them away again.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=nodepools,scope=Cluster,categories=tailor
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.nodes
// +kubebuilder:printcolumn:name="NodeClass",type="string",JSONPath=".spec.template.spec.nodeClassRef.name"
// +kubebuilder:printcolumn:name="Nodes",type="integer",JSONPath=".status.nodes"
// +kubebuilder:printcolumn:name="Replicas",type="integer",JSONPath=".spec.replicas",priority=1
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Weight",type="integer",JSONPath=".spec.weight"
// +kubebuilder:printcolumn:name="CPU",type="string",JSONPath=".status.resources.cpu"
// +kubebuilder:printcolumn:name="Memory",type="string",JSONPath=".status.resources.memory"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type NodePool struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the NodePool allows.
	// +required
	Spec NodePoolSpec `json:"spec"`
	// status is what the NodePool's nodes use now.
	// +optional
	Status NodePoolStatus `json:"status,omitempty"`
}

// NodePoolList is a list of NodePools.
//
// +kubebuilder:object:root=true
type NodePoolList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodePool `json:"items"`
}

// NodePoolSpec is what a NodePool allows: the shape of its nodes, how they may be disrupted, how much they may add
// up to, and how the NodePool ranks against others.
// +kubebuilder:validation:XValidation:rule="has(self.replicas) == has(oldSelf.replicas)",message="replicas cannot be added to or removed from an existing NodePool: a NodePool is static (replicas set) or dynamic for its whole life; create a new NodePool instead"
type NodePoolSpec struct {
	// replicas makes the NodePool static: Tailor keeps exactly this many nodes, whether or not pods need them (the
	// cheapest instance type the requirements allow), and never consolidates them; drift and expiry still replace
	// them. `kubectl scale nodepool NAME --replicas N` sets it. Unset: the NodePool is dynamic and launches nodes for
	// pending pods. It can be neither added nor removed after creation.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Replicas *int64 `json:"replicas,omitempty"`
	// template is the NodeClaim this NodePool stamps out for each node.
	// +required
	Template NodeClaimTemplate `json:"template"`
	// disruption says when Tailor may remove this NodePool's nodes, and how many at a time.
	// +kubebuilder:default={}
	// +optional
	Disruption Disruption `json:"disruption"`
	// limits cap what this NodePool's nodes may add up to: cpu, memory, nodes (a count), or any extended resource.
	// Tailor launches no node that would cross a limit. Unset means no limit.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, type(self[k]) == string ? !self[k].startsWith('-') : self[k] >= 0)",message="limits must be zero or positive quantities, such as 1000 or 4000Gi"
	// +optional
	Limits corev1.ResourceList `json:"limits,omitempty"`
	// weight ranks NodePools from 1 to 100: Tailor tries the highest weight first. Unset ranks below every weight.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	Weight *int32 `json:"weight,omitempty"`
}

// NodeClaimTemplate is the NodeClaim a NodePool creates for each node, less what Tailor fills in per node.
type NodeClaimTemplate struct {
	// metadata holds the labels and annotations the nodes get.
	// +optional
	ObjectMeta NodeClaimTemplateObjectMeta `json:"metadata,omitzero"`
	// spec is the node's shape.
	// +required
	Spec NodeClaimTemplateSpec `json:"spec"`
}

// NodeClaimTemplateObjectMeta is the metadata of a NodePool's nodes.
type NodeClaimTemplateObjectMeta struct {
	// labels are put on the NodeClaim and the node. Each label also acts as a requirement with operator In. Keys in
	// the tailor.sh, kubernetes.io and k8s.io domains are limited to the well-known labels; tailor.sh/nodepool and
	// kubernetes.io/hostname are set by Tailor and the kubelet.
	// +kubebuilder:validation:MaxProperties=100
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && k.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'))",message="labels keys must be label keys: an optional DNS subdomain prefix and '/', then a name of 1-63 alphanumerics, '-', '_' or '.' that starts and ends with an alphanumeric"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 63)",message="labels values must be at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'kubernetes.io/hostname')",message="labels must not set kubernetes.io/hostname: the kubelet sets it"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k != 'tailor.sh/nodepool')",message="labels must not set tailor.sh/nodepool: Tailor sets it to the NodePool's name"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['node.kubernetes.io/instance-type', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'kubernetes.io/arch', 'kubernetes.io/os', 'tailor.sh/capacity-type', 'tailor.sh/instance-category', 'tailor.sh/instance-family', 'tailor.sh/instance-generation', 'tailor.sh/instance-size', 'tailor.sh/instance-cpu', 'tailor.sh/instance-memory', 'tailor.sh/instance-gpu-count', 'tailor.sh/instance-gpu-name', 'tailor.sh/instance-gpu-memory', 'tailor.sh/instance-gpu-manufacturer'] || !k.matches('^([^/]*[.])?tailor[.]sh/'))",message="labels in the tailor.sh domain must be well-known labels: tailor.sh/capacity-type, tailor.sh/instance-category, tailor.sh/instance-family, tailor.sh/instance-generation, tailor.sh/instance-size, tailor.sh/instance-cpu, tailor.sh/instance-memory, tailor.sh/instance-gpu-count, tailor.sh/instance-gpu-name, tailor.sh/instance-gpu-memory"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k in ['node.kubernetes.io/instance-type', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region', 'kubernetes.io/arch', 'kubernetes.io/os', 'tailor.sh/capacity-type', 'tailor.sh/instance-category', 'tailor.sh/instance-family', 'tailor.sh/instance-generation', 'tailor.sh/instance-size', 'tailor.sh/instance-cpu', 'tailor.sh/instance-memory', 'tailor.sh/instance-gpu-count', 'tailor.sh/instance-gpu-name', 'tailor.sh/instance-gpu-memory', 'tailor.sh/instance-gpu-manufacturer'] || !k.matches('^([^/]*[.])?(kubernetes|k8s)[.]io/') || k.matches('^([^/]*[.])?(node|node-restriction)[.]kubernetes[.]io/'))",message="labels in the kubernetes.io or k8s.io domain must be well-known node labels (node.kubernetes.io/instance-type, topology.kubernetes.io/zone, topology.kubernetes.io/region, kubernetes.io/arch, kubernetes.io/os) or lie under node.kubernetes.io or node-restriction.kubernetes.io"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations are put on the NodeClaim and the node.
	// +kubebuilder:validation:MaxProperties=100
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// NodeClaimTemplateSpec is the shape of a NodePool's nodes. It is a NodeClaimSpec without the resources, which
// Tailor fills in per node.
type NodeClaimTemplateSpec struct {
	// requirements constrain the instance type, zone, capacity type and any other node label the nodes may have.
	// Tailor launches the cheapest offerings that meet all of them and fit the pending pods.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Requirements []NodeSelectorRequirementWithMinValues `json:"requirements,omitempty"`
	// taints are put on every node when it registers and stay there; only pods that tolerate them land on it.
	// +optional
	Taints Taints `json:"taints,omitempty"`
	// startupTaints are put on every node when it registers and are expected to be removed by something else (a CNI
	// or device plugin daemon, say). Pods need not tolerate them to be scheduled here.
	// +optional
	StartupTaints Taints `json:"startupTaints,omitempty"`
	// nodeClassRef names the EC2NodeClass that holds the AWS details of the nodes.
	// +required
	NodeClassRef NodeClassReference `json:"nodeClassRef"`
	// expireAfter is how long a node may live before Tailor replaces it, such as "720h", or "Never".
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self == 'Never' || self.matches('^([0-9]+(h|m|s))+$')",message="expireAfter must be a duration of hours, minutes and seconds such as 720h, 1h30m or 90s, or Never"
	// +optional
	ExpireAfter NillableDuration `json:"expireAfter,omitempty"`
	// terminationGracePeriod is the longest Tailor waits for a node to drain once it decided to remove it; after that
	// it deletes the remaining pods, ignoring PodDisruptionBudgets and the do-not-disrupt annotation. Unset waits
	// forever.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(h|m|s))+$')",message="terminationGracePeriod must be a duration of hours, minutes and seconds such as 24h or 1h30m0s"
	// +optional
	TerminationGracePeriod *metav1.Duration `json:"terminationGracePeriod,omitempty"`
}

// ConsolidationPolicy says which nodes consolidation may remove or replace.
type ConsolidationPolicy string

// Consolidation policies.
const (
	// ConsolidationPolicyWhenEmpty removes only nodes that run no pods (other than daemonset pods).
	ConsolidationPolicyWhenEmpty ConsolidationPolicy = "WhenEmpty"
	// ConsolidationPolicyWhenEmptyOrUnderutilized also removes or replaces nodes whose pods fit elsewhere or on a
	// cheaper node, whenever the move saves at least the consolidationThreshold.
	ConsolidationPolicyWhenEmptyOrUnderutilized ConsolidationPolicy = "WhenEmptyOrUnderutilized"
	// ConsolidationPolicyBalanced moves pods only when the saving is worth the disruption: a move is taken when its
	// share of the NodePool's price saved, divided by its share of the NodePool's disruption cost, is at least
	// 1/balanceFactor (Karpenter's Balanced policy), and it saves at least the consolidationThreshold.
	ConsolidationPolicyBalanced ConsolidationPolicy = "Balanced"
)

// DefaultBalanceFactor is the Balanced policy's k when consolidationThreshold.balanceFactor is unset: the smallest
// integer at which replacing a node by one of half its price passes in a uniform NodePool (Karpenter's default).
const DefaultBalanceFactor = 2

// DisruptionReason is why Tailor wants to remove a node.
// +kubebuilder:validation:Enum=Empty;Underutilized;Drifted
type DisruptionReason string

// Disruption reasons a budget can apply to.
const (
	DisruptionReasonEmpty         DisruptionReason = "Empty"
	DisruptionReasonUnderutilized DisruptionReason = "Underutilized"
	DisruptionReasonDrifted       DisruptionReason = "Drifted"
)

// Disruption says when Tailor may remove a NodePool's nodes, and how many at a time.
//
// +kubebuilder:validation:XValidation:rule="!has(self.consolidationThreshold) || !has(self.consolidationThreshold.balanceFactor) || self.consolidationPolicy == 'Balanced'",message="consolidationThreshold.balanceFactor is only for consolidationPolicy Balanced"
type Disruption struct {
	// consolidationPolicy says which nodes consolidation may remove: WhenEmpty (only nodes without pods),
	// WhenEmptyOrUnderutilized (also nodes whose pods fit elsewhere or on a cheaper node) or Balanced, the default
	// (those too, but only when the saving outweighs the disruption; see consolidationThreshold.balanceFactor).
	// +kubebuilder:default=Balanced
	// +kubebuilder:validation:Enum=WhenEmpty;WhenEmptyOrUnderutilized;Balanced
	// +optional
	ConsolidationPolicy ConsolidationPolicy `json:"consolidationPolicy,omitempty"`
	// consolidationThreshold is the least a consolidation move that evicts pods must save for it to be taken. Moves of
	// empty nodes evict nothing and ignore it. The default, savings 10% and minimumHourly 0.01, keeps a cluster from
	// replacing nodes for cents (see docs/concepts.md and the churn table in docs/performance.md).
	// +kubebuilder:default={savings: "10%", minimumHourly: "0.01"}
	// +optional
	ConsolidationThreshold *ConsolidationThreshold `json:"consolidationThreshold,omitempty"`
	// consolidateAfter is how long a node must see no pod arrive or leave before consolidation may act on it, such as
	// "30s", or "Never" to turn consolidation off.
	// +kubebuilder:default="0s"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self == 'Never' || self.matches('^([0-9]+(h|m|s))+$')",message="consolidateAfter must be a duration of hours, minutes and seconds such as 30s or 5m, or Never"
	// +optional
	ConsolidateAfter NillableDuration `json:"consolidateAfter,omitempty"`
	// budgets cap how many of this NodePool's nodes may be disrupted at once. The most restrictive active budget
	// wins. The default is one budget of 10%.
	// +kubebuilder:default={{nodes: "10%"}}
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Budgets []Budget `json:"budgets,omitempty"`
}

// ConsolidationThreshold is the least saving a consolidation move must make. Every bound that is set must hold.
type ConsolidationThreshold struct {
	// savings is the least saving per move as a percentage of the hourly price of the nodes the move removes, such
	// as "10%" (a move replacing a $1.00/h node must bring it to $0.90/h or less). "0%" turns the bound off.
	// +kubebuilder:default="10%"
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^(100([.]0{1,2})?|[0-9]{1,2}([.][0-9]{1,2})?)%$')",message="consolidationThreshold.savings must be a percentage from 0% to 100% such as 10% or 2.5%"
	// +optional
	Savings string `json:"savings,omitempty"`
	// minimumHourly is the least saving per move in dollars per hour, a decimal such as "0.01". "0" turns the bound
	// off.
	// +kubebuilder:default="0.01"
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,4}([.][0-9]{1,6})?$')",message="consolidationThreshold.minimumHourly must be a non-negative decimal number of dollars per hour such as 0.01"
	// +optional
	MinimumHourly string `json:"minimumHourly,omitempty"`
	// balanceFactor is the Balanced policy's k, from 1 to 10: a move is taken when its share of the NodePool's
	// disruption cost is at most balanceFactor times its share of the NodePool's price saved. Higher moves more.
	// Unset means 2. Only for consolidationPolicy Balanced.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	// +optional
	BalanceFactor *int32 `json:"balanceFactor,omitempty"`
}

// Budget caps how many nodes may be disrupted at once, always or during a recurring window, for some or all
// reasons.
//
// +kubebuilder:validation:XValidation:rule="has(self.schedule) == has(self.duration)",message="schedule and duration must be set together: a budget with a schedule is active for duration after each scheduled time"
type Budget struct {
	// nodes is the most nodes that may be disrupted at once: a count such as "5", or a percentage of the NodePool's
	// nodes such as "10%" (rounded up).
	// +kubebuilder:default="10%"
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^((100|[0-9]{1,2})%|[0-9]+)$')",message="nodes must be a count such as 5 or a percentage from 0% to 100% such as 10%"
	// +optional
	Nodes string `json:"nodes,omitempty"`
	// schedule is a cron expression (minute hour day-of-month month day-of-week, in UTC, or a macro such as @daily)
	// at which the budget becomes active for duration.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('(?i)^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([*?]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]*)?(,([*?]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]*)?)* +([*?]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]*)?(,([*?]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]*)?)* +([*?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]*)?(,([*?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]*)?)* +([*?]|(0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(-(0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))?)(/[1-9][0-9]*)?(,([*?]|(0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(-(0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))?)(/[1-9][0-9]*)?)* +([*?]|([0-6]|sun|mon|tue|wed|thu|fri|sat)(-([0-6]|sun|mon|tue|wed|thu|fri|sat))?)(/[1-9][0-9]*)?(,([*?]|([0-6]|sun|mon|tue|wed|thu|fri|sat)(-([0-6]|sun|mon|tue|wed|thu|fri|sat))?)(/[1-9][0-9]*)?)*)$')",message="schedule must be a cron expression of five fields (minute hour day-of-month month day-of-week) such as \"0 9 * * mon-fri\", or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
	// +optional
	Schedule *string `json:"schedule,omitempty"`
	// duration is how long the budget stays active after each scheduled time, such as "8h" or "1h30m".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(h|m|s))+$')",message="duration must be a duration of hours, minutes and seconds such as 8h or 1h30m0s"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// reasons limits the budget to disruptions for these reasons: Empty, Underutilized, Drifted. Unset means all.
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	// +optional
	Reasons []DisruptionReason `json:"reasons,omitempty"`
}

// NodePoolStatus is what a NodePool's nodes use now.
type NodePoolStatus struct {
	// resources is the sum of the capacity of the NodePool's nodes, including nodes still launching.
	// +optional
	Resources corev1.ResourceList `json:"resources,omitempty"`
	// nodes is how many nodes (NodeClaims) the NodePool has.
	// +optional
	Nodes int64 `json:"nodes"`
	// conditions: Ready, NodeClassReady.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IsStatic tells whether the NodePool keeps a fixed number of nodes (spec.replicas) instead of launching for pods.
func (np *NodePool) IsStatic() bool { return np.Spec.Replicas != nil }
