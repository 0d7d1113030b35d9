package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Karpenter API groups and the kinds migrate understands.
const (
	karpenterGroup    = "karpenter.sh"
	karpenterAWSGroup = "karpenter.k8s.aws"
)

// converter turns Karpenter documents into Tailor objects. Kubelet settings sit on Karpenter's Provisioner (v1alpha5)
// or NodePool (v1beta1) but on Tailor's EC2NodeClass, so they are moved once every document has been read.
type converter struct {
	objects  []converted
	warnings []string
	kubelets []pendingKubelet
}

type converted struct {
	obj    runtime.Object
	source string
	// inline marks an EC2NodeClass made from a Provisioner's inline provider block; it yields its name on a clash.
	inline bool
}

// pendingKubelet is a NodePool's kubelet configuration waiting to move onto its EC2NodeClass.
type pendingKubelet struct {
	pool    *apiv1.NodePool
	kubelet *apiv1.KubeletConfiguration
	field   string // where it came from, for warnings
	what    string
}

func newConverter() *converter { return &converter{} }

// convert converts the n-th document.
func (c *converter) convert(n int, obj map[string]any) error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return fmt.Errorf("document %d: apiVersion and kind are required", n)
	}
	group, version, _ := strings.Cut(apiVersion, "/")
	name := ""
	if md, ok := obj["metadata"].(map[string]any); ok {
		name, _ = md["name"].(string)
	}
	what := kind + " " + name
	d := newDocument(what, obj)
	top := d.top()
	top.ignore("apiVersion", "kind", "status")

	made, skip, err := c.dispatch(d, group, version, kind)
	if err != nil {
		return fmt.Errorf("document %d: %w", n, err)
	}
	if skip != "" {
		c.warnings = append(c.warnings, fmt.Sprintf("document %d (%s %s): skipped: %s", n, apiVersion, what, skip))
		return nil
	}
	if name == "" {
		d.errs = append(d.errs, "metadata.name: required")
	}
	if len(d.errs) > 0 {
		return fmt.Errorf("document %d (%s %s) is invalid:\n  %s", n, apiVersion, what, strings.Join(d.errs, "\n  "))
	}
	for _, w := range d.warnings {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s", what, w))
	}
	for _, path := range d.leftovers() {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s: Tailor has no equivalent; dropped", what, path))
	}
	for i := range made {
		made[i].source = apiVersion + " " + what
	}
	c.objects = append(c.objects, made...)
	return nil
}

// dispatch converts d according to its kind. It returns why it skipped a document it does not convert, or an error
// for a Karpenter kind or version it does not know.
func (c *converter) dispatch(d *document, group, version, kind string) (made []converted, skip string, err error) {
	karpenter := group == karpenterGroup || group == karpenterAWSGroup
	switch {
	case group == karpenterGroup && version == "v1alpha5" && kind == "Provisioner":
		return c.provisioner(d), "", nil
	case group == karpenterAWSGroup && version == "v1alpha1" && kind == "AWSNodeTemplate":
		return c.awsNodeTemplate(d), "", nil
	case group == karpenterGroup && (version == "v1beta1" || version == "v1") && kind == "NodePool":
		return c.nodePool(d, version), "", nil
	case group == karpenterAWSGroup && (version == "v1beta1" || version == "v1") && kind == "EC2NodeClass":
		return c.ec2NodeClass(d, version), "", nil
	case karpenter && (kind == "Machine" || kind == "NodeClaim"):
		return nil, "Tailor creates its NodeClaims itself", nil
	case karpenter:
		return nil, "", fmt.Errorf("%s/%s %s is not something migrate understands: it converts karpenter.sh/v1alpha5 Provisioner, karpenter.k8s.aws/v1alpha1 AWSNodeTemplate, karpenter.sh v1beta1 and v1 NodePool, karpenter.k8s.aws v1beta1 and v1 EC2NodeClass", group, version, kind)
	}
	return nil, "not a Karpenter object", nil
}

