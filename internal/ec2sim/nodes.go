package ec2sim

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/tailor-sh/tailor/api/v1"
)

// KWOKAnnotation (value "fake") on a Node at creation makes KWOK keep it Ready and run its pods.
const KWOKAnnotation = "kwok.x-k8s.io/node"

// ZoneIDLabelKey is the zone ID label the AWS cloud controller manager sets.
const ZoneIDLabelKey = "topology.k8s.aws/zone-id"

func providerID(i *instance) string { return "aws:///" + i.Zone + "/" + i.ID }

// nodeWork is what a tick must do in the cluster, decided under the cloud's lock and done outside it.
type nodeWork struct {
	create  []*instance
	reclaim []*instance
	remove  []*instance
}

// tick advances the cloud to now, saves if anything changed, and says which Nodes to create and delete.
func (c *cloud) tick(registerNodes bool) nodeWork {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if c.advance(now) {
		c.save()
	}
	var w nodeWork
	if !registerNodes {
		return w
	}
	for _, i := range c.orderedInstances() {
		if i.State == stateRunning && !i.NodeCreated && !i.NeverRegister &&
			!now.Before(i.RunningAt.Add(time.Duration(i.BootLatency))) {
			w.create = append(w.create, i.clone())
		}
		dying := i.State == stateShuttingDown || i.State == stateTerminated
		if dying && i.NodeCreated && !i.NodeDeleted && !i.NodeReclaimed {
			w.reclaim = append(w.reclaim, i.clone())
		}
		if i.State == stateTerminated && i.NodeCreated && !i.NodeDeleted {
			w.remove = append(w.remove, i.clone())
		}
	}
	return w
}

// markNode records that an instance's Node was created or deleted. Like markReclaimed and markNever it does not
// write the state file, which holds every instance: a tick doing the work of many Nodes writes it once at its end
// (flush). Work done but not yet saved when the simulator dies is done again after the restart, and each piece
// of it tolerates that: the Node exists already (ours), is gone already, or has its kubelet stopped already.
func (c *cloud) markNode(id string, created, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.instances[id]
	if !ok {
		return
	}
	i.NodeCreated = i.NodeCreated || created
	i.NodeDeleted = i.NodeDeleted || deleted
	c.unsaved = true
}

// markReclaimed records that the Node of a dying instance lost its kubelet and its pods (reclaimNode).
func (c *cloud) markReclaimed(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.instances[id]; ok {
		i.NodeReclaimed = true
		c.unsaved = true
	}
}

// flushState writes the state file if a change was recorded without writing it.
func (c *cloud) flushState() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
}

