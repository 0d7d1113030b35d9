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
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// NominationTTL is how long a nomination outlives its NodeClaim's initialization once the kube-scheduler has tried
// the pod again: a pod still pending that long after its node became usable, and refused since, was not scheduled
// there for a reason the simulator does not see, and is planned again.
const NominationTTL = 30 * time.Second

// NominationPatience is how long a nomination outlives its NodeClaim's initialization while the kube-scheduler has
// not visibly tried the pod again (its PodScheduled message is the one it had when Tailor first saw the node
// initialized). In a scale-up of thousands of pods the kube-scheduler takes minutes to get to each one; ending the
// nominations by NominationTTL alone cleared their published nominations, let other pods take the room, and had
// emptiness delete new nodes whose pods were still queued (make scale, docs/performance.md).
const NominationPatience = 10 * time.Minute

// Cluster is the controllers' shared view of the cluster. Reads go to the informer cache and never change the
// Cluster; nominations and disruption's replacement marks live here.
type Cluster struct {
	kube        client.Reader
	informers   cache.Informers // when set, pods are listed from the informers' store (Pods)
	clk         clock.Clock
	nominations *Nominations

	mu        sync.Mutex
	replacing map[string]Replacement // disruption commands waiting on their replacements, by id
}

// NewCluster reads through kube (the manager's cache-backed client).
func NewCluster(clk clock.Clock, kube client.Reader) *Cluster {
	return &Cluster{kube: kube, clk: clk, nominations: NewNominations(), replacing: map[string]Replacement{}}
}

// Nominations is provisioning's record of the pods waiting for capacity it launched. Only provisioning changes it
// (Nominations' transitions and Prune); other controllers read it through Read's views.
func (c *Cluster) Nominations() *Nominations { return c.nominations }

// InstanceTypesFunc gives the instance types a NodePool may launch (the cloud provider's GetInstanceTypes).
type InstanceTypesFunc func(ctx context.Context, np *apiv1.NodePool) ([]*cloudprovider.InstanceType, error)

// View is one consistent read of the cluster for a provisioning or disruption decision.
type View struct {
	Snapshot *scheduling.Snapshot
	// Pending pods to plan: unschedulable, not terminal, without a live nomination (one to capacity still coming, or
	// to a registered node that still has room for them). SettleNominations adds the nominated pods the
	// kube-scheduler will not bind where they wait.
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

	// waiting are the pending pods nominated to registered nodes that still have room for them (their room is held
	// there); nominations is the read's copy of the nominations and what it decided about them, for Prune.
	waiting     []waitingPod
	nominations *nominationView
	settled     bool // SettleNominations ran
	pruned      bool // Prune applied the decisions
}

// Read lists the cluster and builds a View from it (buildView): every node and in-flight NodeClaim with its pods,
// every usable NodePool with its usage and instance types, DaemonSets, volumes, and the pods that still need
// capacity. It does not change the Cluster: what the read found about nominations (pods bound or gone, nominations
// that ended) is applied only by Prune, which provisioning calls.
func (c *Cluster) Read(ctx context.Context, instanceTypes InstanceTypesFunc) (*View, error) {
	l, err := c.list(ctx, instanceTypes)
	if err != nil {
		return nil, err
	}
	return buildView(l, c.clk.Now(), c.nominations.snapshot(), c.Replacing()), nil
}