// provisioner converts a karpenter.sh/v1alpha5 Provisioner to a NodePool, and its inline provider block (if any) to
// an EC2NodeClass of the same name.
func (c *converter) provisioner(d *document) []converted {
	top := d.top()
	pool := newNodePool(objectMeta(top))
	spec, ok := top.obj("spec")
	if !ok {
		top.errorf("spec", "required")
		return nil
	}
	tmpl := &pool.Spec.Template
	tmpl.ObjectMeta.Labels = templateLabels(spec, "labels")
	if a, ok := spec.strMap("annotations"); ok && len(a) > 0 {
		tmpl.ObjectMeta.Annotations = a
	}
	tmpl.Spec.Requirements = requirements(spec, "requirements")
	tmpl.Spec.Taints = taints(spec, "taints")
	tmpl.Spec.StartupTaints = taints(spec, "startupTaints")
	if limits, ok := spec.obj("limits"); ok {
		pool.Spec.Limits = resourceList(limits, "resources")
	}
	if w, ok := spec.int32("weight"); ok {
		pool.Spec.Weight = &w
	}

	// Karpenter v1alpha5 removed nodes only when told to: empty nodes after ttlSecondsAfterEmpty, or any node
	// consolidation could remove when consolidation.enabled. With neither, nodes stayed until they expired.
	ttlEmpty, hasTTLEmpty := spec.integer("ttlSecondsAfterEmpty")
	consolidation := false
	if cons, ok := spec.obj("consolidation"); ok {
		consolidation, _ = cons.boolean("enabled")
	}
	switch {
	case hasTTLEmpty && consolidation:
		spec.errorf("ttlSecondsAfterEmpty", "cannot be set together with spec.consolidation.enabled: true (Karpenter refuses this too)")
	case consolidation:
		pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		pool.Spec.Disruption.ConsolidateAfter = "0s"
	case hasTTLEmpty:
		pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmpty
		pool.Spec.Disruption.ConsolidateAfter = seconds(spec, "ttlSecondsAfterEmpty", ttlEmpty)
	default:
		pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmpty
		pool.Spec.Disruption.ConsolidateAfter = apiv1.Never
	}
	// Karpenter v1alpha5 never expired nodes unless asked; Tailor's default is 720h, so say Never explicitly.
	tmpl.Spec.ExpireAfter = apiv1.Never
	if ttl, ok := spec.integer("ttlSecondsUntilExpired"); ok {
		tmpl.Spec.ExpireAfter = seconds(spec, "ttlSecondsUntilExpired", ttl)
	}

	out := []converted{{obj: pool}}
	provider, hasProvider := spec.obj("provider")
	ref, hasRef := spec.obj("providerRef")
	switch {
	case hasProvider && hasRef:
		spec.errorf("provider", "cannot be set together with spec.providerRef (Karpenter refuses this too)")
	case hasProvider:
		class := &apiv1.EC2NodeClass{
			TypeMeta:   metav1.TypeMeta{APIVersion: apiv1.GroupVersion.String(), Kind: apiv1.EC2NodeClassKind},
			ObjectMeta: metav1.ObjectMeta{Name: pool.Name},
			Spec:       awsProvider(provider),
		}
		provider.ignore("apiVersion", "kind")
		tmpl.Spec.NodeClassRef = nodeClassRef(pool.Name)
		out = append(out, converted{obj: class, inline: true})
	case hasRef:
		name, ok := ref.str("name")
		if !ok {
			ref.errorf("name", "required")
		}
		if kind, ok := ref.str("kind"); ok && kind != "AWSNodeTemplate" {
			ref.errorf("kind", "only AWSNodeTemplate can be migrated, got %q", kind)
		}
		ref.ignore("apiVersion")
		tmpl.Spec.NodeClassRef = nodeClassRef(name)
	default:
		spec.errorf("providerRef", "one of spec.provider or spec.providerRef is required")
	}
	if k, ok := spec.obj("kubeletConfiguration"); ok {
		c.queueKubelet(pool, kubelet(k), k.path, d.what)
	}
	return out
}

// awsNodeTemplate converts a karpenter.k8s.aws/v1alpha1 AWSNodeTemplate to an EC2NodeClass.
func (c *converter) awsNodeTemplate(d *document) []converted {
	top := d.top()
	class := &apiv1.EC2NodeClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiv1.GroupVersion.String(), Kind: apiv1.EC2NodeClassKind},
		ObjectMeta: objectMeta(top),
	}
	spec, ok := top.obj("spec")
	if !ok {
		top.errorf("spec", "required")
		return nil
	}
	class.Spec = awsProvider(spec)
	return []converted{{obj: class}}
}

