package state

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// NominationTTL is how long a nomination outlives its NodeClaim's initialization: a pod still pending that long after
// its node became usable was not scheduled there (something else took the room) and is planned again.
const NominationTTL = 30 * time.Second

// Cluster is the controllers' shared view of the cluster. Reads go to the informer cache; nominations live here.
type Cluster struct {
	kube client.Reader
	clk  clock.Clock

	mu          sync.Mutex
	nominations map[types.UID]nomination
	published   map[types.UID]Publication // what Tailor wrote into pods' status.nominatedNodeName
	rounds      map[string]int            // nominations made to each NodeClaim so far
	settled     map[string]settledRound   // the round of each NodeClaim's nominations published last, and where
	replacing   map[string]Replacement    // disruption commands waiting on their replacements, by id
}

type nomination struct {
	nodeClaim string
	at        time.Time
	pod       types.NamespacedName
	// released: Tailor took back the published status.nominatedNodeName on purpose (see Release); the pod still
	// waits for the NodeClaim.
	released bool
}

// NewCluster reads through kube (the manager's cache-backed client).
func NewCluster(clk clock.Clock, kube client.Reader) *Cluster {
	return &Cluster{kube: kube, clk: clk, nominations: map[types.UID]nomination{}, published: map[types.UID]Publication{},
		rounds: map[string]int{}, settled: map[string]settledRound{}, replacing: map[string]Replacement{}}
}

// Nominate records that pod waits for the node of nodeClaim.
func (c *Cluster) Nominate(pod *corev1.Pod, nodeClaim string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nominations[pod.UID] = nomination{nodeClaim: nodeClaim, at: c.clk.Now(), pod: client.ObjectKeyFromObject(pod)}
	c.rounds[nodeClaim]++
}

// Nomination returns the NodeClaim the pod was nominated to, if any.
func (c *Cluster) Nomination(pod *corev1.Pod) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nominations[pod.UID]
	return n.nodeClaim, ok
}

// HasNominations tells whether any pod is waiting on capacity Tailor launched for it.
func (c *Cluster) HasNominations() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nominations) > 0
}

// forget drops the nomination of a pod.
func (c *Cluster) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nominations, uid)
}

// InstanceTypesFunc gives the instance types a NodePool may launch (the cloud provider's GetInstanceTypes).
type InstanceTypesFunc func(ctx context.Context, np *apiv1.NodePool) ([]*cloudprovider.InstanceType, error)

// View is one consistent read of the cluster for a provisioning or disruption decision.
type View struct {
	Snapshot *scheduling.Snapshot
	// Pending pods to plan: unschedulable, not terminal, not nominated to capacity that is still coming.
	Pending []*corev1.Pod
	// NodePools by name, as read, and the ones whose instance types could not be had, with why.
	NodePools        map[string]*apiv1.NodePool
	NodePoolProblems map[string]error
	// NodeClaims by name.
	NodeClaims map[string]*apiv1.NodeClaim
	// InstanceTypes by NodePool name.
	InstanceTypes map[string][]*cloudprovider.InstanceType
	// Buffers are the CapacityBuffers, resolved to the virtual pods whose room Tailor keeps (see BufferPods).
	Buffers []*Buffer
	// StaticNodePools are the usable NodePools with spec.replicas, by name. They are not in Snapshot.NodePools:
	// pending pods never launch nodes from them (the static controller keeps their count), but their nodes are in
	// Snapshot.Nodes like any other.
	StaticNodePools map[string]*scheduling.NodePool
}

