package fake

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ProviderName is the name of the fake provider and the scheme of its provider IDs: fake:///<zone>/<id>.
const ProviderName = "fake"

// Method names a CloudProvider method, for QueueError and Calls.
type Method string

// The methods of cloudprovider.CloudProvider.
const (
	MethodCreate           Method = "Create"
	MethodDelete           Method = "Delete"
	MethodGet              Method = "Get"
	MethodList             Method = "List"
	MethodGetInstanceTypes Method = "GetInstanceTypes"
	MethodIsDrifted        Method = "IsDrifted"
)

// CloudProvider is an in-memory cloud. The zero value is not usable; call New.
type CloudProvider struct {
	mu             sync.Mutex
	instanceTypes  []*cloudprovider.InstanceType
	machines       map[string]*apiv1.NodeClaim // by provider ID
	drifted        map[string]cloudprovider.DriftReason
	queued         map[Method][]error
	calls          map[Method]int
	nodeClassReady bool
	nextID         int
	repairPolicies []cloudprovider.RepairPolicy // nil: the defaults
}

var _ cloudprovider.CloudProvider = (*CloudProvider)(nil)

// New returns a fake cloud selling the given instance types, whose node classes are all Ready.
func New(instanceTypes ...*cloudprovider.InstanceType) *CloudProvider {
	return &CloudProvider{
		instanceTypes:  instanceTypes,
		machines:       map[string]*apiv1.NodeClaim{},
		drifted:        map[string]cloudprovider.DriftReason{},
		queued:         map[Method][]error{},
		calls:          map[Method]int{},
		nodeClassReady: true,
	}
}

// QueueError makes the next call of method return err (errors queue up, one per call).
func (c *CloudProvider) QueueError(method Method, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued[method] = append(c.queued[method], err)
}

// SetNodeClassReady makes Create and GetInstanceTypes fail with NodeClassNotReadyError while ready is false.
func (c *CloudProvider) SetNodeClassReady(ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodeClassReady = ready
}

// SetDrifted makes IsDrifted report reason for the machine with this provider ID ("" clears it).
func (c *CloudProvider) SetDrifted(providerID string, reason cloudprovider.DriftReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drifted[providerID] = reason
}

// SetAvailable marks one offering (in)available, as a provider does after it saw no capacity.
func (c *CloudProvider) SetAvailable(instanceType, zone, capacityType string, available bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range c.instanceTypes {
		if it.Name != instanceType {
			continue
		}
		for i := range it.Offerings {
			if o := &it.Offerings[i]; o.Zone == zone && o.CapacityType == capacityType {
				o.Available = available
			}
		}
	}
}

// Calls is how many times method was called, including calls that failed.
func (c *CloudProvider) Calls(method Method) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// AddMachine puts a machine into the cloud as if something else had launched it (an orphan, say).
func (c *CloudProvider) AddMachine(nc *apiv1.NodeClaim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.machines[nc.Status.ProviderID] = nc.DeepCopy()
}

// begin counts a call and pops its queued error, if any. The caller holds c.mu.
func (c *CloudProvider) begin(m Method) error {
	c.calls[m]++
	q := c.queued[m]
	if len(q) == 0 {
		return nil
	}
	c.queued[m] = q[1:]
	return q[0]
}

// Create launches the cheapest available offering that the NodeClaim's requirements allow and whose type fits its
// requests, or returns the machine already launched for a NodeClaim of the same name.
func (c *CloudProvider) Create(_ context.Context, nodeClaim *apiv1.NodeClaim) (*apiv1.NodeClaim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodCreate); err != nil {
		return nil, err
	}
	if !c.nodeClassReady {
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("node class %q is not ready", nodeClaim.Spec.NodeClassRef.Name))
	}
	for _, m := range c.machines {
		if m.Name == nodeClaim.Name {
			return m.DeepCopy(), nil
		}
	}
	it, o, ok := c.cheapest(nodeClaim)
	if !ok {
		return nil, cloudprovider.NewInsufficientCapacityError(fmt.Errorf("no available offering fits nodeclaim %q", nodeClaim.Name))
	}
	c.nextID++
	out := nodeClaim.DeepCopy()
	out.Labels = maps.Clone(out.Labels)
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	maps.Copy(out.Labels, it.Labels)
	out.Labels[apiv1.ZoneLabelKey] = o.Zone
	out.Labels[apiv1.CapacityTypeLabelKey] = o.CapacityType
	out.Status.ProviderID = fmt.Sprintf("%s:///%s/fake-%d", ProviderName, o.Zone, c.nextID)
	out.Status.Capacity = it.Capacity.DeepCopy()
	out.Status.Allocatable = it.Allocatable()
	c.machines[out.Status.ProviderID] = out.DeepCopy()
	return out, nil
}