// awsProvider converts the AWS settings shared by v1alpha5's inline provider block and v1alpha1's AWSNodeTemplate.
func awsProvider(n node) apiv1.EC2NodeClassSpec {
	spec := apiv1.EC2NodeClassSpec{}
	if sel, ok := n.strMap("subnetSelector"); ok {
		for _, t := range selectorTerms(n, "subnetSelector", sel) {
			spec.SubnetSelectorTerms = append(spec.SubnetSelectorTerms, apiv1.SubnetSelectorTerm{ID: t.ID, Tags: t.Tags})
		}
	} else {
		n.warnf("subnetSelector", "not set; Karpenter required it: add spec.subnetSelectorTerms to the EC2NodeClass")
	}
	if sel, ok := n.strMap("securityGroupSelector"); ok {
		for _, t := range selectorTerms(n, "securityGroupSelector", sel) {
			spec.SecurityGroupSelectorTerms = append(spec.SecurityGroupSelectorTerms, apiv1.SecurityGroupSelectorTerm{ID: t.ID, Tags: t.Tags})
		}
	} else {
		n.warnf("securityGroupSelector", "not set; Karpenter required it: add spec.securityGroupSelectorTerms to the EC2NodeClass")
	}
	if p, ok := n.str("instanceProfile"); ok {
		spec.InstanceProfile = p
	} else {
		n.warnf("instanceProfile", "not set, so Karpenter used its global aws.defaultInstanceProfile setting: set spec.instanceProfile (or spec.role) on the EC2NodeClass before applying it")
	}
	family, hasFamily := n.str("amiFamily")
	if !hasFamily {
		family = "AL2" // Karpenter v1alpha5's default
	}
	if sel, ok := n.strMap("amiSelector"); ok {
		spec.AMIFamily = amiFamilyEnum(n, "amiFamily", family)
		spec.AMISelectorTerms = amiSelectorTerms(sel)
	} else {
		spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: amiAlias(n, "amiFamily", family) + "@latest"}}
		if !hasFamily {
			n.warnf("amiFamily", "not set, so Karpenter used AL2: the EC2NodeClass uses alias al2@latest; consider al2023@latest")
		}
	}
	if u, ok := n.str("userData"); ok {
		spec.UserData = &u
	}
	spec.Tags = tags(n, "tags")
	if mo, ok := n.obj("metadataOptions"); ok {
		spec.MetadataOptions = metadataOptions(mo)
	}
	spec.BlockDeviceMappings = blockDeviceMappings(n, "blockDeviceMappings")
	if n.has("launchTemplate") {
		n.warnf("launchTemplate", "Tailor does not launch from launch templates: put the template's AMI, user data, disks, security groups and instance profile on the EC2NodeClass")
	}
	return spec
}

type selectorTerm struct {
	ID   string
	Tags map[string]string
}

// selectorTerms turns a v1alpha5 selector map into terms: "aws-ids" (comma-separated ids) gives one term per id, the
// remaining tags one term that needs them all.
func selectorTerms(n node, key string, sel map[string]string) []selectorTerm {
	var terms []selectorTerm
	tagMap := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		v := sel[k]
		if k == "aws-ids" || k == "aws::ids" {
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					terms = append(terms, selectorTerm{ID: id})
				}
			}
			continue
		}
		tagMap[k] = v
	}
	if len(tagMap) > 0 {
		terms = append(terms, selectorTerm{Tags: tagMap})
	}
	if len(terms) == 0 {
		n.warnf(key, "selects nothing; the EC2NodeClass needs at least one term")
	}
	return terms
}

// amiSelectorTerms turns a v1alpha1 amiSelector map into terms: "aws-ids"/"aws::ids" give one term per id,
// "aws::name" and "aws::owners" (comma-separated, one term each) narrow the tags.
func amiSelectorTerms(sel map[string]string) []apiv1.AMISelectorTerm {
	var terms []apiv1.AMISelectorTerm
	var name string
	var owners []string
	tagMap := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		v := sel[k]
		switch k {
		case "aws-ids", "aws::ids":
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id != "" {
					terms = append(terms, apiv1.AMISelectorTerm{ID: id})
				}
			}
		case "aws::name":
			name = v
		case "aws::owners":
			for _, o := range strings.Split(v, ",") {
				if o = strings.TrimSpace(o); o != "" {
					owners = append(owners, o)
				}
			}
		default:
			tagMap[k] = v
		}
	}
	if name == "" && len(tagMap) == 0 {
		return terms
	}
	if len(tagMap) == 0 {
		tagMap = nil
	}
	if len(owners) == 0 {
		owners = []string{""}
	}
	for _, o := range owners {
		terms = append(terms, apiv1.AMISelectorTerm{Name: name, Owner: o, Tags: maps.Clone(tagMap)})
	}
	return terms
}