// Read builds a View: every node and in-flight NodeClaim with its pods, every usable NodePool with its usage and
// instance types, DaemonSets, volumes, and the pods that still need capacity.
func (c *Cluster) Read(ctx context.Context, instanceTypes InstanceTypesFunc) (*View, error) {
	var l lists
	for _, list := range []client.ObjectList{&l.nodes, &l.claims, &l.pools, &l.pods, &l.daemonSets, &l.pvs, &l.pvcs, &l.scs, &l.csiNodes} {
		if err := c.kube.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	if err := ListOptional(ctx, c.kube, &l.overlays); err != nil {
		return nil, err
	}
	v := &View{
		Snapshot:         &scheduling.Snapshot{},
		NodePools:        map[string]*apiv1.NodePool{},
		NodePoolProblems: map[string]error{},
		NodeClaims:       map[string]*apiv1.NodeClaim{},
		InstanceTypes:    map[string][]*cloudprovider.InstanceType{},
		StaticNodePools:  map[string]*scheduling.NodePool{},
	}
	for i := range l.claims.Items {
		v.NodeClaims[l.claims.Items[i].Name] = &l.claims.Items[i]
	}
	c.pruneClaims(v.NodeClaims)
	podsByNode, pending := c.sortPods(l.pods.Items)
	inFlight, usage := c.addNodes(v, l.nodes.Items, podsByNode, volumeLimits(l.csiNodes.Items))
	c.applyReplacing(v)
	waiting := c.addPending(v, pending, inFlight)
	addNodePools(ctx, v, l.pools.Items, usage, overlaid(instanceTypes, l.overlays.Items))
	for i := range l.daemonSets.Items {
		v.Snapshot.DaemonSetPods = append(v.Snapshot.DaemonSetPods, DaemonSetPod(&l.daemonSets.Items[i]))
	}
	for i := range l.pvs.Items {
		v.Snapshot.PersistentVolumes = append(v.Snapshot.PersistentVolumes, &l.pvs.Items[i])
	}
	for i := range l.pvcs.Items {
		v.Snapshot.PersistentVolumeClaims = append(v.Snapshot.PersistentVolumeClaims, &l.pvcs.Items[i])
	}
	for i := range l.scs.Items {
		v.Snapshot.StorageClasses = append(v.Snapshot.StorageClasses, &l.scs.Items[i])
	}
	buffers, err := ReadBuffers(ctx, c.kube)
	if err != nil {
		return nil, err
	}
	v.Buffers = buffers
	dead := c.deadNominations(v, waiting)
	v.Pending = append(v.Pending, dead...)
	holdRoom(waiting, dead)
	return v, nil
}

// holdRoom counts each pod still waiting for the kube-scheduler on the registered node it was nominated to: the plan
// must not give that room to other pending pods as well.
func holdRoom(waiting []waitingPod, dead []*corev1.Pod) {
	gone := map[types.UID]bool{}
	for _, p := range dead {
		gone[p.UID] = true
	}
	for _, w := range waiting {
		if w.node != nil && !gone[w.pod.UID] {
			w.node.Pods = append(w.node.Pods, w.pod)
		}
	}
}

// waitingPod is a pending pod nominated to a registered NodeClaim whose node (nil while the cache lacks it) still
// has room for it: the kube-scheduler is expected to bind it there.
type waitingPod struct {
	pod   *corev1.Pod
	claim *apiv1.NodeClaim
	node  *scheduling.ExistingNode
}

// lists are the objects one Read lists.
type lists struct {
	nodes      corev1.NodeList
	claims     apiv1.NodeClaimList
	pools      apiv1.NodePoolList
	pods       corev1.PodList
	daemonSets appsv1.DaemonSetList
	pvs        corev1.PersistentVolumeList
	pvcs       corev1.PersistentVolumeClaimList
	scs        storagev1.StorageClassList
	csiNodes   storagev1.CSINodeList
	overlays   apiv1.NodeOverlayList
}

// volumeLimits are the CSI attach limits each CSINode reports, by node name and driver; a driver without an
// allocatable count has none (kube-scheduler applies none either).
func volumeLimits(csiNodes []storagev1.CSINode) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for i := range csiNodes {
		for _, d := range csiNodes[i].Spec.Drivers {
			if d.Allocatable == nil || d.Allocatable.Count == nil {
				continue
			}
			if out[csiNodes[i].Name] == nil {
				out[csiNodes[i].Name] = map[string]int64{}
			}
			out[csiNodes[i].Name][d.Name] = int64(*d.Allocatable.Count)
		}
	}
	return out
}

// sortPods splits pods into those bound to a node (by node name) and those Tailor should find capacity for; pods
// that are bound, finished or gone lose their nomination.
func (c *Cluster) sortPods(pods []corev1.Pod) (map[string][]*corev1.Pod, []*corev1.Pod) {
	byNode := map[string][]*corev1.Pod{}
	var pending []*corev1.Pod
	c.forgetGone(pods)
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			c.done(p.UID)
		case p.Spec.NodeName != "":
			// Binding clears status.nominatedNodeName (ClearingNominatedNodeNameAfterBinding): nothing to undo.
			c.done(p.UID)
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		case Provisionable(p):
			pending = append(pending, p)
		}
	}
	return byNode, pending
}