// Tick moves every instance along to the clock's now and, with a kube client, registers the Nodes of booted
// instances, stops the kubelet of shutting-down ones (their pods stop running: reclaimNode) and deletes the Nodes
// of terminated ones. Serve calls it every TickInterval; tests with a fake clock call
// it after stepping the clock. It writes the state file at most twice: after moving the instances along, and after
// the Node work.
func (s *Sim) Tick(ctx context.Context) error {
	w := s.cloud.tick(s.opts.KubeClient != nil)
	defer s.cloud.flushState()
	var errs []error
	for _, i := range w.create {
		node, err := s.buildNode(i)
		if err != nil {
			// The user data cannot be read: the kubelet would not start either, so the Node never registers.
			s.opts.Log.Error(err, "instance will not register", "instance", i.ID)
			s.cloud.markNever(i.ID)
			continue
		}
		_, err = s.opts.KubeClient.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// Ours from before a restart, or the Node of an earlier instance that had the same private address and
			// is still being taken down (its finalizers): then this kubelet waits, as a real one would fail to
			// register, and tries again on the next tick.
			existing, getErr := s.opts.KubeClient.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if getErr != nil && !apierrors.IsNotFound(getErr) {
				errs = append(errs, fmt.Errorf("reading node %s for %s: %w", node.Name, i.ID, getErr))
				continue
			}
			if getErr != nil || existing.Spec.ProviderID != node.Spec.ProviderID {
				s.opts.Log.V(1).Info("node name still held by an earlier instance's Node; registering later", "node", node.Name, "instance", i.ID)
				continue
			}
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("registering node %s of %s: %w", node.Name, i.ID, err))
			continue
		}
		s.opts.Log.Info("registered node", "node", node.Name, "instance", i.ID)
		s.cloud.markNode(i.ID, true, false)
	}
	// Before the removals: an instance that went from running to terminated within one tick still loses its pods
	// visibly, as a pod on a deleted Node would otherwise look Running until the pod garbage collector comes.
	for _, i := range w.reclaim {
		if err := s.reclaimNode(ctx, i); err != nil {
			errs = append(errs, err)
			continue
		}
		s.cloud.markReclaimed(i.ID)
	}
	for _, i := range w.remove {
		if err := s.deleteOwnNode(ctx, i); err != nil {
			errs = append(errs, err)
			continue
		}
		s.opts.Log.Info("deleted node", "node", i.PrivateDNSName, "instance", i.ID)
		s.cloud.markNode(i.ID, false, true)
		if err := s.deleteReclaimedPods(ctx, i.PrivateDNSName); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteOwnNode deletes the instance's Node, unless the Node of that name is gone or a newer instance's (ownsNode).
func (s *Sim) deleteOwnNode(ctx context.Context, i *instance) error {
	nodes := s.opts.KubeClient.CoreV1().Nodes()
	node, err := nodes.Get(ctx, i.PrivateDNSName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading node %s of %s: %w", i.PrivateDNSName, i.ID, err)
	case !ownsNode(node, i.ID):
		s.opts.Log.V(1).Info("node name is a newer instance's; left alone", "node", i.PrivateDNSName, "instance", i.ID)
		return nil
	}
	err = nodes.Delete(ctx, node.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting node %s of %s: %w", i.PrivateDNSName, i.ID, err)
	}
	return nil
}

func (c *cloud) markNever(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.instances[id]; ok {
		i.NeverRegister = true
		c.unsaved = true
	}
}

var kubeVersionPattern = regexp.MustCompile(`-(1\.\d+)-`)

// buildNode is the Node a booted instance's kubelet registers, with what the AWS cloud controller manager adds:
// labels, taints from the user data, capacity and allocatable, addresses, the provider ID and the KWOK annotation.
func (s *Sim) buildNode(i *instance) (*corev1.Node, error) {
	it, ok := s.cloud.types.byName[i.InstanceType]
	if !ok {
		return nil, fmt.Errorf("instance type %s is no longer known", i.InstanceType)
	}
	settings, err := parseUserData(i.UserData)
	if err != nil {
		return nil, fmt.Errorf("reading the user data of %s: %w", i.ID, err)
	}
	if err := settings.checkJoin(s.cloud.cfg.EKS); err != nil {
		return nil, fmt.Errorf("instance %s cannot join the cluster: %w", i.ID, err)
	}
	capacity, allocatable, err := nodeResources(it, i.RootVolumeGiB, &settings)
	if err != nil {
		return nil, fmt.Errorf("computing the resources of %s: %w", i.ID, err)
	}
	region := s.cloud.cfg.Region
	labels := mergeTags(settings.Labels, map[string]string{
		corev1.LabelArchStable:              it.Arch,
		corev1.LabelOSStable:                "linux",
		"beta.kubernetes.io/arch":           it.Arch,
		"beta.kubernetes.io/os":             "linux",
		corev1.LabelHostname:                i.PrivateDNSName,
		v1.InstanceTypeLabelKey:             it.Name,
		corev1.LabelInstanceType:            it.Name,
		v1.ZoneLabelKey:                     i.Zone,
		v1.RegionLabelKey:                   region,
		corev1.LabelFailureDomainBetaZone:   i.Zone,
		corev1.LabelFailureDomainBetaRegion: region,
		ZoneIDLabelKey:                      s.cloud.zoneID(i.Zone),
	})
	kubeletVersion := ""
	if img, ok := s.cloud.images[i.ImageID]; ok {
		if m := kubeVersionPattern.FindStringSubmatch(img.Name); m != nil {
			kubeletVersion = "v" + m[1] + ".0-eks"
		}
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   i.PrivateDNSName,
			Labels: labels,
			Annotations: map[string]string{
				KWOKAnnotation:                         "fake",
				"alpha.kubernetes.io/provided-node-ip": i.PrivateIP,
			},
		},
		Spec: corev1.NodeSpec{ProviderID: providerID(i), Taints: settings.Taints},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: allocatable,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: i.PrivateIP},
				{Type: corev1.NodeHostName, Address: i.PrivateDNSName},
				{Type: corev1.NodeInternalDNS, Address: i.PrivateDNSName},
			},
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:            it.Arch,
				OperatingSystem:         "linux",
				OSImage:                 "Amazon Linux 2023",
				KubeletVersion:          kubeletVersion,
				ContainerRuntimeVersion: "containerd://1.7.27",
				SystemUUID:              "ec2" + i.ID[2:],
				MachineID:               i.ID[2:],
			},
		},
	}
	return node, nil
}