// amiAlias maps a Karpenter AMI family to a Tailor alias family.
func amiAlias(n node, key, family string) string {
	switch family {
	case "AL2":
		return "al2"
	case "AL2023":
		return "al2023"
	case "Bottlerocket":
		return "bottlerocket"
	}
	n.warnf(key, "Tailor has no %s AMIs; the EC2NodeClass uses al2023@latest instead", family)
	return "al2023"
}

// amiFamilyEnum maps a Karpenter AMI family to Tailor's amiFamily field, used when AMIs are picked by selector.
func amiFamilyEnum(n node, key, family string) string {
	switch family {
	case "AL2", "AL2023", "Bottlerocket", "Custom":
		return family
	}
	n.warnf(key, "Tailor cannot bootstrap %s AMIs; amiFamily is set to Custom, so the user data must join the node to the cluster itself", family)
	return "Custom"
}

// tags keeps the user's instance tags and drops those Tailor sets itself.
func tags(n node, key string) map[string]string {
	t, ok := n.strMap(key)
	if !ok || len(t) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		switch {
		case strings.HasPrefix(k, "kubernetes.io/cluster/"), k == "karpenter.sh/provisioner-name", k == "karpenter.sh/nodepool",
			k == "karpenter.sh/nodeclaim", k == "karpenter.k8s.aws/ec2nodeclass", k == "karpenter.sh/managed-by":
			n.doc.warnings = append(n.doc.warnings, fmt.Sprintf("%s.%s: Tailor tags its instances itself; dropped", n.at(key), k))
		default:
			out[k] = t[k]
		}
	}
	return out
}

func metadataOptions(n node) *apiv1.MetadataOptions {
	mo := &apiv1.MetadataOptions{}
	mo.HTTPEndpoint, _ = n.str("httpEndpoint")
	mo.HTTPProtocolIPv6, _ = n.str("httpProtocolIPv6")
	if hop, ok := n.integer("httpPutResponseHopLimit"); ok {
		mo.HTTPPutResponseHopLimit = &hop
	}
	mo.HTTPTokens, _ = n.str("httpTokens")
	return mo
}

func blockDeviceMappings(n node, key string) []apiv1.BlockDeviceMapping {
	items, _ := n.objList(key)
	var out []apiv1.BlockDeviceMapping
	for _, item := range items {
		m := apiv1.BlockDeviceMapping{}
		var ok bool
		if m.DeviceName, ok = item.str("deviceName"); !ok {
			item.errorf("deviceName", "required")
		}
		m.RootVolume, _ = item.boolean("rootVolume")
		if ebs, ok := item.obj("ebs"); ok {
			m.EBS.VolumeSize, _ = ebs.quantity("volumeSize")
			m.EBS.VolumeType, _ = ebs.str("volumeType")
			if v, ok := ebs.integer("iops"); ok {
				m.EBS.IOPS = &v
			}
			if v, ok := ebs.integer("throughput"); ok {
				m.EBS.Throughput = &v
			}
			if v, ok := ebs.boolean("encrypted"); ok {
				m.EBS.Encrypted = &v
			}
			m.EBS.KMSKeyID, _ = ebs.str("kmsKeyID")
			if v, ok := ebs.boolean("deleteOnTermination"); ok {
				m.EBS.DeleteOnTermination = &v
			}
			m.EBS.SnapshotID, _ = ebs.str("snapshotID")
		}
		out = append(out, m)
	}
	return out
}

