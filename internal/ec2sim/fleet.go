package ec2sim

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// fleetRequest is a CreateFleet call.
type fleetRequest struct {
	ClientToken         string
	Type                string
	Configs             []fleetConfig
	TotalTarget         int
	OnDemandTarget      int
	SpotTarget          int
	DefaultCapacityType string
	SpotStrategy        string
	OnDemandStrategy    string
	// InstanceTags are the tags of the TagSpecification for resource type "instance".
	InstanceTags map[string]string
	// TaggedResourceTypes are the resource types the TagSpecifications name.
	TaggedResourceTypes []string
}

type fleetConfig struct {
	LaunchTemplateID   string
	LaunchTemplateName string
	Version            string
	Overrides          []fleetOverride
}

type fleetOverride struct {
	InstanceType string
	SubnetID     string
	Zone         string
	ImageID      string
	MaxPrice     string
	Priority     *float64
}

// fleetTokenTTL is how long a CreateFleet client token is remembered; EC2 keeps them for hours, but the SDK
// retries within seconds and a long memory would only grow.
const fleetTokenTTL = 10 * time.Minute

// fleetResult is CreateFleet's answer.
type fleetResult struct {
	at        time.Time
	FleetID   string
	Instances []fleetLaunch
	Errors    []fleetError
}

// fleetTemplate echoes the launch template an override belongs to.
type fleetTemplate struct {
	LaunchTemplateID   string
	LaunchTemplateName string
	Version            string
}

type fleetLaunch struct {
	Template     fleetTemplate
	Override     fleetOverride
	CapacityType string
	InstanceIDs  []string
}

type fleetError struct {
	Template     fleetTemplate
	Override     fleetOverride
	CapacityType string
	Code         string
	Message      string
}

// candidate is one override resolved to a capacity pool.
type candidate struct {
	order    int
	template fleetTemplate
	lt       *launchTemplate
	override fleetOverride
	it       *InstanceType
	subnet   *SubnetConfig
	imageID  string
}

// pool is a candidate for one capacity type, with its price and what is left in it.
type pool struct {
	*candidate
	capacityType string
	price        float64
	remaining    int
	// reservationID is the capacity reservation the pool launches into ("" for the open market), of
	// reservationTotal instances.
	reservationID    string
	reservationTotal int
}

// Spot and on-demand allocation strategies CreateFleet accepts.
const (
	strategyLowestPrice                 = "lowest-price"
	strategyPriceCapacityOptimized      = "price-capacity-optimized"
	strategyCapacityOptimized           = "capacity-optimized"
	strategyCapacityOptimizedPrioritize = "capacity-optimized-prioritized"
	strategyDiversified                 = "diversified"
	strategyPrioritized                 = "prioritized"
)

func (c *cloud) createFleet(req *fleetRequest) (*fleetResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.advance(now)
	for token, prev := range c.fleets {
		if now.Sub(prev.at) > fleetTokenTTL {
			delete(c.fleets, token)
		}
	}
	if prev, ok := c.fleets[req.ClientToken]; ok && req.ClientToken != "" {
		err := c.loseFleetResponse()
		c.flush()
		return prev, err
	}
	targets, err := fleetTargets(req)
	if err != nil {
		return nil, err
	}
	if targets[v1.CapacityTypeSpot] == 0 && slices.Contains(req.TaggedResourceTypes, "spot-instances-request") {
		return nil, errBadRequest("InvalidParameterCombination",
			"You cannot specify tags for Spot instances requests if there are no Spot instances requests being created by the request.")
	}
	cands, errs, err := c.fleetCandidates(req)
	if err != nil {
		return nil, err
	}
	res := &fleetResult{at: now, FleetID: "fleet-" + c.newUUID()}
	used := c.poolUsage()
	for _, ct := range []string{v1.CapacityTypeOnDemand, v1.CapacityTypeSpot} {
		n := targets[ct]
		if n == 0 {
			continue
		}
		strategy := req.OnDemandStrategy
		if ct == v1.CapacityTypeSpot {
			strategy = req.SpotStrategy
		}
		pools, perr := c.fleetPools(cands, ct, used)
		errs = append(errs, perr...)
		orderPools(pools, strategy, n)
		launched, lerrs := c.fillPools(now, req, res.FleetID, pools, n, strategy, used)
		res.Instances = append(res.Instances, launched...)
		errs = append(errs, lerrs...)
	}
	res.Errors = errs
	if req.ClientToken != "" {
		c.fleets[req.ClientToken] = res
	}
	err = c.loseFleetResponse()
	c.save()
	return res, err
}