// addNodes puts every node, and every NodeClaim whose node has not registered, into the snapshot, and sums each
// NodePool's usage over its NodeClaims.
func (c *Cluster) addNodes(v *View, nodes []corev1.Node, podsByNode map[string][]*corev1.Pod, limits map[string]map[string]int64) (map[string]*scheduling.ExistingNode, map[string]corev1.ResourceList) {
	registered := map[string]bool{}
	for i := range nodes {
		n := &nodes[i]
		registered[n.Spec.ProviderID] = true
		v.Snapshot.Nodes = append(v.Snapshot.Nodes, &scheduling.ExistingNode{
			Name:          n.Name,
			Labels:        n.Labels,
			Taints:        apiv1.PlanningTaints(n.Spec.Taints),
			Allocatable:   n.Status.Allocatable,
			Pods:          podsByNode[n.Name],
			Unschedulable: n.Spec.Unschedulable || !n.DeletionTimestamp.IsZero(),
			VolumeLimits:  limits[n.Name],
		})
	}
	usage := map[string]corev1.ResourceList{}
	inFlight := map[string]*scheduling.ExistingNode{}
	for _, nc := range sortedClaims(v.NodeClaims) {
		if pool := nc.Labels[apiv1.NodePoolLabelKey]; pool != "" {
			// Each NodeClaim is one node toward a limit on nodes.
			usage[pool] = add(usage[pool], claimCapacity(nc), corev1.ResourceList{"nodes": resource.MustParse("1")})
		}
		if (nc.Status.ProviderID != "" && registered[nc.Status.ProviderID]) || !nc.DeletionTimestamp.IsZero() {
			continue
		}
		n := &scheduling.ExistingNode{
			Name:        nc.Name,
			Labels:      claimLabels(nc),
			Taints:      nc.Spec.Taints,
			Allocatable: claimAllocatable(nc),
			InFlight:    true,
			NodeClaim:   nc.Name,
		}
		inFlight[nc.Name] = n
		v.Snapshot.Nodes = append(v.Snapshot.Nodes, n)
	}
	return inFlight, usage
}

// addPending keeps the pods that still need capacity. Nominated pods hold their place on the capacity coming for
// them instead, so a batch does not plan it twice. It returns the pods nominated to registered nodes that still
// have room for them, which deadNominations checks and holdRoom counts once the view is complete.
//
// Pods waiting on one registered node must fit there together with the pods bound to it: the kube-scheduler keeps
// room for every pod whose status.nominatedNodeName names the node, and if the nominations together overflow it none
// of them fits. The ones that do not fit lose their nomination (which clears what was published) and are planned
// again.
func (c *Cluster) addPending(v *View, pending []*corev1.Pod, inFlight map[string]*scheduling.ExistingNode) []waitingPod {
	var waiting []waitingPod
	nodes := map[string]*scheduling.ExistingNode{}
	for _, n := range v.Snapshot.Nodes {
		if !n.InFlight {
			nodes[n.Name] = n
		}
	}
	c.adoptPublished(pending, v.NodeClaims)
	held := map[string]scheduling.Resources{} // requests of the pods already waiting on each registered node
	for _, p := range pending {
		if n, ok := c.liveNomination(p, v.NodeClaims); ok {
			if target := inFlight[n]; target != nil {
				target.Pods = append(target.Pods, p)
				continue
			}
			if nc := v.NodeClaims[n]; nc != nil && nc.DeletionTimestamp.IsZero() {
				node := nodes[nc.Status.NodeName]
				if stillFits(p, node, held[nc.Status.NodeName]) {
					// Registered but the pod is not bound yet: the kube-scheduler will place it; do not plan again.
					held[nc.Status.NodeName] = held[nc.Status.NodeName].Add(scheduling.PodRequests(p))
					waiting = append(waiting, waitingPod{pod: p, claim: nc, node: node})
					continue
				}
			}
			// The node registered and the kube-scheduler filled it with other pods: the nomination is dead, plan
			// the pod now rather than NominationTTL after the node became usable.
			c.forget(p.UID)
		}
		v.Pending = append(v.Pending, p)
	}
	return waiting
}

