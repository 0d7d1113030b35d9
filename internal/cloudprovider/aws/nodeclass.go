package aws

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// Reasons of the EC2NodeClass conditions.
const (
	ReasonResolved           = "Resolved"
	ReasonNoSubnets          = "SubnetsNotFound"
	ReasonNoSecurityGroups   = "SecurityGroupsNotFound"
	ReasonNoAMIs             = "AMIsNotFound"
	ReasonNoInstanceProfile  = "InstanceProfileNotSet"
	ReasonDependenciesFailed = "NotResolved"
)

// ResolveNodeClass resolves the EC2NodeClass's selectors against EC2 and SSM and writes the result into its
// status: subnets, security groups, AMIs (newest first, each with the requirements of the instance types it serves)
// and the instance profile, with the conditions SubnetsReady, SecurityGroupsReady, AMIsReady, InstanceProfileReady
// and Ready. A selector that matches nothing makes its condition and Ready False with a message saying which
// selector and what to check. It returns an error, and leaves the status unchanged, only when an AWS call failed; the caller retries.
// The caller patches the status.
func (p *Provider) ResolveNodeClass(ctx context.Context, nc *apiv1.EC2NodeClass) error {
	subnets, err := p.resolveSubnets(ctx, nc.Spec.SubnetSelectorTerms)
	if err != nil {
		return fmt.Errorf("resolving subnets of EC2NodeClass %q: %w", nc.Name, err)
	}
	groups, err := p.resolveSecurityGroups(ctx, nc.Spec.SecurityGroupSelectorTerms)
	if err != nil {
		return fmt.Errorf("resolving security groups of EC2NodeClass %q: %w", nc.Name, err)
	}
	amis, err := p.resolveAMIs(ctx, nc.Spec.AMISelectorTerms)
	if err != nil {
		return fmt.Errorf("resolving AMIs of EC2NodeClass %q: %w", nc.Name, err)
	}
	mark := p.reservationLaunches.mark()
	reservations, err := p.resolveCapacityReservations(ctx, nc.Spec.CapacityReservationSelectorTerms)
	if err != nil {
		return fmt.Errorf("resolving capacity reservations of EC2NodeClass %q: %w", nc.Name, err)
	}
	p.reservationLaunches.reset(reservations, mark)
	nc.Status.CapacityReservations = reservations
	profile := nc.Spec.InstanceProfile
	if profile == "" {
		// Tailor does not call IAM: with spec.role it uses the instance profile of the same name, which the AWS
		// console and most tooling create alongside an EC2 role (docs/aws.md).
		profile = nc.Spec.Role
	}
	nc.Status.Subnets, nc.Status.SecurityGroups, nc.Status.AMIs, nc.Status.InstanceProfile = subnets, groups, amis, profile

	now := metav1.NewTime(p.clk.Now())
	conds := nc.StatusConditions()
	var problems []string
	set := func(t string, ok bool, reason, message string) {
		if ok {
			conds.Set(now, t, metav1.ConditionTrue, ReasonResolved, message)
			return
		}
		conds.Set(now, t, metav1.ConditionFalse, reason, message)
		problems = append(problems, message)
	}
	set(apiv1.ConditionTypeSubnetsReady, len(subnets) > 0, ReasonNoSubnets,
		countMessage(len(subnets), "subnet", "no subnet matches spec.subnetSelectorTerms "+describeTerms(subnetTerms(nc.Spec.SubnetSelectorTerms))+": check the tags, names and ids, and that the subnets exist in region "+p.opts.Region))
	set(apiv1.ConditionTypeSecurityGroupsReady, len(groups) > 0, ReasonNoSecurityGroups,
		countMessage(len(groups), "security group", "no security group matches spec.securityGroupSelectorTerms "+describeTerms(securityGroupTerms(nc.Spec.SecurityGroupSelectorTerms))+": check the tags, names and ids, and that the groups exist in region "+p.opts.Region))
	set(apiv1.ConditionTypeAMIsReady, len(amis) > 0, ReasonNoAMIs,
		countMessage(len(amis), "AMI", "no AMI matches spec.amiSelectorTerms "+describeTerms(amiTerms(nc.Spec.AMISelectorTerms))+": check the alias (and the Kubernetes version "+p.opts.KubernetesVersion+"), ids, names, owners and tags"))
	profileMsg := "instance profile " + profile
	if nc.Spec.InstanceProfile == "" && profile != "" {
		profileMsg += " (named after spec.role; Tailor does not create instance profiles)"
	}
	set(apiv1.ConditionTypeInstanceProfileReady, profile != "", ReasonNoInstanceProfile,
		map[bool]string{true: profileMsg, false: "neither spec.instanceProfile nor spec.role is set: set one of them"}[profile != ""])
	if len(problems) == 0 {
		conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionTrue, ReasonResolved, "")
	} else {
		conds.Set(now, apiv1.ConditionTypeReady, metav1.ConditionFalse, ReasonDependenciesFailed, strings.Join(problems, "; "))
	}
	return nil
}