// nodePool converts a karpenter.sh v1beta1 or v1 NodePool.
func (c *converter) nodePool(d *document, version string) []converted {
	top := d.top()
	pool := newNodePool(objectMeta(top))
	spec, ok := top.obj("spec")
	if !ok {
		top.errorf("spec", "required")
		return nil
	}
	tmpl := &pool.Spec.Template
	if t, ok := spec.obj("template"); ok {
		if md, ok := t.obj("metadata"); ok {
			tmpl.ObjectMeta.Labels = templateLabels(md, "labels")
			if a, ok := md.strMap("annotations"); ok && len(a) > 0 {
				tmpl.ObjectMeta.Annotations = a
			}
		}
		if ts, ok := t.obj("spec"); ok {
			tmpl.Spec.Requirements = requirements(ts, "requirements")
			tmpl.Spec.Taints = taints(ts, "taints")
			tmpl.Spec.StartupTaints = taints(ts, "startupTaints")
			if ref, ok := ts.obj("nodeClassRef"); ok {
				name, ok := ref.str("name")
				if !ok {
					ref.errorf("name", "required")
				}
				if kind, ok := ref.str("kind"); ok && kind != "EC2NodeClass" {
					ref.errorf("kind", "only EC2NodeClass can be migrated, got %q", kind)
				}
				ref.ignore("apiVersion", "group")
				tmpl.Spec.NodeClassRef = nodeClassRef(name)
			} else {
				ts.errorf("nodeClassRef", "required")
			}
			if version == "v1" {
				if v, ok := ts.str("expireAfter"); ok {
					tmpl.Spec.ExpireAfter = nillableDuration(ts, "expireAfter", v)
				}
				if v, ok := ts.str("terminationGracePeriod"); ok {
					if dur, err := time.ParseDuration(v); err != nil || dur < 0 {
						ts.errorf("terminationGracePeriod", "want a duration such as 24h, got %q", v)
					} else {
						tmpl.Spec.TerminationGracePeriod = &metav1.Duration{Duration: dur}
					}
				}
			}
			if k, ok := ts.obj("kubelet"); ok {
				c.queueKubelet(pool, kubelet(k), k.path, d.what)
			}
		}
	} else {
		spec.errorf("template", "required")
	}
	if dis, ok := spec.obj("disruption"); ok {
		disruption(dis, version, pool)
	}
	pool.Spec.Limits = resourceList(spec, "limits")
	if w, ok := spec.int32("weight"); ok {
		pool.Spec.Weight = &w
	}
	return []converted{{obj: pool}}
}

func disruption(dis node, version string, pool *apiv1.NodePool) {
	if p, ok := dis.str("consolidationPolicy"); ok {
		switch p {
		case "WhenEmpty":
			pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmpty
		case "WhenUnderutilized", "WhenEmptyOrUnderutilized":
			pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyWhenEmptyOrUnderutilized
		case "Balanced":
			pool.Spec.Disruption.ConsolidationPolicy = apiv1.ConsolidationPolicyBalanced
		default:
			dis.errorf("consolidationPolicy", "want WhenEmpty, WhenUnderutilized (v1beta1), WhenEmptyOrUnderutilized or Balanced (v1), got %q", p)
		}
	}
	// Karpenter's consolidationThreshold (v1.14, with Balanced) is the policy's k; Tailor's is balanceFactor.
	if k, ok := dis.integer("consolidationThreshold"); ok {
		switch {
		case pool.Spec.Disruption.ConsolidationPolicy != apiv1.ConsolidationPolicyBalanced:
			dis.errorf("consolidationThreshold", "is only for consolidationPolicy: Balanced")
		case k < 1 || k > 10:
			dis.errorf("consolidationThreshold", "want an integer from 1 to 10, got %d", k)
		default:
			pool.Spec.Disruption.ConsolidationThreshold = &apiv1.ConsolidationThreshold{BalanceFactor: ptr.To(int32(k))}
		}
	}
	if v, ok := dis.str("consolidateAfter"); ok {
		pool.Spec.Disruption.ConsolidateAfter = nillableDuration(dis, "consolidateAfter", v)
	}
	if version == "v1beta1" {
		if v, ok := dis.str("expireAfter"); ok {
			pool.Spec.Template.Spec.ExpireAfter = nillableDuration(dis, "expireAfter", v)
		}
	}
	budgets, _ := dis.objList("budgets")
	for _, b := range budgets {
		budget := apiv1.Budget{}
		budget.Nodes, _ = b.str("nodes")
		if s, ok := b.str("schedule"); ok {
			budget.Schedule = &s
		}
		if v, ok := b.str("duration"); ok {
			if dur, err := time.ParseDuration(v); err != nil || dur < 0 {
				b.errorf("duration", "want a duration such as 8h, got %q", v)
			} else {
				budget.Duration = &metav1.Duration{Duration: dur}
			}
		}
		if reasons, ok := b.strList("reasons"); ok {
			for _, r := range reasons {
				budget.Reasons = append(budget.Reasons, apiv1.DisruptionReason(r))
			}
		}
		pool.Spec.Disruption.Budgets = append(pool.Spec.Disruption.Budgets, budget)
	}
}

