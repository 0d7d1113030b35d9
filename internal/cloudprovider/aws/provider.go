package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// ProviderName is the provider's name and the scheme of its provider IDs: aws:///<zone>/<instance-id>.
const ProviderName = "aws"

// Tags Tailor puts on what it creates. TagCluster and TagClusterUID mark ownership: Tailor only ever terminates
// instances carrying TagCluster with its own cluster name and, if they carry TagClusterUID, its own cluster UID.
const (
	TagCluster = apiv1.Group + "/cluster"
	// TagClusterUID is the cluster's UID (Options.ClusterUID): it tells apart clusters of the same name in one
	// account. A resource carrying TagCluster with this cluster's name but another UID is not this cluster's; one
	// without TagClusterUID (launched before Tailor tagged UIDs) still is.
	TagClusterUID   = apiv1.Group + "/cluster-uid"
	TagNodePool     = apiv1.Group + "/nodepool"
	TagNodeClaim    = apiv1.Group + "/nodeclaim"
	TagEC2NodeClass = apiv1.Group + "/ec2nodeclass"
	TagName         = "Name"
	// TagNodeClassHash is NodeClassHash of the node class when the instance launched (or the launch template was
	// made).
	TagNodeClassHash = apiv1.Group + "/ec2nodeclass-hash"
	// TagAMI on a launch template is the image it boots.
	TagAMI = apiv1.Group + "/ami"
	// tagKubernetesClusterPrefix + cluster name = "owned" is the tag the Kubernetes AWS integrations look for.
	tagKubernetesClusterPrefix = "kubernetes.io/cluster/"
)

// AnnotationNodeClassHash on a NodeClaim is the hash of its node class's spec when the instance launched (see
// NodeClassHash); IsDrifted compares it with the current one.
const AnnotationNodeClassHash = apiv1.Group + "/ec2nodeclass-hash"

// Provider is the AWS cloud provider. Build it with New.
type Provider struct {
	opts        Options
	ec2         EC2API
	ssm         SSMAPI
	kube        client.Reader
	clk         clock.Clock
	data        *ec2DataSource
	unavailable *UnavailableOfferings
	// reservationLaunches counts launches into capacity reservations since their counts were read.
	reservationLaunches reservationLaunches
	templates           *launchTemplates
	unsettled           unsettledFleets
	// started is when the provider was built: the launch template collector trusts "not used lately" only once the
	// process has been up that long.
	started time.Time

	mu            sync.Mutex
	instanceTypes map[string]instanceTypesEntry // by node class name

	// snapshot is the last listing of the cluster's instances, which IsDrifted answers from (instancesnapshot.go).
	snapshot instanceSnapshot
}

type instanceTypesEntry struct {
	key   string
	types []*cloudprovider.InstanceType
}

var _ cloudprovider.CloudProvider = (*Provider)(nil)

// New builds the provider. opts is completed (see Options.Complete); clients.EC2, clients.SSM and clients.Pricing,
// kube (which reads EC2NodeClasses) and clk are required.
func New(opts Options, clients Clients, kube client.Reader, clk clock.Clock) (*Provider, error) {
	if err := opts.Complete(); err != nil {
		return nil, err
	}
	switch {
	case clients.EC2 == nil || clients.SSM == nil || clients.Pricing == nil:
		return nil, errors.New("aws provider: the EC2, SSM and Pricing clients are required")
	case kube == nil:
		return nil, errors.New("aws provider: a Kubernetes client is required to read EC2NodeClasses")
	case clk == nil:
		return nil, errors.New("aws provider: a clock is required")
	}
	p := &Provider{
		opts:          opts,
		ec2:           clients.EC2,
		ssm:           clients.SSM,
		kube:          kube,
		clk:           clk,
		unavailable:   NewUnavailableOfferings(clk, opts.UnavailableOfferingsTTL),
		instanceTypes: map[string]instanceTypesEntry{},
		data: &ec2DataSource{
			ec2: clients.EC2, pricing: clients.Pricing, region: opts.Region, offline: opts.Catalog, clk: clk,
			typesTTL: opts.InstanceTypesTTL, pricesTTL: opts.PricesTTL,
		},
	}
	p.templates = &launchTemplates{ec2: clients.EC2, clk: clk, owner: p.ownerTags(), byName: map[string]string{}, usedAt: map[string]time.Time{}}
	p.started = clk.Now()
	return p, nil
}