// loseFleetResponse uses up one lost CreateFleet answer (Faults.LostFleetResponses), if any is left: the error the
// call answers instead of what it did. It runs with c.mu held, after the fleet launched; the caller saves.
func (c *cloud) loseFleetResponse() error {
	if c.faults.LostFleetResponses <= 0 {
		return nil
	}
	c.faults.LostFleetResponses--
	c.unsaved = true
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "An internal error has occurred (injected by ec2sim: the fleet was launched and its answer lost)."}
}

// fleetTargets splits the target capacity between on-demand and spot.
func fleetTargets(req *fleetRequest) (map[string]int, error) {
	if req.Type != "instant" {
		return nil, errInvalidParameterValue("ec2sim supports only fleets of Type instant, not %q", req.Type)
	}
	if req.TotalTarget < 1 {
		return nil, errInvalidParameterValue("TargetCapacitySpecification.TotalTargetCapacity must be at least 1")
	}
	if req.OnDemandTarget < 0 || req.SpotTarget < 0 || req.OnDemandTarget+req.SpotTarget > req.TotalTarget {
		return nil, errInvalidParameterValue("OnDemandTargetCapacity plus SpotTargetCapacity must not exceed TotalTargetCapacity")
	}
	def := req.DefaultCapacityType
	if def != v1.CapacityTypeSpot && def != v1.CapacityTypeOnDemand {
		return nil, errInvalidParameterValue("TargetCapacitySpecification.DefaultTargetCapacityType %q: use spot or on-demand", def)
	}
	t := map[string]int{v1.CapacityTypeOnDemand: req.OnDemandTarget, v1.CapacityTypeSpot: req.SpotTarget}
	t[def] += req.TotalTarget - req.OnDemandTarget - req.SpotTarget
	for ct, strategy := range map[string]string{v1.CapacityTypeSpot: req.SpotStrategy, v1.CapacityTypeOnDemand: req.OnDemandStrategy} {
		valid := []string{strategyLowestPrice, strategyPrioritized}
		if ct == v1.CapacityTypeSpot {
			valid = []string{strategyLowestPrice, strategyPriceCapacityOptimized, strategyCapacityOptimized,
				strategyCapacityOptimizedPrioritize, strategyDiversified}
		}
		if strategy != "" && !slices.Contains(valid, strategy) {
			return nil, errInvalidParameterValue("allocation strategy %q is not valid for %s: use one of %v", strategy, ct, valid)
		}
	}
	if req.SpotStrategy == "" {
		req.SpotStrategy = strategyLowestPrice
	}
	if req.OnDemandStrategy == "" {
		req.OnDemandStrategy = strategyLowestPrice
	}
	return t, nil
}

// fleetCandidates resolves every override to a launch template, subnet, instance type and image. Problems with
// the whole request are errors; problems with one override become per-override errors, as EC2 reports them.
func (c *cloud) fleetCandidates(req *fleetRequest) ([]*candidate, []fleetError, error) {
	if len(req.Configs) == 0 {
		return nil, nil, errMissingParameter("LaunchTemplateConfigs")
	}
	var cands []*candidate
	var errs []fleetError
	seen := map[[2]string]bool{}
	for ci, cfg := range req.Configs {
		lt, err := c.findTemplate(cfg.LaunchTemplateID, cfg.LaunchTemplateName)
		if err != nil {
			return nil, nil, err
		}
		if v := cfg.Version; v != "" && v != "$Latest" && v != "$Default" && v != "1" {
			return nil, nil, errBadRequest("InvalidLaunchTemplateId.VersionNotFound",
				"Could not find launch template version %s for launch template %s (ec2sim keeps version 1 only)", v, lt.ID)
		}
		tmpl := fleetTemplate{LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name, Version: cfg.Version}
		overrides := cfg.Overrides
		if len(overrides) == 0 {
			overrides = []fleetOverride{{InstanceType: lt.Data.InstanceType, SubnetID: lt.Data.SubnetID}}
		}
		for oi, o := range overrides {
			cand, ferr, err := c.resolveOverride(lt, tmpl, o)
			if err != nil {
				return nil, nil, fmt.Errorf("LaunchTemplateConfigs.%d.Overrides.%d: %w", ci+1, oi+1, err)
			}
			if ferr != nil {
				errs = append(errs, *ferr)
				continue
			}
			key := [2]string{cand.it.Name, cand.subnet.ID}
			if seen[key] {
				continue
			}
			seen[key] = true
			cand.order = len(cands)
			cands = append(cands, cand)
		}
	}
	return cands, errs, nil
}