// ec2NodeClass converts a karpenter.k8s.aws v1beta1 or v1 EC2NodeClass.
func (c *converter) ec2NodeClass(d *document, version string) []converted {
	top := d.top()
	class := &apiv1.EC2NodeClass{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiv1.GroupVersion.String(), Kind: apiv1.EC2NodeClassKind},
		ObjectMeta: objectMeta(top),
	}
	n, ok := top.obj("spec")
	if !ok {
		top.errorf("spec", "required")
		return nil
	}
	spec := &class.Spec
	subnets, _ := n.objList("subnetSelectorTerms")
	for _, t := range subnets {
		term := apiv1.SubnetSelectorTerm{}
		term.ID, _ = t.str("id")
		term.Tags, _ = t.strMap("tags")
		spec.SubnetSelectorTerms = append(spec.SubnetSelectorTerms, term)
	}
	groups, _ := n.objList("securityGroupSelectorTerms")
	for _, t := range groups {
		term := apiv1.SecurityGroupSelectorTerm{}
		term.ID, _ = t.str("id")
		term.Name, _ = t.str("name")
		term.Tags, _ = t.strMap("tags")
		spec.SecurityGroupSelectorTerms = append(spec.SecurityGroupSelectorTerms, term)
	}
	spec.Role, _ = n.str("role")
	spec.InstanceProfile, _ = n.str("instanceProfile")

	family, hasFamily := n.str("amiFamily")
	amis, hasAMIs := n.objList("amiSelectorTerms")
	spec.AMISelectorTerms = amiTerms(n, amis)
	if hasAMIs && len(spec.AMISelectorTerms) == 0 {
		n.errorf("amiSelectorTerms", "no term left that Tailor can map: add an alias (such as al2023@latest) or an AMI id")
	}
	usesAlias := slices.ContainsFunc(spec.AMISelectorTerms, func(t apiv1.AMISelectorTerm) bool { return t.Alias != "" })
	switch {
	case !hasAMIs && hasFamily:
		// v1beta1: the family alone picked the family's recommended AMI.
		spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: amiAlias(n, "amiFamily", family) + "@latest"}}
	case !hasAMIs:
		n.errorf("amiSelectorTerms", "required when amiFamily is not set")
	case hasFamily && !usesAlias:
		spec.AMIFamily = amiFamilyEnum(n, "amiFamily", family)
	}
	if u, ok := n.str("userData"); ok {
		spec.UserData = &u
	}
	spec.Tags = tags(n, "tags")
	if mo, ok := n.obj("metadataOptions"); ok {
		spec.MetadataOptions = metadataOptions(mo)
	}
	spec.BlockDeviceMappings = blockDeviceMappings(n, "blockDeviceMappings")
	if v, ok := n.boolean("associatePublicIPAddress"); ok {
		spec.AssociatePublicIPAddress = &v
	}
	if version == "v1" {
		if k, ok := n.obj("kubelet"); ok {
			spec.Kubelet = kubelet(k)
		}
	}
	return []converted{{obj: class}}
}

// amiTerms converts Karpenter's amiSelectorTerms; a term Tailor cannot map (ssmParameter, or nothing it selects by)
// is dropped with a warning rather than emitted as {}, which would select every AMI.
func amiTerms(n node, amis []node) []apiv1.AMISelectorTerm {
	var out []apiv1.AMISelectorTerm
	for i, t := range amis {
		if _, ok := t.str("ssmParameter"); ok {
			// Tailor resolves AMIs by alias, id, name, owner and tags, not from an SSM parameter Karpenter reads.
			n.warnf(fmt.Sprintf("amiSelectorTerms[%d].ssmParameter", i), "Tailor cannot select an AMI by SSM parameter; dropped the term: use an alias (such as al2023@latest) or the parameter's AMI id")
			continue
		}
		term := apiv1.AMISelectorTerm{}
		if alias, ok := t.str("alias"); ok {
			fam, ver, _ := strings.Cut(alias, "@")
			term.Alias = amiAlias(t, "alias", karpenterAliasFamily(fam)) + "@" + ver
		}
		term.ID, _ = t.str("id")
		term.Name, _ = t.str("name")
		term.Owner, _ = t.str("owner")
		term.Tags, _ = t.strMap("tags")
		if term.Alias == "" && term.ID == "" && term.Name == "" && term.Owner == "" && len(term.Tags) == 0 {
			n.warnf(fmt.Sprintf("amiSelectorTerms[%d]", i), "has nothing Tailor can select an AMI by; dropped the term")
			continue
		}
		out = append(out, term)
	}
	return out
}