// list reads every object a View is built from, the CapacityBuffers resolved, and each usable NodePool's instance
// types (with NodeOverlays applied) or why the NodePool cannot launch.
func (c *Cluster) list(ctx context.Context, instanceTypes InstanceTypesFunc) (*lists, error) {
	l := &lists{types: map[string][]*cloudprovider.InstanceType{}, problems: map[string]error{}}
	for _, list := range []client.ObjectList{&l.nodes, &l.claims, &l.pools, &l.daemonSets, &l.pvs, &l.pvcs, &l.scs, &l.csiNodes} {
		if err := c.kube.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	pods, err := c.Pods(ctx)
	if err != nil {
		return nil, err
	}
	l.pods = pods
	if err := ListOptional(ctx, c.kube, &l.overlays); err != nil {
		return nil, err
	}
	buffers, err := ReadBuffers(ctx, c.kube)
	if err != nil {
		return nil, err
	}
	l.buffers = buffers
	its := overlaid(instanceTypes, l.overlays.Items)
	for i := range l.pools.Items {
		np := &l.pools.Items[i]
		if !np.DeletionTimestamp.IsZero() {
			continue
		}
		// A NodePool the API server accepted but the runtime checks refuse (a taint or label the kubelet would
		// reject) would launch nodes that never register: nothing is planned from it until it is fixed.
		if errs := np.RuntimeValidate(); len(errs) > 0 {
			l.problems[np.Name] = fmt.Errorf("invalid, fix the NodePool: %w", errs.ToAggregate())
			continue
		}
		found, err := its(ctx, np)
		if err != nil {
			l.problems[np.Name] = err
			continue
		}
		l.types[np.Name] = found
	}
	return l, nil
}

// buildView turns one listing into a View at now, given a copy of the nominations and disruption's replacement
// marks. It is pure: it changes neither its inputs nor the Cluster, and the same arguments give the same View. What
// it finds about nominations is kept in the View for Prune.
func buildView(l *lists, now time.Time, noms map[types.UID]nominationEntry, marks map[string]Replacement) *View {
	v := &View{
		Snapshot:         &scheduling.Snapshot{},
		NodePools:        map[string]*apiv1.NodePool{},
		NodePoolProblems: map[string]error{},
		NodeClaims:       map[string]*apiv1.NodeClaim{},
		InstanceTypes:    map[string][]*cloudprovider.InstanceType{},
		StaticNodePools:  map[string]*scheduling.NodePool{},
		Buffers:          l.buffers,
		nominations:      newNominationView(noms),
	}
	for i := range l.claims.Items {
		v.NodeClaims[l.claims.Items[i].Name] = &l.claims.Items[i]
	}
	podsByNode, pending := sortPods(l.pods, v.nominations)
	claimNodes, usage := addNodes(v, l.nodes.Items, podsByNode, volumeLimits(l.csiNodes.Items))
	applyReplacing(v, marks, claimNodes)
	v.waiting = addPending(v, pending, claimNodes, now)
	addNodePools(v, l.pools.Items, usage, l.types, l.problems)
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
	holdRoom(v.waiting)
	return v
}

// holdRoom counts each pod still waiting for the kube-scheduler on the registered node it was nominated to: the plan
// must not give that room to other pending pods as well (SettleNominations takes it back for the pods the
// kube-scheduler will not bind there).
func holdRoom(waiting []waitingPod) {
	for _, w := range waiting {
		if w.node != nil {
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

// lists are the objects one Read lists, with what it resolved from them.
type lists struct {
	nodes      corev1.NodeList
	claims     apiv1.NodeClaimList
	pools      apiv1.NodePoolList
	pods       []*corev1.Pod
	daemonSets appsv1.DaemonSetList
	pvs        corev1.PersistentVolumeList
	pvcs       corev1.PersistentVolumeClaimList
	scs        storagev1.StorageClassList
	csiNodes   storagev1.CSINodeList
	overlays   apiv1.NodeOverlayList
	buffers    []*Buffer
	// types are the instance types of each NodePool that can launch; problems say why the others cannot.
	types    map[string][]*cloudprovider.InstanceType
	problems map[string]error
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
func sortPods(pods []*corev1.Pod, nv *nominationView) (map[string][]*corev1.Pod, []*corev1.Pod) {
	byNode := map[string][]*corev1.Pod{}
	var pending []*corev1.Pod
	nv.forgetGone(pods)
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
			nv.forget(p.UID)
		case p.Spec.NodeName != "":
			// Binding clears status.nominatedNodeName (ClearingNominatedNodeNameAfterBinding): nothing to undo.
			nv.forget(p.UID)
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		case Provisionable(p):
			pending = append(pending, p)
		}
	}
	return byNode, pending
}

// addNodes puts every node, and every NodeClaim whose node has not registered, into the snapshot, and sums each
// NodePool's usage over its NodeClaims.
//
// It returns each NodeClaim's node in the snapshot by NodeClaim name: the registered node with its provider ID, or
// the NodeClaim itself in flight. A node is found by provider ID, not by the NodeClaim's status.nodeName: a node
// registers before the nodeclaim controller records it (minutes before, in a scale-up of hundreds of nodes), and
// the room held on it for the pods nominated to its NodeClaim must count from the moment it is in the snapshot.
func addNodes(v *View, nodes []corev1.Node, podsByNode map[string][]*corev1.Pod, limits map[string]map[string]int64) (map[string]*scheduling.ExistingNode, map[string]corev1.ResourceList) {
	registered := map[string]*scheduling.ExistingNode{}
	for i := range nodes {
		n := &nodes[i]
		en := &scheduling.ExistingNode{
			Name:          n.Name,
			Labels:        n.Labels,
			Taints:        apiv1.PlanningTaints(n.Spec.Taints),
			Allocatable:   n.Status.Allocatable,
			Pods:          podsByNode[n.Name],
			Unschedulable: n.Spec.Unschedulable || !n.DeletionTimestamp.IsZero(),
			VolumeLimits:  limits[n.Name],
		}
		if id := n.Spec.ProviderID; id != "" {
			registered[id] = en
		}
		v.Snapshot.Nodes = append(v.Snapshot.Nodes, en)
	}
	usage := map[string]corev1.ResourceList{}
	claimNodes := map[string]*scheduling.ExistingNode{}
	for _, nc := range sortedClaims(v.NodeClaims) {
		if pool := nc.Labels[apiv1.NodePoolLabelKey]; pool != "" {
			// Each NodeClaim is one node toward a limit on nodes.
			usage[pool] = add(usage[pool], claimCapacity(nc), corev1.ResourceList{"nodes": resource.MustParse("1")})
		}
		if n := registered[nc.Status.ProviderID]; n != nil {
			claimNodes[nc.Name] = n
			continue
		}
		if !nc.DeletionTimestamp.IsZero() {
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
		claimNodes[nc.Name] = n
		v.Snapshot.Nodes = append(v.Snapshot.Nodes, n)
	}
	return claimNodes, usage
}

// addPending keeps the pods that still need capacity. Nominated pods hold their place on the capacity coming for
// them instead, so a batch does not plan it twice. It returns the pods nominated to registered nodes that still
// have room for them, which holdRoom counts once the view is complete and SettleNominations checks.
//
// Pods waiting on one registered node must fit there together with the pods bound to it: the kube-scheduler keeps
// room for every pod whose status.nominatedNodeName names the node, and if the nominations together overflow it none
// of them fits. The ones that do not fit lose their nomination (which clears what was published) and are planned
// again.
func addPending(v *View, pending []*corev1.Pod, claimNodes map[string]*scheduling.ExistingNode, now time.Time) []waitingPod {
	var waiting []waitingPod
	v.nominations.adoptPublished(pending, v.NodeClaims)
	held := map[string]scheduling.Resources{} // requests of the pods already waiting on each registered node, by NodeClaim
	for _, p := range pending {
		if n, ok := liveNomination(p, v.NodeClaims, v.nominations, now); ok {
			target := claimNodes[n]
			if target != nil && target.InFlight {
				target.Pods = append(target.Pods, p)
				continue
			}
			if nc := v.NodeClaims[n]; nc != nil && nc.DeletionTimestamp.IsZero() {
				if stillFits(p, target, held[n]) {
					// Registered but the pod is not bound yet: the kube-scheduler will place it; do not plan again.
					held[n] = held[n].Add(scheduling.PodRequests(p))
					waiting = append(waiting, waitingPod{pod: p, claim: nc, node: target})
					continue
				}
			}
			// The node registered and the kube-scheduler filled it with other pods: the nomination is dead, plan
			// the pod now rather than NominationTTL after the node became usable.
			v.nominations.end(p.UID, n)
		}
		v.Pending = append(v.Pending, p)
	}
	return waiting
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
func addNodePools(v *View, pools []apiv1.NodePool, usage map[string]corev1.ResourceList, types map[string][]*cloudprovider.InstanceType, problems map[string]error) {
	for i := range pools {
		np := &pools[i]
		v.NodePools[np.Name] = np
		if !np.DeletionTimestamp.IsZero() {
			continue
		}
		if problem := problems[np.Name]; problem != nil {
			v.NodePoolProblems[np.Name] = problem
			continue
		}
		its := types[np.Name]
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

// liveNomination is the pod's nomination while its NodeClaim exists and, once the NodeClaim is initialized, until
// NominationTTL has passed and the kube-scheduler has tried the pod again since the node was first seen initialized,
// or NominationPatience has passed; a nomination that is no longer live ends. The first read that sees the node
// initialized records the pod's PodScheduled message (for Prune to keep).
func liveNomination(p *corev1.Pod, claims map[string]*apiv1.NodeClaim, nv *nominationView, now time.Time) (string, bool) {
	name, ok := nv.claimOf(p.UID)
	if !ok {
		return "", false
	}
	nc := claims[name]
	if nc == nil || !nc.DeletionTimestamp.IsZero() {
		nv.end(p.UID, name)
		return "", false
	}
	cond := nc.StatusConditions().Get(apiv1.ConditionTypeInitialized)
	if cond == nil || cond.Status != "True" {
		return name, true
	}
	msg := scheduledMessage(p)
	seen, ok := nv.seen(p.UID)
	if !ok {
		nv.see(p.UID, name, msg)
		seen = msg
	}
	waited := now.Sub(cond.LastTransitionTime.Time)
	if waited > NominationPatience || (waited > NominationTTL && msg != seen) {
		nv.end(p.UID, name)
		return "", false
	}
	return name, true
}

// scheduledMessage is what the kube-scheduler last wrote of its attempts at the pod: the reason and message of its
// PodScheduled condition. It writes them after an attempt only when they change, and they count the nodes it
// considered ("0/1001 nodes are available: ..."), so an attempt with one more node in the cluster changes them.
func scheduledMessage(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			return c.Reason + ": " + c.Message
		}
	}
	return ""
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