// deadNominations finds, among pods nominated to initialized nodes with room for their requests, those that no
// registered node can take by every other rule either (a topology spread skew, an anti-affinity to a pod that landed
// there, a port): the kube-scheduler will not bind them, so their nominations are dropped and they are planned now
// rather than NominationTTL after the node became usable. The check is the simulator's, on the cluster's nodes and
// in-flight NodeClaims.
func (c *Cluster) deadNominations(v *View, waiting []waitingPod) []*corev1.Pod {
	var ready []*corev1.Pod
	for _, w := range waiting {
		// Before initialization the node may still carry startup or not-ready taints: only requests were checked.
		if initialized(w.claim) {
			ready = append(ready, w.pod)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	// Every node and in-flight NodeClaim, no NodePool: room the plan made elsewhere counts (a pod the kube-scheduler
	// put on this pod's node left its own place free on capacity still coming, where this pod may go instead).
	snap := *v.Snapshot
	snap.NodePools = nil
	res, err := scheduling.Solve(&snap, ready, scheduling.Options{})
	if err != nil {
		// A pod the simulator cannot read: the provisioning plan reports it; keep waiting here.
		return nil
	}
	var dead []*corev1.Pod
	for _, u := range res.Unschedulable {
		c.forget(u.Pod.UID)
		dead = append(dead, u.Pod)
	}
	return dead
}

// initialized tells whether a NodeClaim's node is Ready with its startup taints gone.
func initialized(nc *apiv1.NodeClaim) bool {
	cond := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized)
	return cond != nil && cond.Status == "True"
}

// stillFits tells whether a pod nominated to a registered node still has room there after the pods bound to it and
// held, the requests of other pods waiting on it. A node not in the snapshot yet, or without reported allocatable, is
// given the benefit of the doubt.
func stillFits(p *corev1.Pod, node *scheduling.ExistingNode, held scheduling.Resources) bool {
	if node == nil || len(node.Allocatable) == 0 {
		return true
	}
	used := held
	for _, bound := range node.Pods {
		used = used.Add(scheduling.PodRequests(bound))
	}
	return !node.Unschedulable && scheduling.PodRequests(p).Fits(scheduling.ResourcesFrom(node.Allocatable).Sub(used))
}

// addNodePools puts every NodePool that can launch into the snapshot, and records why the others cannot.
func addNodePools(ctx context.Context, v *View, pools []apiv1.NodePool, usage map[string]corev1.ResourceList, instanceTypes InstanceTypesFunc) {
	for i := range pools {
		np := &pools[i]
		v.NodePools[np.Name] = np
		if !np.DeletionTimestamp.IsZero() {
			continue
		}
		// A NodePool the API server accepted but the runtime checks refuse (a taint or label the kubelet would
		// reject) would launch nodes that never register: nothing is planned from it until it is fixed.
		if errs := np.RuntimeValidate(); len(errs) > 0 {
			v.NodePoolProblems[np.Name] = fmt.Errorf("invalid, fix the NodePool: %w", errs.ToAggregate())
			continue
		}
		its, err := instanceTypes(ctx, np)
		if err != nil {
			v.NodePoolProblems[np.Name] = err
			continue
		}
		v.InstanceTypes[np.Name] = its
		sp, err := SchedulingNodePool(np, its, usage[np.Name])
		if err != nil {
			v.NodePoolProblems[np.Name] = err
			continue
		}
		if np.IsStatic() {
			v.StaticNodePools[np.Name] = sp
			continue
		}
		v.Snapshot.NodePools = append(v.Snapshot.NodePools, sp)
	}
}

// liveNomination is the pod's nomination while its NodeClaim exists and became usable less than NominationTTL ago.
func (c *Cluster) liveNomination(p *corev1.Pod, claims map[string]*apiv1.NodeClaim) (string, bool) {
	name, ok := c.Nomination(p)
	if !ok {
		return "", false
	}
	nc := claims[name]
	if nc == nil || !nc.DeletionTimestamp.IsZero() {
		c.forget(p.UID)
		return "", false
	}
	if cond := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized); cond != nil && cond.Status == "True" &&
		c.clk.Since(cond.LastTransitionTime.Time) > NominationTTL {
		c.forget(p.UID)
		return "", false
	}
	return name, true
}

// Provisionable tells whether a pod is one Tailor should find capacity for: the kube-scheduler marked it
// Unschedulable, it is not bound, not terminal and not being deleted.
func Provisionable(p *corev1.Pod) bool {
	if p.Spec.NodeName != "" || !p.DeletionTimestamp.IsZero() ||
		p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable
		}
	}
	return false
}

// DaemonSetPod is the pod a DaemonSet would put on a new node.
func DaemonSetPod(ds *appsv1.DaemonSet) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(),
		Spec:       *ds.Spec.Template.Spec.DeepCopy(),
	}
}

func sortedClaims(m map[string]*apiv1.NodeClaim) []*apiv1.NodeClaim {
	out := make([]*apiv1.NodeClaim, 0, len(m))
	for _, nc := range m {
		out = append(out, nc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// claimLabels are the labels the NodeClaim's node will carry: its own labels plus every requirement with one value.
func claimLabels(nc *apiv1.NodeClaim) map[string]string {
	labels := map[string]string{}
	for _, r := range nc.Spec.Requirements {
		if r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 {
			labels[r.Key] = r.Values[0]
		}
	}
	for k, v := range nc.Labels {
		labels[k] = v
	}
	return labels
}

// claimCapacity is the launched instance's capacity, or what was requested while it is not launched yet.
func claimCapacity(nc *apiv1.NodeClaim) corev1.ResourceList {
	if len(nc.Status.Capacity) > 0 {
		return nc.Status.Capacity
	}
	return nc.Spec.Resources.Requests
}

// claimAllocatable is the launched instance's allocatable, or what was requested while it is not launched yet: the
// plan put exactly those pods there, so nothing else is assumed to fit.
func claimAllocatable(nc *apiv1.NodeClaim) corev1.ResourceList {
	if len(nc.Status.Allocatable) > 0 {
		return nc.Status.Allocatable
	}
	return bufferClaimRequests(nc)
}

func add(lists ...corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, rl := range lists {
		for k, q := range rl {
			sum := out[k]
			sum.Add(q)
			out[k] = sum
		}
	}
	return out
}