func countMessage(n int, noun, none string) string {
	switch n {
	case 0:
		return none
	case 1:
		return "resolved 1 " + noun
	}
	return fmt.Sprintf("resolved %d %ss", n, noun)
}

// tagFilters turns a selector's tags into EC2 filters: tag:K=V, or tag-key=K when V is "*".
func tagFilters(tags map[string]string) []ec2types.Filter {
	var out []ec2types.Filter
	for _, k := range sortedKeys(tags) {
		if v := tags[k]; v == "*" {
			out = append(out, filter("tag-key", k))
		} else {
			out = append(out, filter("tag:"+k, v))
		}
	}
	return out
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type selectorTerm struct {
	id, name, owner, alias string
	tags                   map[string]string
}

func subnetTerms(terms []apiv1.SubnetSelectorTerm) []selectorTerm {
	out := make([]selectorTerm, 0, len(terms))
	for _, t := range terms {
		out = append(out, selectorTerm{id: t.ID, name: t.Name, tags: t.Tags})
	}
	return out
}

func securityGroupTerms(terms []apiv1.SecurityGroupSelectorTerm) []selectorTerm {
	out := make([]selectorTerm, 0, len(terms))
	for _, t := range terms {
		out = append(out, selectorTerm{id: t.ID, name: t.Name, tags: t.Tags})
	}
	return out
}

func amiTerms(terms []apiv1.AMISelectorTerm) []selectorTerm {
	out := make([]selectorTerm, 0, len(terms))
	for _, t := range terms {
		out = append(out, selectorTerm{id: t.ID, name: t.Name, owner: t.Owner, alias: t.Alias, tags: t.Tags})
	}
	return out
}

// describeTerms renders selector terms for messages: [{tags: a=b}, {id: subnet-1}].
func describeTerms(terms []selectorTerm) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		var fields []string
		if t.alias != "" {
			fields = append(fields, "alias: "+t.alias)
		}
		if t.id != "" {
			fields = append(fields, "id: "+t.id)
		}
		if t.name != "" {
			fields = append(fields, "name: "+t.name)
		}
		if t.owner != "" {
			fields = append(fields, "owner: "+t.owner)
		}
		if len(t.tags) > 0 {
			var kv []string
			for _, k := range sortedKeys(t.tags) {
				kv = append(kv, k+"="+t.tags[k])
			}
			fields = append(fields, "tags: "+strings.Join(kv, ","))
		}
		parts = append(parts, "{"+strings.Join(fields, ", ")+"}")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// resolveSubnets returns every available subnet matching any term, sorted by zone, then most free addresses
// first, then id.
func (p *Provider) resolveSubnets(ctx context.Context, terms []apiv1.SubnetSelectorTerm) ([]apiv1.Subnet, error) {
	found := map[string]ec2types.Subnet{}
	for _, t := range terms {
		var filters []ec2types.Filter
		switch {
		case t.ID != "":
			filters = []ec2types.Filter{filter("subnet-id", t.ID)}
		default:
			filters = tagFilters(t.Tags)
			if t.Name != "" {
				filters = append(filters, filter("tag:Name", t.Name))
			}
		}
		pager := ec2.NewDescribeSubnetsPaginator(p.ec2, &ec2.DescribeSubnetsInput{Filters: filters})
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing subnets: %w", err)
			}
			for _, s := range page.Subnets {
				if s.State != "" && s.State != ec2types.SubnetStateAvailable {
					continue
				}
				found[aws.ToString(s.SubnetId)] = s
			}
		}
	}
	list := make([]ec2types.Subnet, 0, len(found))
	for _, s := range found {
		list = append(list, s)
	}
	slices.SortFunc(list, func(a, b ec2types.Subnet) int {
		return cmp.Or(
			cmp.Compare(aws.ToString(a.AvailabilityZone), aws.ToString(b.AvailabilityZone)),
			-cmp.Compare(aws.ToInt32(a.AvailableIpAddressCount), aws.ToInt32(b.AvailableIpAddressCount)),
			cmp.Compare(aws.ToString(a.SubnetId), aws.ToString(b.SubnetId)),
		)
	})
	out := make([]apiv1.Subnet, 0, len(list))
	for _, s := range list {
		out = append(out, apiv1.Subnet{ID: aws.ToString(s.SubnetId), Zone: aws.ToString(s.AvailabilityZone), ZoneID: aws.ToString(s.AvailabilityZoneId)})
	}
	return out, nil
}