// ownsTags tells whether tags mark a resource as this cluster's: TagCluster is the cluster's name and TagClusterUID,
// when the resource carries one, is the cluster's UID. A resource without TagClusterUID was made before Tailor tagged
// UIDs (or by a cluster that does not know its UID) and stays the named cluster's, so an upgrade does not orphan the
// fleet; a provider without a UID owns by name alone.
func (p *Provider) ownsTags(tags map[string]string) bool {
	if tags[TagCluster] != p.opts.ClusterName {
		return false
	}
	uid, tagged := tags[TagClusterUID]
	return !tagged || p.opts.ClusterUID == "" || uid == p.opts.ClusterUID
}

// ownerTags are the tags that mark what the provider creates as this cluster's.
func (p *Provider) ownerTags() map[string]string {
	tags := map[string]string{TagCluster: p.opts.ClusterName}
	if p.opts.ClusterUID != "" {
		tags[TagClusterUID] = p.opts.ClusterUID
	}
	return tags
}

// Name returns "aws".
func (p *Provider) Name() string { return ProviderName }

// UnavailableOfferings is the provider's cache of pools EC2 recently had no capacity in.
func (p *Provider) UnavailableOfferings() *UnavailableOfferings { return p.unavailable }

// nodeClass reads the EC2NodeClass and checks it is Ready; NodeClassNotReadyError otherwise.
func (p *Provider) nodeClass(ctx context.Context, name string) (*apiv1.EC2NodeClass, error) {
	nc := &apiv1.EC2NodeClass{}
	if err := p.kube.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q does not exist", name))
		}
		return nil, fmt.Errorf("getting EC2NodeClass %q: %w", name, err)
	}
	ready := nc.StatusConditions().Get(apiv1.ConditionTypeReady)
	switch {
	case ready == nil:
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q has not been resolved yet", name))
	case ready.Status != "True":
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q: %s", name, ready.Message))
	case ready.ObservedGeneration != nc.Generation:
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q changed (generation %d) and has not been resolved again (observed %d)", name, nc.Generation, ready.ObservedGeneration))
	}
	return nc, nil
}

// GetInstanceTypes returns the instance types the NodePool's EC2NodeClass can launch. See
// cloudprovider.CloudProvider.
func (p *Provider) GetInstanceTypes(ctx context.Context, nodePool *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	nc, err := p.nodeClass(ctx, nodePool.Spec.Template.Spec.NodeClassRef.Name)
	if err != nil {
		return nil, err
	}
	return p.instanceTypesFor(ctx, nc)
}

// instanceTypesFor builds (or returns the cached) instance types of a node class. The cache entry is reused while
// EC2's data, the unavailable offerings and the node class's relevant fields are unchanged.
func (p *Provider) instanceTypesFor(ctx context.Context, nc *apiv1.EC2NodeClass) ([]*cloudprovider.InstanceType, error) {
	data, err := p.data.get(ctx)
	if err != nil {
		return nil, err
	}
	settings, err := settingsFor(nc)
	if err != nil {
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q: %w", nc.Name, err))
	}
	p.unavailable.Expire()
	key := fmt.Sprintf("%d/%d/%d/%s", data.version, p.unavailable.Version(), p.reservationLaunches.Version(),
		hashOf(nc.Spec.Kubelet, nc.Spec.BlockDeviceMappings, nc.Status.Subnets, nc.Status.AMIs, nc.Status.CapacityReservations))
	p.mu.Lock()
	entry, ok := p.instanceTypes[nc.Name]
	p.mu.Unlock()
	if ok && entry.key == key {
		return entry.types, nil
	}
	types, err := buildInstanceTypes(data, settings, &p.opts, p.unavailable)
	if err != nil {
		return nil, cloudprovider.NewNodeClassNotReadyError(fmt.Errorf("EC2NodeClass %q: %w", nc.Name, err))
	}
	types = p.withReservations(types, nc, settings.zones)
	p.mu.Lock()
	p.instanceTypes[nc.Name] = instanceTypesEntry{key: key, types: types}
	p.mu.Unlock()
	return types, nil
}

// hashOf is a short, stable hash of the JSON encoding of values.
func hashOf(values ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			// Every value hashed here is an API type or a plain struct; failing to encode one is a programming error.
			panic(fmt.Sprintf("hashing %T: %v", v, err))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// NodeClassHash is the hash of the parts of an EC2NodeClass's spec that shape an instance other than through the
// selectors (whose results drift is checked against directly): AMI family, user data, disks, metadata options,
// tags, kubelet settings, public IP and IAM identity.
func NodeClassHash(nc *apiv1.EC2NodeClass) string {
	s := nc.Spec
	return hashOf(s.AMIFamily, s.UserData, s.BlockDeviceMappings, s.MetadataOptions, s.Tags, s.Kubelet,
		s.AssociatePublicIPAddress, s.Role, s.InstanceProfile)
}