func (c *cloud) resolveOverride(lt *launchTemplate, tmpl fleetTemplate, o fleetOverride) (*candidate, *fleetError, error) {
	if o.InstanceType == "" {
		return nil, nil, errMissingParameter("InstanceType (in the override or the launch template)")
	}
	subnet, err := c.overrideSubnet(lt, o)
	if err != nil {
		return nil, nil, err
	}
	o.SubnetID, o.Zone = subnet.ID, subnet.Zone
	imageID := o.ImageID
	if imageID == "" {
		imageID = lt.Data.ImageID
	}
	if imageID == "" {
		return nil, nil, errMissingParameter("ImageId (in the override or the launch template)")
	}
	imageID, err = c.resolveImage(imageID)
	if err != nil {
		return nil, nil, err
	}
	img, ok := c.images[imageID]
	if !ok {
		return nil, nil, errBadRequest("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", imageID)
	}
	ferr := func(code, format string, args ...any) *fleetError {
		return &fleetError{Template: tmpl, Override: o, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	it, ok := c.types.byName[o.InstanceType]
	if !ok {
		return nil, ferr("InvalidParameterValue", "The instance type '%s' does not exist", o.InstanceType), nil
	}
	if ec2Arch(it.Arch) != img.Architecture {
		return nil, ferr("InvalidParameterValue",
			"The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI.",
			ec2Arch(it.Arch), img.Architecture), nil
	}
	return &candidate{template: tmpl, lt: lt, override: o, it: it, subnet: subnet, imageID: imageID}, nil, nil
}

// overrideSubnet is the override's subnet, else one in its zone, else the launch template's.
func (c *cloud) overrideSubnet(lt *launchTemplate, o fleetOverride) (*SubnetConfig, error) {
	id := o.SubnetID
	if id == "" && o.Zone == "" {
		id = lt.Data.SubnetID
	}
	if id != "" {
		s, ok := c.subnets[id]
		if !ok {
			return nil, errBadRequest("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		}
		if o.Zone != "" && o.Zone != s.Zone {
			return nil, errInvalidParameterValue("Subnet %s is in %s, not in the override's AvailabilityZone %s", id, s.Zone, o.Zone)
		}
		return s, nil
	}
	if o.Zone == "" {
		return nil, errMissingParameter("SubnetId or AvailabilityZone (in the override)")
	}
	for i := range c.cfg.Subnets {
		if c.cfg.Subnets[i].Zone == o.Zone {
			return &c.cfg.Subnets[i], nil
		}
	}
	return nil, errInvalidParameterValue("No subnet in Availability Zone %s", o.Zone)
}

// fleetPools turns candidates into pools of one capacity type; candidates not sold that way become errors.
func (c *cloud) fleetPools(cands []*candidate, capacityType string, used map[poolKey]int) ([]*pool, []fleetError) {
	var pools []*pool
	var errs []fleetError
	for _, cand := range cands {
		if fe, ok := c.fleetFault(cand.it.Name, cand.subnet.Zone, capacityType); ok {
			errs = append(errs, fleetError{Template: cand.template, Override: cand.override, CapacityType: capacityType,
				Code: fe.Code, Message: fe.message(cand.it.Name, cand.subnet.Zone)})
			continue
		}
		off, ok := cand.it.offering(cand.subnet.Zone, capacityType)
		if !ok {
			errs = append(errs, fleetError{Template: cand.template, Override: cand.override, CapacityType: capacityType,
				Code: "Unsupported", Message: fmt.Sprintf(
					"Your requested instance type (%s) is not supported for %s in your requested Availability Zone (%s).",
					cand.it.Name, capacityType, cand.subnet.Zone)})
			continue
		}
		if capacityType == v1.CapacityTypeSpot && cand.override.MaxPrice != "" {
			max, err := strconv.ParseFloat(cand.override.MaxPrice, 64)
			if err == nil && off.PricePerHour > max {
				errs = append(errs, fleetError{Template: cand.template, Override: cand.override, CapacityType: capacityType,
					Code: "SpotMaxPriceTooLow", Message: fmt.Sprintf(
						"Your Spot request price of %s is lower than the minimum required Spot request fulfillment price of %.4f.",
						cand.override.MaxPrice, off.PricePerHour)})
				continue
			}
		}
		if id := cand.lt.Data.CapacityReservationID; id != "" {
			room, fe := c.reservationPool(cand, capacityType, id)
			if fe != nil {
				errs = append(errs, *fe)
				continue
			}
			r, _ := c.reservation(id)
			pools = append(pools, &pool{candidate: cand, capacityType: capacityType, price: off.PricePerHour,
				remaining: room - used[poolKey{id, "", ""}], reservationID: id, reservationTotal: r.Count})
			continue
		}
		k := poolKey{cand.it.Name, cand.subnet.Zone, capacityType}
		pools = append(pools, &pool{candidate: cand, capacityType: capacityType, price: off.PricePerHour,
			remaining: max(0, c.poolCapacity(k)-used[k])})
	}
	return pools, errs
}

// fleetFault is the last injected fleet error that matches the pool.
func (c *cloud) fleetFault(instanceType, zone, capacityType string) (FleetErrorFault, bool) {
	for i := len(c.faults.FleetErrors) - 1; i >= 0; i-- {
		if fe := c.faults.FleetErrors[i]; fe.matches(instanceType, zone, capacityType) {
			return fe, true
		}
	}
	return FleetErrorFault{}, false
}

// orderPools sorts pools in the order the strategy tries them. Ties keep the order of the overrides.
func orderPools(pools []*pool, strategy string, n int) {
	byPrice := func(a, b *pool) int { return cmp.Or(cmp.Compare(a.price, b.price), cmp.Compare(a.order, b.order)) }
	priority := func(p *pool) float64 {
		if p.override.Priority == nil {
			return math.Inf(1)
		}
		return *p.override.Priority
	}
	switch strategy {
	case strategyPriceCapacityOptimized:
		// Pools deep enough for the whole request first, cheapest first; then the deepest of the rest.
		slices.SortStableFunc(pools, func(a, b *pool) int {
			aDeep, bDeep := a.remaining >= n, b.remaining >= n
			switch {
			case aDeep && !bDeep:
				return -1
			case !aDeep && bDeep:
				return 1
			case aDeep && bDeep:
				return byPrice(a, b)
			}
			return cmp.Or(cmp.Compare(b.remaining, a.remaining), byPrice(a, b))
		})
	case strategyCapacityOptimized:
		slices.SortStableFunc(pools, func(a, b *pool) int {
			return cmp.Or(cmp.Compare(b.remaining, a.remaining), byPrice(a, b))
		})
	case strategyCapacityOptimizedPrioritize:
		slices.SortStableFunc(pools, func(a, b *pool) int {
			return cmp.Or(cmp.Compare(priority(a), priority(b)), cmp.Compare(b.remaining, a.remaining), byPrice(a, b))
		})
	case strategyPrioritized:
		slices.SortStableFunc(pools, func(a, b *pool) int {
			return cmp.Or(cmp.Compare(priority(a), priority(b)), byPrice(a, b))
		})
	default: // lowest-price, diversified
		slices.SortStableFunc(pools, byPrice)
	}
}

// fillPools launches n instances from the ordered pools. A pool tried while it has nothing left answers
// InsufficientInstanceCapacity. diversified takes one instance per pool in turn.
func (c *cloud) fillPools(now time.Time, req *fleetRequest, fleetID string, pools []*pool, n int, strategy string,
	used map[poolKey]int) ([]fleetLaunch, []fleetError) {
	var errs []fleetError
	launches := map[*pool]*fleetLaunch{}
	var order []*pool
	failed := map[*pool]bool{}
	take := func(p *pool, want int) int {
		got := 0
		for ; got < want && p.remaining > 0; got++ {
			inst, err := c.launchInstance(now, req, fleetID, p)
			if err != nil {
				ae := asAPIError(err)
				errs = append(errs, fleetError{Template: p.template, Override: p.override, CapacityType: p.capacityType,
					Code: ae.Code, Message: ae.Message})
				failed[p] = true
				break
			}
			p.remaining--
			if p.reservationID != "" {
				used[poolKey{p.reservationID, "", ""}]++
			} else {
				used[poolKey{p.it.Name, p.subnet.Zone, p.capacityType}]++
			}
			l, ok := launches[p]
			if !ok {
				l = &fleetLaunch{Template: p.template, Override: p.override, CapacityType: p.capacityType}
				launches[p] = l
				order = append(order, p)
			}
			l.InstanceIDs = append(l.InstanceIDs, inst.ID)
		}
		if got < want && p.remaining <= 0 && !failed[p] {
			failed[p] = true
			errs = append(errs, exhaustedError(p))
		}
		return got
	}
	left := n
	if strategy == strategyDiversified {
		for left > 0 {
			progress := false
			for _, p := range pools {
				if left > 0 && !failed[p] && take(p, 1) == 1 {
					left--
					progress = true
				}
			}
			if !progress {
				break
			}
		}
	} else {
		for _, p := range pools {
			if left == 0 {
				break
			}
			left -= take(p, left)
		}
	}
	out := make([]fleetLaunch, 0, len(order))
	for _, p := range order {
		out = append(out, *launches[p])
	}
	return out, errs
}

// exhaustedError is the fleet error of a pool with nothing left: a full reservation, else no capacity.
func exhaustedError(p *pool) fleetError {
	if p.reservationID != "" {
		return reservationCapacityExceeded(p)
	}
	return fleetError{Template: p.template, Override: p.override, CapacityType: p.capacityType,
		Code: "InsufficientInstanceCapacity", Message: fmt.Sprintf(
			"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). "+
				"Our system will be working on provisioning additional capacity.", p.it.Name, p.subnet.Zone)}
}

// launchInstance creates one pending instance in a pool.
func (c *cloud) launchInstance(now time.Time, req *fleetRequest, fleetID string, p *pool) (*instance, error) {
	ip, err := c.allocateIP(p.subnet)
	if err != nil {
		return nil, err
	}
	lt := p.lt
	groups := slices.Clone(lt.Data.SecurityGroupIDs)
	if len(groups) == 0 {
		for _, g := range c.cfg.SecurityGroups {
			groups = append(groups, g.ID)
			break
		}
	}
	rootGiB := int64(20)
	for _, bd := range lt.Data.BlockDeviceMappings {
		if bd.VolumeSize > 0 {
			rootGiB = bd.VolumeSize
			break
		}
	}
	c.launches++
	inst := &instance{
		Seq:                   c.launches,
		ID:                    c.newID("i"),
		InstanceType:          p.it.Name,
		Zone:                  p.subnet.Zone,
		SubnetID:              p.subnet.ID,
		CapacityType:          p.capacityType,
		ImageID:               p.imageID,
		PrivateIP:             ip,
		PrivateDNSName:        c.privateDNSName(ip),
		SecurityGroupIDs:      groups,
		Tags:                  mergeTags(lt.Data.InstanceTags, req.InstanceTags, map[string]string{"aws:ec2:fleet-id": fleetID}),
		LaunchTemplateID:      lt.ID,
		LaunchTemplateName:    lt.Name,
		LaunchTemplateVersion: "1",
		UserData:              lt.Data.UserData,
		RootVolumeGiB:         rootGiB,
		IAMInstanceProfile:    lt.Data.IAMInstanceProfile,
		ClientToken:           req.ClientToken,
		State:                 statePending,
		LaunchTime:            now,
		RunningAt:             now.Add(c.timing.LaunchLatency),
		BootLatency:           int64(c.timing.BootLatency),
	}
	inst.CapacityReservationID = p.reservationID
	if p.capacityType == v1.CapacityTypeSpot {
		inst.SpotRequestID = c.newID("sir")[:12]
	}
	c.drawFaults(inst)
	c.instances[inst.ID] = inst
	c.holdAddress(inst)
	c.log.V(1).Info("launched instance", "instance", inst.ID, "type", inst.InstanceType, "zone", inst.Zone,
		"capacityType", inst.CapacityType)
	return inst, nil
}

// drawFaults decides, from the seeded source, whether a new instance boots slowly, never registers or will be
// interrupted. Every draw is made whatever the rates, so changing one rate does not shift the others' sequence.
func (c *cloud) drawFaults(inst *instance) {
	f := c.faults
	slow, never, interrupt := c.rng.Float64(), c.rng.Float64(), c.rng.ExpFloat64()
	if slow < f.SlowBootRate {
		inst.BootLatency += int64(f.SlowBootLatency.Duration)
	}
	if never < f.NeverRegisterRate {
		inst.NeverRegister = true
	}
	for _, pattern := range f.NeverRegisterInstanceTypes {
		if matchWildcard(pattern, inst.InstanceType) {
			inst.NeverRegister = true
		}
	}
	if inst.CapacityType == v1.CapacityTypeSpot && f.SpotInterruptionsPerHour > 0 {
		life := time.Duration(interrupt / f.SpotInterruptionsPerHour * float64(time.Hour))
		inst.InterruptAt = inst.RunningAt.Add(life)
		inst.WarnAt = inst.InterruptAt.Add(-c.timing.InterruptionNotice)
		if inst.WarnAt.Before(inst.RunningAt) {
			inst.WarnAt = inst.RunningAt
		}
	}
}

// newUUID is a version-4-shaped UUID from the seeded source.
func (c *cloud) newUUID() string {
	a, b := c.rng.Uint64(), c.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, (b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}
