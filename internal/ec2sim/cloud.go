package ec2sim

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Instance states, as EC2 names them, with their codes.
const (
	statePending      = "pending"
	stateRunning      = "running"
	stateShuttingDown = "shutting-down"
	stateTerminated   = "terminated"
)

var stateCodes = map[string]int{statePending: 0, stateRunning: 16, stateShuttingDown: 32, stateTerminated: 48}

// instance is one simulated EC2 instance. It is persisted as JSON.
type instance struct {
	// Seq orders instances by launch, the order DescribeInstances lists them in.
	Seq                   int64             `json:"seq"`
	ID                    string            `json:"id"`
	InstanceType          string            `json:"instanceType"`
	Zone                  string            `json:"zone"`
	SubnetID              string            `json:"subnetID"`
	CapacityType          string            `json:"capacityType"`
	ImageID               string            `json:"imageID"`
	PrivateIP             string            `json:"privateIP"`
	PrivateDNSName        string            `json:"privateDNSName"`
	SecurityGroupIDs      []string          `json:"securityGroupIDs,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	LaunchTemplateID      string            `json:"launchTemplateID,omitempty"`
	LaunchTemplateName    string            `json:"launchTemplateName,omitempty"`
	LaunchTemplateVersion string            `json:"launchTemplateVersion,omitempty"`
	UserData              string            `json:"userData,omitempty"`
	RootVolumeGiB         int64             `json:"rootVolumeGiB,omitempty"`
	IAMInstanceProfile    string            `json:"iamInstanceProfile,omitempty"`
	SpotRequestID         string            `json:"spotRequestID,omitempty"`
	// CapacityReservationID is the capacity reservation the instance runs in, if any.
	CapacityReservationID string `json:"capacityReservationID,omitempty"`
	ClientToken           string `json:"clientToken,omitempty"`

	State        string    `json:"state"`
	StateReason  string    `json:"stateReason,omitempty"`
	LaunchTime   time.Time `json:"launchTime"`
	RunningAt    time.Time `json:"runningAt"`
	ShutdownAt   time.Time `json:"shutdownAt,omitzero"`
	TerminatedAt time.Time `json:"terminatedAt,omitzero"`
	// InterruptAt is when a spot interruption terminates the instance; the warning goes out at WarnAt.
	InterruptAt   time.Time `json:"interruptAt,omitzero"`
	WarnAt        time.Time `json:"warnAt,omitzero"`
	WarningSent   bool      `json:"warningSent,omitempty"`
	BootLatency   int64     `json:"bootLatencyNanos"`
	NeverRegister bool      `json:"neverRegister,omitempty"`
	NodeCreated   bool      `json:"nodeCreated,omitempty"`
	NodeDeleted   bool      `json:"nodeDeleted,omitempty"`
	// NodeReclaimed is set once the Node of a shutting-down or terminated instance has been marked as having lost
	// its kubelet and its pods failed (reclaimNode).
	NodeReclaimed bool `json:"nodeReclaimed,omitempty"`
}

func (i *instance) clone() *instance {
	c := *i
	c.Tags = mergeTags(i.Tags)
	c.SecurityGroupIDs = slices.Clone(i.SecurityGroupIDs)
	return &c
}

// alive is true while the instance holds capacity and an address.
func (i *instance) alive() bool { return i.State != stateTerminated }

// launchTemplate is a launch template with its single version. It is persisted as JSON.
type launchTemplate struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	CreateTime time.Time          `json:"createTime"`
	Tags       map[string]string  `json:"tags,omitempty"`
	Data       launchTemplateData `json:"data"`
}

// launchTemplateData is what Tailor's AWS provider puts in a launch template.
type launchTemplateData struct {
	ImageID             string             `json:"imageID,omitempty"`
	InstanceType        string             `json:"instanceType,omitempty"`
	UserData            string             `json:"userData,omitempty"`
	SecurityGroupIDs    []string           `json:"securityGroupIDs,omitempty"`
	SubnetID            string             `json:"subnetID,omitempty"`
	IAMInstanceProfile  string             `json:"iamInstanceProfile,omitempty"`
	KeyName             string             `json:"keyName,omitempty"`
	HTTPTokens          string             `json:"httpTokens,omitempty"`
	HTTPPutHopLimit     int64              `json:"httpPutHopLimit,omitempty"`
	BlockDeviceMappings []blockDevice      `json:"blockDeviceMappings,omitempty"`
	InstanceTags        map[string]string  `json:"instanceTags,omitempty"`
	OtherTagSpecs       map[string]tagsMap `json:"otherTagSpecs,omitempty"`
	// CapacityReservationID is the reservation launches from the template target.
	CapacityReservationID string `json:"capacityReservationID,omitempty"`
}

type tagsMap map[string]string

type blockDevice struct {
	DeviceName string `json:"deviceName"`
	VolumeSize int64  `json:"volumeSize,omitempty"`
	VolumeType string `json:"volumeType,omitempty"`
	Encrypted  bool   `json:"encrypted,omitempty"`
}

// cloud is the simulated region. Every exported behaviour goes through its methods, which hold mu.
type cloud struct {
	mu     sync.Mutex
	clock  clock.Clock
	log    logr.Logger
	cfg    *Config
	types  *typeIndex
	timing Timing
	// pcg is the seeded source behind rng; its state is persisted so a restart continues the same sequence.
	pcg *rand.PCG
	rng *rand.Rand
	// faultPCG draws API faults apart from rng, so injecting them changes no instance ID or placement.
	faultPCG *rand.PCG
	faultRNG *rand.Rand
	seed     uint64
	requests atomic.Uint64

	defaultCapacity int
	capacity        []CapacityRule
	faults          Faults

	instances map[string]*instance
	// launches counts launched instances, for Seq.
	launches  int64
	templates map[string]*launchTemplate
	// fleets remembers CreateFleet answers by client token for fleetTokenTTL, so a retried request launches
	// nothing twice.
	fleets map[string]*fleetResult
	queues map[string]*queue

	subnets map[string]*SubnetConfig
	// addresses holds, by subnet ID, which addresses live instances hold (allocateIP, freeAddresses).
	addresses map[string]*addressBook
	groups    map[string]*SecurityGroupConfig
	images    map[string]*ImageConfig
	// imageOrder lists the images in the order DescribeImages answers: the config's, then those added later.
	imageOrder []*ImageConfig
	// addedImages and parameterOverrides are what the admin API changed, persisted in the state file.
	addedImages        []ImageConfig
	parameterOverrides map[string]string

	stateFile string
	// stateWrites counts the state file's rewrites, each of which serialises every instance.
	stateWrites int
	// unsaved is set by a change recorded without writing the state file (markNode and the like, made once per
	// Node); flush writes it, and so does any save.
	unsaved bool
}

func newCloud(opts *Options) (*cloud, error) {
	types, err := newTypeIndex(opts.InstanceTypes)
	if err != nil {
		return nil, err
	}
	for _, it := range types.list {
		it.Offerings = slices.DeleteFunc(it.Offerings, func(o Offering) bool {
			i := slices.IndexFunc(opts.Config.Zones, func(z ZoneConfig) bool { return z.Name == o.Zone })
			return i >= 0 && !opts.Config.Zones[i].sells(it.Name)
		})
	}
	c := &cloud{
		clock:              opts.Clock,
		log:                opts.Log,
		cfg:                opts.Config,
		types:              types,
		timing:             opts.Timing,
		pcg:                rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15),
		faultPCG:           rand.NewPCG(opts.Seed^0x5bd1e995, opts.Seed+0x27d4eb2f165667c5),
		seed:               opts.Seed,
		defaultCapacity:    opts.DefaultPoolCapacity,
		capacity:           slices.Clone(opts.Config.Capacity),
		faults:             opts.Faults,
		instances:          map[string]*instance{},
		templates:          map[string]*launchTemplate{},
		fleets:             map[string]*fleetResult{},
		queues:             map[string]*queue{},
		subnets:            map[string]*SubnetConfig{},
		addresses:          map[string]*addressBook{},
		groups:             map[string]*SecurityGroupConfig{},
		images:             map[string]*ImageConfig{},
		parameterOverrides: map[string]string{},
		stateFile:          opts.StateFile,
	}
	c.rng = rand.New(c.pcg)
	c.faultRNG = rand.New(c.faultPCG)
	for i := range c.cfg.Subnets {
		s := &c.cfg.Subnets[i]
		c.subnets[s.ID] = s
		if c.addresses[s.ID], err = newAddressBook(s); err != nil {
			return nil, err
		}
	}
	for i := range c.cfg.SecurityGroups {
		c.groups[c.cfg.SecurityGroups[i].ID] = &c.cfg.SecurityGroups[i]
	}
	for i := range c.cfg.Images {
		img := c.cfg.Images[i]
		c.images[img.ID] = &img
		c.imageOrder = append(c.imageOrder, &img)
	}
	for _, name := range c.cfg.Queues {
		c.queues[name] = newQueue(name, c.clock)
	}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// newID makes an EC2-style ID: prefix, a dash and 17 hex digits from the seeded source.
func (c *cloud) newID(prefix string) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.rng.Uint64())
	return fmt.Sprintf("%s-%016x%x", prefix, b, c.rng.IntN(16))
}

// zoneID returns the zone ID of a zone name.
func (c *cloud) zoneID(zone string) string {
	for _, z := range c.cfg.Zones {
		if z.Name == zone {
			return z.ID
		}
	}
	return ""
}

func (c *cloud) hasZone(zone string) bool { return c.zoneID(zone) != "" }

// orderedInstances returns the instances in launch order, the order DescribeInstances pages through.
func (c *cloud) orderedInstances() []*instance {
	list := make([]*instance, 0, len(c.instances))
	for _, i := range c.instances {
		list = append(list, i)
	}
	slices.SortFunc(list, func(a, b *instance) int { return cmp.Compare(a.Seq, b.Seq) })
	return list
}

// poolUsage counts the live instances in each capacity pool.
func (c *cloud) poolUsage() map[poolKey]int {
	used := map[poolKey]int{}
	for _, i := range c.instances {
		if i.alive() && i.CapacityReservationID == "" {
			used[poolKey{i.InstanceType, i.Zone, i.CapacityType}]++
		}
	}
	return used
}

type poolKey struct{ instanceType, zone, capacityType string }

// poolCapacity is the size of a pool: the last matching capacity rule, else the default (0 for an offering
// marked unavailable).
func (c *cloud) poolCapacity(k poolKey) int {
	size := c.defaultCapacity
	if it, ok := c.types.byName[k.instanceType]; ok {
		if o, ok := it.offering(k.zone, k.capacityType); ok && o.Unavailable {
			size = 0
		}
	}
	for _, r := range c.capacity {
		if r.matches(k.instanceType, k.zone, k.capacityType) {
			size = r.Capacity
		}
	}
	return size
}

// allocateIP returns the lowest free address of a subnet, skipping the four AWS reserves at the start and the
// broadcast address at the end. The address is taken when the instance is stored (holdAddress).
func (c *cloud) allocateIP(subnet *SubnetConfig) (string, error) {
	b, ok := c.addresses[subnet.ID]
	if !ok {
		return "", fmt.Errorf("subnet %s is not in the config", subnet.ID)
	}
	if ip, ok := b.lowest(); ok {
		return ip, nil
	}
	return "", errBadRequest("InsufficientFreeAddressesInSubnet",
		"There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", subnet.ID)
}

// freeAddresses is what DescribeSubnets reports as AvailableIpAddressCount.
func (c *cloud) freeAddresses(subnet *SubnetConfig) int {
	if b, ok := c.addresses[subnet.ID]; ok {
		return b.free()
	}
	return 0
}

// privateDNSName is the name EC2 gives an address: ip-10-0-1-5.ec2.internal in us-east-1,
// ip-10-0-1-5.<region>.compute.internal elsewhere.
func (c *cloud) privateDNSName(ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if c.cfg.Region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + c.cfg.Region + ".compute.internal"
}

// parameter returns an SSM parameter's value.
func (c *cloud) parameter(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cfg.Parameters[name]
	return v, ok
}

// setParameter creates or changes an SSM parameter, as AWS does when it publishes a new image.
func (c *cloud) setParameter(name, value string) error {
	if !strings.HasPrefix(name, "/") || value == "" {
		return fmt.Errorf("parameter %q = %q: the name must start with / and the value must not be empty", name, value)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg.Parameters[name] = value
	c.parameterOverrides[name] = value
	c.save()
	return nil
}

// addImage registers a new image (and points its SSM parameters at it), as AWS does when it publishes a release.
func (c *cloud) addImage(img ImageConfig) (ImageConfig, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.registerImage(&img); err != nil {
		return ImageConfig{}, err
	}
	c.addedImages = append(c.addedImages, img)
	c.save()
	return img, nil
}

func (c *cloud) registerImage(img *ImageConfig) error {
	if img.Name == "" {
		return fmt.Errorf("image name: must be set")
	}
	if img.Architecture != "x86_64" && img.Architecture != "arm64" {
		return fmt.Errorf("image architecture %q: use \"x86_64\" or \"arm64\"", img.Architecture)
	}
	if img.ID == "" {
		img.ID = stableID("ami", img.Name)
	}
	if _, dup := c.images[img.ID]; dup {
		return fmt.Errorf("image %s already exists", img.ID)
	}
	if img.OwnerID == "" {
		img.OwnerID = eksOwnerID
	}
	if img.OwnerAlias == "" && img.OwnerID == eksOwnerID {
		img.OwnerAlias = "amazon"
	}
	if img.CreationDate == "" {
		img.CreationDate = ec2Time(c.clock.Now())
	}
	stored := *img
	c.images[img.ID] = &stored
	c.imageOrder = append(c.imageOrder, &stored)
	for _, p := range img.SSMParameters {
		c.cfg.Parameters[p] = img.ID
	}
	return nil
}

// resolveImage follows "resolve:ssm:<parameter>" to the image ID the parameter holds.
func (c *cloud) resolveImage(id string) (string, error) {
	if param, ok := strings.CutPrefix(id, "resolve:ssm:"); ok {
		v, found := c.cfg.Parameters[param]
		if !found {
			return "", errInvalidParameterValue("The SSM parameter %s referenced by the image ID does not exist", param)
		}
		return v, nil
	}
	return id, nil
}