// resolveSecurityGroups returns every security group matching any term, sorted by id.
func (p *Provider) resolveSecurityGroups(ctx context.Context, terms []apiv1.SecurityGroupSelectorTerm) ([]apiv1.SecurityGroup, error) {
	found := map[string]apiv1.SecurityGroup{}
	for _, t := range terms {
		var filters []ec2types.Filter
		switch {
		case t.ID != "":
			filters = []ec2types.Filter{filter("group-id", t.ID)}
		default:
			filters = tagFilters(t.Tags)
			if t.Name != "" {
				filters = append(filters, filter("group-name", t.Name))
			}
		}
		pager := ec2.NewDescribeSecurityGroupsPaginator(p.ec2, &ec2.DescribeSecurityGroupsInput{Filters: filters})
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing security groups: %w", err)
			}
			for _, g := range page.SecurityGroups {
				id := aws.ToString(g.GroupId)
				found[id] = apiv1.SecurityGroup{ID: id, Name: aws.ToString(g.GroupName)}
			}
		}
	}
	out := make([]apiv1.SecurityGroup, 0, len(found))
	for _, k := range sortedKeys(found) {
		out = append(out, found[k])
	}
	return out, nil
}

// amiCandidate is an AMI found by a selector, before sorting. requirements are what an instance type must meet
// to boot it beyond its architecture: set for an alias's accelerator variants, empty otherwise.
type amiCandidate struct {
	id, name, arch, created string
	requirements            []corev1.NodeSelectorRequirement
}

// resolveAMIs returns the AMIs the terms select, newest first, each with a kubernetes.io/arch requirement and,
// for an alias's variants (al2023's standard, NVIDIA and Neuron AMIs), the instance types each serves.
func (p *Provider) resolveAMIs(ctx context.Context, terms []apiv1.AMISelectorTerm) ([]apiv1.AMI, error) {
	found := map[string]amiCandidate{}
	for _, t := range terms {
		var images []ec2types.Image
		variants := map[string]amiVariant{}
		var err error
		if t.Alias != "" {
			images, variants, err = p.aliasImages(ctx, t.Alias)
		} else {
			images, err = p.describeImages(ctx, t)
		}
		if err != nil {
			return nil, err
		}
		for _, img := range images {
			arch, ok := kubeArch(img.Architecture)
			if !ok || (img.State != "" && img.State != ec2types.ImageStateAvailable) {
				continue
			}
			id := aws.ToString(img.ImageId)
			found[id] = amiCandidate{id: id, name: aws.ToString(img.Name), arch: arch, created: aws.ToString(img.CreationDate),
				requirements: variants[id].requirements()}
		}
	}
	list := make([]amiCandidate, 0, len(found))
	for _, c := range found {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b amiCandidate) int {
		return cmp.Or(-cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
	})
	out := make([]apiv1.AMI, 0, len(list))
	for _, c := range list {
		reqs := append([]corev1.NodeSelectorRequirement{
			{Key: apiv1.ArchLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{c.arch}},
		}, c.requirements...)
		out = append(out, apiv1.AMI{ID: c.id, Name: c.name, Requirements: reqs})
	}
	return out, nil
}