// nodeResources computes a Node's capacity and allocatable: the type's capacity with the root volume as
// ephemeral storage and maxPods from the user data, minus the user data's reservations — or, when it names none,
// the AMI's defaults for the type.
func nodeResources(it *InstanceType, rootGiB int64, s *nodeSettings) (corev1.ResourceList, corev1.ResourceList, error) {
	capacity := it.Capacity.DeepCopy()
	if rootGiB <= 0 {
		rootGiB = 20
	}
	capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(rootGiB<<30, resource.BinarySI)
	if s.MaxPods > 0 {
		capacity[corev1.ResourcePods] = *resource.NewQuantity(s.MaxPods, resource.DecimalSI)
	}
	reserved := corev1.ResourceList{}
	if s.reserves() {
		for _, m := range []map[string]string{s.KubeReserved, s.SystemReserved} {
			rl, err := resourceList(m)
			if err != nil {
				return nil, nil, err
			}
			addResources(reserved, rl)
		}
		eviction, err := evictionReserve(s.EvictionHard, capacity)
		if err != nil {
			return nil, nil, err
		}
		addResources(reserved, eviction)
	} else {
		reserved = it.Reserved.DeepCopy()
		if reserved == nil {
			reserved = defaultReserved(it, capacity)
		}
	}
	allocatable := corev1.ResourceList{}
	for name, q := range capacity {
		left := q.DeepCopy()
		if r, ok := reserved[name]; ok {
			left.Sub(r)
		}
		if left.Sign() < 0 {
			left.Set(0)
		}
		allocatable[name] = left
	}
	return capacity, allocatable, nil
}

func addResources(into, add corev1.ResourceList) {
	for name, q := range add {
		sum := into[name]
		sum.Add(q)
		into[name] = sum
	}
}

// evictionReserve turns eviction-hard thresholds into reserved memory and ephemeral storage.
func evictionReserve(thresholds map[string]string, capacity corev1.ResourceList) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for signal, value := range thresholds {
		var name corev1.ResourceName
		switch signal {
		case "memory.available":
			name = corev1.ResourceMemory
		case "nodefs.available":
			name = corev1.ResourceEphemeralStorage
		default:
			continue
		}
		if pct, ok := strings.CutSuffix(value, "%"); ok {
			f, err := strconv.ParseFloat(pct, 64)
			if err != nil {
				return nil, fmt.Errorf("eviction threshold %s<%s: %w", signal, value, err)
			}
			c := capacity[name]
			out[name] = *resource.NewQuantity(int64(float64(c.Value())*f/100), resource.BinarySI)
			continue
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("eviction threshold %s<%s: %w", signal, value, err)
		}
		out[name] = q
	}
	return out, nil
}

// defaultReserved is what the EKS-optimized AL2023 AMI reserves when the user data sets nothing: kube-reserved
// CPU by the GKE-style ladder (6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above),
// memory 11MiB per pod plus 255MiB, 1GiB of ephemeral storage, and the kubelet's eviction thresholds
// (memory.available 100Mi, nodefs.available 10%).
func defaultReserved(it *InstanceType, capacity corev1.ResourceList) corev1.ResourceList {
	cores := it.VCPUs
	milli := int64(0)
	if cores >= 1 {
		milli += 60
	}
	if cores >= 2 {
		milli += 10
	}
	if cores >= 3 {
		milli += 5 * (min(cores, 4) - 2)
	}
	if cores > 4 {
		milli += (cores - 4) * 25 / 10
	}
	pods := capacity[corev1.ResourcePods]
	memMi := 11*pods.Value() + 255
	storage := capacity[corev1.ResourceEphemeralStorage]
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(milli, resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity((memMi+100)<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(1<<30+storage.Value()/10, resource.BinarySI),
	}
}
