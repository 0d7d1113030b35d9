package ec2sim

import (
	"slices"
	"strings"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// authorizeEC2 evaluates the policy for one EC2 call. It returns nil when the call may proceed, or the handler that
// answers in its place: an UnauthorizedOperation error, or for CreateFleet a fleet whose overrides failed with
// UnauthorizedOperation (an instant fleet reports what it could not launch in its errors, as EC2 does when the
// RunInstances it makes for each launch is refused).
//
// Calls about resources that do not exist (a launch template or instance ID no one created) are let through, so
// the handler answers the NotFound error EC2 gives the caller who may describe them.
func (e *iamEnforcer) authorizeEC2(c *cloud, principal, action string, f form) ec2Handler {
	deny := func(d *denial) ec2Handler {
		return func(*cloud, form, string) (any, error) { return nil, d.ec2Error() }
	}
	var reqs []authzRequest
	switch action {
	case "CreateFleet":
		return e.authorizeFleet(c, principal, f)
	case "CreateLaunchTemplate":
		tags := f.tagSpecs("TagSpecification")["launch-template"]
		reqs = append(reqs, authzRequest{Action: "ec2:CreateLaunchTemplate", Resource: e.ec2ARN("launch-template", "*"),
			Context: requestTags(nil, tags)})
		reqs = append(reqs, e.tagOnCreate("CreateLaunchTemplate", map[string]map[string]string{"launch-template": tags})...)
	case "DeleteLaunchTemplate":
		c.mu.Lock()
		lt, err := c.findTemplate(f.str("LaunchTemplateId"), f.str("LaunchTemplateName"))
		if err == nil {
			reqs = append(reqs, authzRequest{Action: "ec2:DeleteLaunchTemplate", Resource: e.ec2ARN("launch-template", lt.ID),
				Context: resourceTags(nil, lt.Tags)})
		}
		c.mu.Unlock()
	case "TerminateInstances":
		c.mu.Lock()
		for _, id := range f.list("InstanceId") {
			if i, ok := c.instances[id]; ok {
				reqs = append(reqs, authzRequest{Action: "ec2:TerminateInstances", Resource: e.ec2ARN("instance", id),
					Context: resourceTags(nil, i.Tags)})
			}
		}
		c.mu.Unlock()
	case "CreateTags":
		reqs = e.createTagsRequests(c, f)
	default:
		// Describe calls: EC2 supports no resource-level permissions for them.
		reqs = append(reqs, authzRequest{Action: "ec2:" + action, Resource: "*"})
	}
	if d := e.check(principal, reqs); d != nil {
		return deny(d)
	}
	return nil
}

// ec2ARN is the ARN of an EC2 resource in this region and account; images and snapshots have no account.
func (e *iamEnforcer) ec2ARN(resourceType, id string) string {
	account := e.account
	if resourceType == "image" || resourceType == "snapshot" {
		account = ""
	}
	return "arn:aws:ec2:" + e.region + ":" + account + ":" + resourceType + "/" + id
}

// tagOnCreate are the ec2:CreateTags authorizations a creating action makes for the tags it was asked to apply.
func (e *iamEnforcer) tagOnCreate(createAction string, specs map[string]map[string]string) []authzRequest {
	var out []authzRequest
	for _, rt := range sortedKeys(specs) {
		if len(specs[rt]) == 0 {
			continue
		}
		ctx := requestTags(nil, specs[rt])
		ctx["ec2:createaction"] = []string{createAction}
		out = append(out, authzRequest{Action: "ec2:CreateTags", Resource: e.ec2ARN(rt, "*"), Context: ctx})
	}
	return out
}

// idResourceTypes map EC2 ID prefixes to the resource types of their ARNs.
var idResourceTypes = map[string]string{
	"i": "instance", "lt": "launch-template", "subnet": "subnet", "sg": "security-group", "ami": "image",
	"fleet": "fleet", "sir": "spot-instances-request", "vol": "volume", "eni": "network-interface", "snap": "snapshot",
	"cr": "capacity-reservation",
}

// createTagsRequests authorize a direct CreateTags call: ec2:CreateTags on every resource, with its current tags
// and the requested ones, and no ec2:CreateAction (nothing is being created).
func (e *iamEnforcer) createTagsRequests(c *cloud, f form) []authzRequest {
	tags := f.tags("Tag")
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []authzRequest
	for _, id := range f.list("ResourceId") {
		prefix, _, _ := strings.Cut(id, "-")
		rt, ok := idResourceTypes[prefix]
		if !ok {
			continue
		}
		var existing map[string]string
		switch rt {
		case "instance":
			if i, ok := c.instances[id]; ok {
				existing = i.Tags
			}
		case "launch-template":
			if lt, ok := c.templates[id]; ok {
				existing = lt.Tags
			}
		}
		out = append(out, authzRequest{Action: "ec2:CreateTags", Resource: e.ec2ARN(rt, id),
			Context: resourceTags(requestTags(nil, tags), existing)})
	}
	return out
}

// fleetOverrideAuthz is what one override of a CreateFleet asks to use, resolved enough to authorize it.
type fleetOverrideAuthz struct {
	template fleetTemplate
	override fleetOverride
	uses     []authzRequest // the existing resources it uses (template, subnet, groups, image, snapshot)
}

// authorizeFleet authorizes a CreateFleet as EC2 does in two steps. The call itself needs ec2:CreateFleet on the
// fleet and on everything the fleet creates and uses, and ec2:CreateTags for the fleet's own tags; a refusal fails
// the call. Each launch then needs ec2:RunInstances on the instance, volume, network interface and (spot) spot
// request it creates, with their request tags, and on the template, subnet, groups, image and snapshot it uses,
// and ec2:CreateTags for their tags; a refusal is that override's UnauthorizedOperation error. If any override is
// refused ec2sim launches nothing (EC2 would still try the others; Tailor's overrides differ only in subnet and
// instance type, which the policy does not tell apart).
func (e *iamEnforcer) authorizeFleet(c *cloud, principal string, f form) ec2Handler {
	req, err := parseFleetRequest(f)
	if err != nil {
		return nil
	}
	specs := f.tagSpecs("TagSpecification")
	capacityType := req.DefaultCapacityType
	created := []string{"instance", "volume", "network-interface"}
	if req.DefaultCapacityType == v1.CapacityTypeSpot || req.SpotTarget > 0 {
		created = append(created, "spot-instances-request")
	}
	overrides, ok := e.fleetUses(c, req)
	if !ok {
		return nil
	}
	creates := func(action string) []authzRequest {
		var out []authzRequest
		for _, rt := range created {
			out = append(out, authzRequest{Action: action, Resource: e.ec2ARN(rt, "*"), Context: requestTags(nil, specs[rt])})
		}
		return out
	}
	top := []authzRequest{{Action: "ec2:CreateFleet", Resource: e.ec2ARN("fleet", "*"), Context: requestTags(nil, specs["fleet"])}}
	top = append(top, creates("ec2:CreateFleet")...)
	for _, o := range overrides {
		for _, u := range o.uses {
			u.Action = "ec2:CreateFleet"
			top = append(top, u)
		}
	}
	top = append(top, e.tagOnCreate("CreateFleet", map[string]map[string]string{"fleet": specs["fleet"]})...)
	if d := e.check(principal, top); d != nil {
		return func(*cloud, form, string) (any, error) { return nil, d.ec2Error() }
	}
	launchSpecs := map[string]map[string]string{}
	for _, rt := range created {
		launchSpecs[rt] = specs[rt]
	}
	var denied []xmlFleetError
	for _, o := range overrides {
		reqs := creates("ec2:RunInstances")
		for _, u := range o.uses {
			u.Action = "ec2:RunInstances"
			reqs = append(reqs, u)
		}
		reqs = append(reqs, e.tagOnCreate("RunInstances", launchSpecs)...)
		if d := e.check(principal, reqs); d != nil {
			denied = append(denied, xmlFleetError{
				LaunchTemplateAndOverrides: xmlTemplateAndOverrides(o.template, o.override),
				Lifecycle:                  capacityType, ErrorCode: "UnauthorizedOperation", ErrorMessage: d.ec2Message(),
			})
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return func(_ *cloud, _ form, rid string) (any, error) {
		return &createFleetResponse{Xmlns: ec2Namespace, RequestID: rid, FleetID: "fleet-" + strings.ReplaceAll(rid, "-", "")[:17], Errors: denied}, nil
	}
}

// fleetUses resolves what each override uses. It reports false when something does not resolve, for the handler
// to answer that error.
func (e *iamEnforcer) fleetUses(c *cloud, req *fleetRequest) ([]fleetOverrideAuthz, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fleetOverrideAuthz
	for _, cfg := range req.Configs {
		lt, err := c.findTemplate(cfg.LaunchTemplateID, cfg.LaunchTemplateName)
		if err != nil {
			return nil, false
		}
		tmpl := fleetTemplate{LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name, Version: cfg.Version}
		overrides := cfg.Overrides
		if len(overrides) == 0 {
			overrides = []fleetOverride{{InstanceType: lt.Data.InstanceType, SubnetID: lt.Data.SubnetID}}
		}
		for _, o := range overrides {
			uses := []authzRequest{{Resource: e.ec2ARN("launch-template", lt.ID), Context: resourceTags(nil, lt.Tags)}}
			subnet := o.SubnetID
			if subnet == "" && o.Zone == "" {
				subnet = lt.Data.SubnetID
			}
			if subnet == "" {
				for _, s := range c.subnets {
					if s.Zone == o.Zone && (subnet == "" || s.ID < subnet) {
						subnet = s.ID
					}
				}
			}
			if subnet != "" {
				uses = append(uses, authzRequest{Resource: e.ec2ARN("subnet", subnet)})
			}
			groups := slices.Clone(lt.Data.SecurityGroupIDs)
			slices.Sort(groups)
			for _, g := range slices.Compact(groups) {
				uses = append(uses, authzRequest{Resource: e.ec2ARN("security-group", g)})
			}
			image := o.ImageID
			if image == "" {
				image = lt.Data.ImageID
			}
			if id, err := c.resolveImage(image); err == nil && id != "" {
				uses = append(uses, authzRequest{Resource: e.ec2ARN("image", id)},
					authzRequest{Resource: e.ec2ARN("snapshot", "snap-"+strings.TrimPrefix(id, "ami-"))})
			}
			if id := lt.Data.CapacityReservationID; id != "" {
				uses = append(uses, authzRequest{Resource: e.ec2ARN("capacity-reservation", id)})
			}
			out = append(out, fleetOverrideAuthz{template: tmpl, override: o, uses: uses})
		}
	}
	return out, true
}