// amiVariant is which build of an EKS-optimized AMI family an alias parameter names: the standard one, or one with
// the drivers of an accelerator. "" is an alias without variants (al2, bottlerocket), which serves every type.
type amiVariant string

// AMI variants of al2023.
const (
	amiVariantStandard amiVariant = "standard"
	amiVariantNVIDIA   amiVariant = "nvidia"
	amiVariantNeuron   amiVariant = "neuron"
)

// neuronFamilies are the instance families with AWS Neuron accelerators (Inferentia, Trainium): they need the
// Neuron AMI's driver. EC2 describes them with no GPU, so the family is what tells them apart.
var neuronFamilies = []string{"inf1", "inf2", "trn1", "trn1n", "trn2", "trn2u"}

// requirements are what an instance type must meet to boot the variant, as EKS pairs them: NVIDIA GPUs take the
// NVIDIA AMI, Neuron families the Neuron AMI, everything else (AMD GPUs included) the standard one.
func (v amiVariant) requirements() []corev1.NodeSelectorRequirement {
	switch v {
	case amiVariantStandard:
		return []corev1.NodeSelectorRequirement{
			{Key: apiv1.InstanceGPUManufacturerLabelKey, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"nvidia"}},
			{Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpNotIn, Values: neuronFamilies},
		}
	case amiVariantNVIDIA:
		return []corev1.NodeSelectorRequirement{
			{Key: apiv1.InstanceGPUManufacturerLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{"nvidia"}},
		}
	case amiVariantNeuron:
		return []corev1.NodeSelectorRequirement{
			{Key: apiv1.InstanceFamilyLabelKey, Operator: corev1.NodeSelectorOpIn, Values: neuronFamilies},
		}
	}
	return nil
}

func kubeArch(a ec2types.ArchitectureValues) (string, bool) {
	switch a {
	case ec2types.ArchitectureValuesX8664:
		return "amd64", true
	case ec2types.ArchitectureValuesArm64:
		return "arm64", true
	}
	return "", false
}

func (p *Provider) describeImages(ctx context.Context, t apiv1.AMISelectorTerm) ([]ec2types.Image, error) {
	in := &ec2.DescribeImagesInput{}
	switch {
	case t.ID != "":
		in.Filters = []ec2types.Filter{filter("image-id", t.ID)}
	default:
		in.Filters = tagFilters(t.Tags)
		if t.Name != "" {
			in.Filters = append(in.Filters, filter("name", t.Name))
		}
		switch {
		case t.Owner != "":
			in.Owners = []string{t.Owner}
		case t.Name != "":
			// A name alone could match anyone's public image; like EC2's own guidance, look only at ours and
			// Amazon's unless an owner is named.
			in.Owners = []string{"self", "amazon"}
		}
	}
	var out []ec2types.Image
	pager := ec2.NewDescribeImagesPaginator(p.ec2, in)
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing images: %w", err)
		}
		out = append(out, page.Images...)
	}
	return out, nil
}

// aliasImages resolves family@version through the SSM parameters AWS publishes for its EKS-optimized images, one
// per architecture and variant, then describes the images; it returns each image's variant too. A missing
// parameter (say, no arm64 image of a family) is skipped.
func (p *Provider) aliasImages(ctx context.Context, alias string) ([]ec2types.Image, map[string]amiVariant, error) {
	params, err := aliasParameters(alias, p.opts.KubernetesVersion)
	if err != nil {
		return nil, nil, err
	}
	variants := map[string]amiVariant{}
	var ids []string
	for _, param := range params {
		out, err := p.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param.name)})
		if err != nil {
			var notFound *ssmtypes.ParameterNotFound
			if errors.As(err, &notFound) {
				continue
			}
			return nil, nil, fmt.Errorf("getting SSM parameter %s: %w", param.name, err)
		}
		if out.Parameter == nil {
			continue
		}
		if id := aws.ToString(out.Parameter.Value); id != "" {
			ids = append(ids, id)
			variants[id] = param.variant
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{filter("image-id", ids...)}})
	if err != nil {
		return nil, nil, fmt.Errorf("describing images %v: %w", ids, err)
	}
	return out.Images, variants, nil
}