func (c *CloudProvider) cheapest(nodeClaim *apiv1.NodeClaim) (*cloudprovider.InstanceType, cloudprovider.Offering, bool) {
	var bestType *cloudprovider.InstanceType
	var best cloudprovider.Offering
	for _, it := range c.instanceTypes {
		if !it.Fits(nodeClaim.Spec.Resources.Requests) {
			continue
		}
		for _, o := range it.Offerings {
			if !o.Available || !it.Matches(o, nodeClaim.Spec.Requirements) {
				continue
			}
			if bestType == nil || o.PricePerHour < best.PricePerHour {
				bestType, best = it, o
			}
		}
	}
	return bestType, best, bestType != nil
}

// Delete removes the machine; NodeClaimNotFoundError when there is none.
func (c *CloudProvider) Delete(_ context.Context, nodeClaim *apiv1.NodeClaim) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodDelete); err != nil {
		return err
	}
	if _, ok := c.machines[nodeClaim.Status.ProviderID]; !ok {
		return cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("no machine %q", nodeClaim.Status.ProviderID))
	}
	delete(c.machines, nodeClaim.Status.ProviderID)
	return nil
}

// Get returns the machine; NodeClaimNotFoundError when there is none.
func (c *CloudProvider) Get(_ context.Context, providerID string) (*apiv1.NodeClaim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodGet); err != nil {
		return nil, err
	}
	m, ok := c.machines[providerID]
	if !ok {
		return nil, cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("no machine %q", providerID))
	}
	return m.DeepCopy(), nil
}

// List returns every machine, ordered by provider ID number.
func (c *CloudProvider) List(_ context.Context) ([]*apiv1.NodeClaim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodList); err != nil {
		return nil, err
	}
	out := make([]*apiv1.NodeClaim, 0, len(c.machines))
	for _, m := range c.machines {
		out = append(out, m.DeepCopy())
	}
	slices.SortFunc(out, func(a, b *apiv1.NodeClaim) int {
		return cmp.Compare(idNumber(a.Status.ProviderID), idNumber(b.Status.ProviderID))
	})
	return out, nil
}

func idNumber(providerID string) int {
	_, n, _ := strings.Cut(providerID[strings.LastIndex(providerID, "/")+1:], "-")
	i, _ := strconv.Atoi(n)
	return i
}

// GetInstanceTypes returns the instance types New was given (the same pointers, so SetAvailable shows through).
func (c *CloudProvider) GetInstanceTypes(_ context.Context, nodePool *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodGetInstanceTypes); err != nil {
		return nil, err
	}
	if !c.nodeClassReady {
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("node class %q is not ready", nodePool.Spec.Template.Spec.NodeClassRef.Name))
	}
	return slices.Clone(c.instanceTypes), nil
}

// SetRepairPolicies makes RepairPolicies return policies (nil: cloudprovider.DefaultRepairPolicies).
func (c *CloudProvider) SetRepairPolicies(policies []cloudprovider.RepairPolicy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repairPolicies = policies
}

// RepairPolicies returns what SetRepairPolicies recorded, or the defaults.
func (c *CloudProvider) RepairPolicies() []cloudprovider.RepairPolicy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.repairPolicies == nil {
		return cloudprovider.DefaultRepairPolicies()
	}
	return c.repairPolicies
}

// IsDrifted returns what SetDrifted recorded; NodeClaimNotFoundError when the machine is gone.
func (c *CloudProvider) IsDrifted(_ context.Context, nodeClaim *apiv1.NodeClaim) (cloudprovider.DriftReason, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.begin(MethodIsDrifted); err != nil {
		return "", err
	}
	if _, ok := c.machines[nodeClaim.Status.ProviderID]; !ok {
		return "", cloudprovider.NewNodeClaimNotFoundError(fmt.Errorf("no machine %q", nodeClaim.Status.ProviderID))
	}
	return c.drifted[nodeClaim.Status.ProviderID], nil
}

// Name returns "fake".
func (c *CloudProvider) Name() string { return ProviderName }