// karpenterAliasFamily maps an alias family (al2023) to the amiFamily spelling (AL2023).
func karpenterAliasFamily(f string) string {
	switch f {
	case "al2":
		return "AL2"
	case "al2023":
		return "AL2023"
	case "bottlerocket":
		return "Bottlerocket"
	case "windows2019":
		return "Windows2019"
	case "windows2022":
		return "Windows2022"
	}
	return f
}

func newNodePool(meta metav1.ObjectMeta) *apiv1.NodePool {
	return &apiv1.NodePool{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiv1.GroupVersion.String(), Kind: apiv1.NodePoolKind},
		ObjectMeta: meta,
	}
}

func nodeClassRef(name string) apiv1.NodeClassReference {
	return apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: name}
}

// seconds turns a Karpenter TTL in seconds into a duration such as "30s" or "720h".
func seconds(n node, key string, s int64) apiv1.NillableDuration {
	if s < 0 {
		n.errorf(key, "must not be negative, got %d", s)
		return ""
	}
	return formatDuration(time.Duration(s) * time.Second)
}

// formatDuration writes d without zero minutes and seconds: "720h", "1h30m", "45s".
func formatDuration(d time.Duration) apiv1.NillableDuration {
	s := apiv1.NewNillableDuration(d)
	str := string(s)
	if strings.HasSuffix(str, "m0s") {
		str = strings.TrimSuffix(str, "0s")
	}
	if strings.HasSuffix(str, "h0m") {
		str = strings.TrimSuffix(str, "0m")
	}
	return apiv1.NillableDuration(str)
}

func nillableDuration(n node, key, v string) apiv1.NillableDuration {
	d := apiv1.NillableDuration(v)
	dur, ok, err := d.Duration()
	if err != nil {
		n.errorf(key, "want a duration such as 720h, or Never, got %q", v)
		return ""
	}
	if !ok {
		return apiv1.Never
	}
	return formatDuration(dur)
}

func resourceList(n node, key string) corev1.ResourceList {
	r, ok := n.obj(key)
	if !ok {
		return nil
	}
	out := corev1.ResourceList{}
	for _, name := range slices.Sorted(maps.Keys(r.m)) {
		if q, ok := r.quantity(name); ok {
			out[corev1.ResourceName(name)] = *q
		}
	}
	return out
}

// queueKubelet remembers kubelet settings found on a Provisioner or NodePool, to be moved onto its EC2NodeClass.
func (c *converter) queueKubelet(pool *apiv1.NodePool, k *apiv1.KubeletConfiguration, field, what string) {
	if k == nil {
		return
	}
	c.kubelets = append(c.kubelets, pendingKubelet{pool: pool, kubelet: k, field: field, what: what})
}

func kubelet(n node) *apiv1.KubeletConfiguration {
	k := &apiv1.KubeletConfiguration{}
	if v, ok := n.int32("maxPods"); ok {
		k.MaxPods = &v
	}
	if v, ok := n.int32("podsPerCore"); ok {
		k.PodsPerCore = &v
	}
	k.SystemReserved, _ = n.strMap("systemReserved")
	k.KubeReserved, _ = n.strMap("kubeReserved")
	k.EvictionHard, _ = n.strMap("evictionHard")
	if equality.Semantic.DeepEqual(k, &apiv1.KubeletConfiguration{}) {
		return nil
	}
	return k
}