// AMI families.
const (
	AMIFamilyAL2023       = "AL2023"
	AMIFamilyAL2          = "AL2"
	AMIFamilyBottlerocket = "Bottlerocket"
	AMIFamilyCustom       = "Custom"
)

// aliasParameter is one SSM parameter behind an alias and the AMI variant it names.
type aliasParameter struct {
	name    string
	variant amiVariant
}

// aliasParameters are the SSM parameters behind an alias: per architecture, and for al2023 per variant (standard
// and NVIDIA on both architectures, Neuron on x86_64, as EKS publishes them).
func aliasParameters(alias, k8sVersion string) ([]aliasParameter, error) {
	family, version, ok := strings.Cut(alias, "@")
	if !ok {
		return nil, fmt.Errorf("alias %q: must be family@version such as al2023@latest", alias)
	}
	if k8sVersion == "" {
		return nil, fmt.Errorf("alias %q: the cluster's Kubernetes version is unknown; set --kubernetes-version", alias)
	}
	latest := version == "latest"
	var out []aliasParameter
	switch family {
	case "al2023":
		for _, av := range []struct {
			arch    string
			variant amiVariant
		}{
			{"x86_64", amiVariantStandard}, {"x86_64", amiVariantNVIDIA}, {"x86_64", amiVariantNeuron},
			{"arm64", amiVariantStandard}, {"arm64", amiVariantNVIDIA},
		} {
			leaf := "recommended"
			if !latest {
				leaf = fmt.Sprintf("amazon-eks-node-al2023-%s-%s-%s-%s", av.arch, av.variant, k8sVersion, version)
			}
			out = append(out, aliasParameter{
				name:    fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/%s/%s/image_id", k8sVersion, av.arch, av.variant, leaf),
				variant: av.variant,
			})
		}
		return out, nil
	case "al2":
		for _, variant := range []struct{ path, name string }{{"amazon-linux-2", "amazon-eks-node"}, {"amazon-linux-2-arm64", "amazon-eks-arm64-node"}} {
			leaf := "recommended"
			if !latest {
				leaf = fmt.Sprintf("%s-%s-%s", variant.name, k8sVersion, version)
			}
			out = append(out, aliasParameter{name: fmt.Sprintf("/aws/service/eks/optimized-ami/%s/%s/%s/image_id", k8sVersion, variant.path, leaf)})
		}
		return out, nil
	case "bottlerocket":
		v := "latest"
		if !latest {
			v = strings.TrimPrefix(version, "v")
		}
		for _, arch := range []string{"x86_64", "arm64"} {
			out = append(out, aliasParameter{name: fmt.Sprintf("/aws/service/bottlerocket/aws-k8s-%s/%s/%s/image_id", k8sVersion, arch, v)})
		}
		return out, nil
	}
	return nil, fmt.Errorf("alias %q: family must be al2023, al2 or bottlerocket", alias)
}

// amiFamily is how user data is laid out for the node class: the alias's family, else spec.amiFamily, else Custom.
func amiFamily(nc *apiv1.EC2NodeClass) string {
	for _, t := range nc.Spec.AMISelectorTerms {
		if family, _, ok := strings.Cut(t.Alias, "@"); ok {
			switch family {
			case "al2023":
				return AMIFamilyAL2023
			case "al2":
				return AMIFamilyAL2
			case "bottlerocket":
				return AMIFamilyBottlerocket
			}
		}
	}
	if nc.Spec.AMIFamily != "" {
		return nc.Spec.AMIFamily
	}
	return AMIFamilyCustom
}