// finish moves queued kubelet settings onto EC2NodeClasses and settles name clashes of inline EC2NodeClasses.
func (c *converter) finish() error {
	classes := map[string]*converted{}
	pools := map[string]bool{}
	for i := range c.objects {
		o := &c.objects[i]
		switch obj := o.obj.(type) {
		case *apiv1.NodePool:
			if pools[obj.Name] {
				return fmt.Errorf("two NodePools would be named %q: rename one of the Karpenter objects", obj.Name)
			}
			pools[obj.Name] = true
		case *apiv1.EC2NodeClass:
			if prev, clash := classes[obj.Name]; clash && !o.inline && !prev.inline {
				return fmt.Errorf("two EC2NodeClasses would be named %q: rename one of the Karpenter objects", obj.Name)
			}
			if _, clash := classes[obj.Name]; !clash || !o.inline {
				classes[obj.Name] = o
			}
		}
	}
	// An inline class that clashes with a converted AWSNodeTemplate or EC2NodeClass takes a suffix.
	for i := range c.objects {
		o := &c.objects[i]
		class, ok := o.obj.(*apiv1.EC2NodeClass)
		if !ok || !o.inline || classes[class.Name] == o {
			continue
		}
		old := class.Name
		class.Name = old + "-provisioner"
		for _, p := range c.objects {
			if pool, ok := p.obj.(*apiv1.NodePool); ok && pool.Name == old && pool.Spec.Template.Spec.NodeClassRef.Name == old {
				pool.Spec.Template.Spec.NodeClassRef.Name = class.Name
			}
		}
		c.warnings = append(c.warnings, fmt.Sprintf("Provisioner %s: spec.provider: became EC2NodeClass %s, since %s is taken", old, class.Name, old))
		classes[class.Name] = o
	}
	for _, pk := range c.kubelets {
		if err := c.moveKubelet(pk, classes); err != nil {
			return err
		}
	}
	return nil
}

func (c *converter) moveKubelet(pk pendingKubelet, classes map[string]*converted) error {
	name := pk.pool.Spec.Template.Spec.NodeClassRef.Name
	target, ok := classes[name]
	if !ok {
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s: Tailor keeps kubelet settings on the EC2NodeClass, and EC2NodeClass %s is not in the input: add them there as spec.kubelet: %s",
			pk.what, pk.field, name, describeKubelet(pk.kubelet)))
		return nil
	}
	class := target.obj.(*apiv1.EC2NodeClass)
	switch {
	case class.Spec.Kubelet == nil:
		class.Spec.Kubelet = pk.kubelet
	case equality.Semantic.DeepEqual(class.Spec.Kubelet, pk.kubelet):
	default:
		// The class already has other kubelet settings: give this pool its own copy.
		cp := class.DeepCopy()
		cp.Name = name + "-" + pk.pool.Name
		if _, taken := classes[cp.Name]; taken {
			return fmt.Errorf("%s: %s: cannot move the kubelet settings: EC2NodeClass %s needs them too and %s is taken", pk.what, pk.field, name, cp.Name)
		}
		cp.Spec.Kubelet = pk.kubelet
		pk.pool.Spec.Template.Spec.NodeClassRef.Name = cp.Name
		c.objects = append(c.objects, converted{obj: cp, source: target.source + " with the kubelet settings of " + pk.what})
		classes[cp.Name] = &c.objects[len(c.objects)-1]
		c.warnings = append(c.warnings, fmt.Sprintf("%s: %s: EC2NodeClass %s already has other kubelet settings; NodePool %s now uses a copy, EC2NodeClass %s",
			pk.what, pk.field, name, pk.pool.Name, cp.Name))
	}
	return nil
}

func describeKubelet(k *apiv1.KubeletConfiguration) string {
	var parts []string
	if k.MaxPods != nil {
		parts = append(parts, fmt.Sprintf("maxPods=%d", *k.MaxPods))
	}
	if k.PodsPerCore != nil {
		parts = append(parts, fmt.Sprintf("podsPerCore=%d", *k.PodsPerCore))
	}
	for _, m := range []struct {
		name string
		m    map[string]string
	}{{"systemReserved", k.SystemReserved}, {"kubeReserved", k.KubeReserved}, {"evictionHard", k.EvictionHard}} {
		for _, key := range slices.Sorted(maps.Keys(m.m)) {
			parts = append(parts, fmt.Sprintf("%s.%s=%s", m.name, key, m.m[key]))
		}
	}
	return strings.Join(parts, ", ")
}
