package state

import (
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// ConsolidationInput is the consolidation decision's view of the cluster at now (scheduling.Consolidator): every
// registered node of every NodePool, none of them Eligible yet, and each NodePool's terms. It
// also returns those nodes by NodeClaim name. A NodePool whose terms cannot be read keeps consolidation to empty
// nodes. The disruption controller and `tailor explain nodeclaim` both build their input here.
func (v *View) ConsolidationInput(now time.Time) (scheduling.ConsolidationInput, map[string]*scheduling.Candidate) {
	in := scheduling.ConsolidationInput{Snapshot: v.Snapshot, Terms: map[string]apiv1.ConsolidationTerms{}, Pending: v.Pending}
	for name, np := range v.NodePools {
		t, err := np.ConsolidationTerms()
		if err != nil {
			t.Policy = apiv1.ConsolidationPolicyWhenEmpty
		}
		in.Terms[name] = t
	}
	nodes := map[string]*scheduling.ExistingNode{}
	for _, n := range v.Snapshot.Nodes {
		if !n.InFlight {
			nodes[n.Name] = n
		}
	}
	byName := map[string]*scheduling.Candidate{}
	names := make([]string, 0, len(v.NodeClaims))
	for name := range v.NodeClaims {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		nc := v.NodeClaims[name]
		pool := nc.Labels[apiv1.NodePoolLabelKey]
		node := nodes[nc.Status.NodeName]
		if _, ok := in.Terms[pool]; !ok || node == nil || !nc.DeletionTimestamp.IsZero() {
			continue
		}
		price, ok := NodeClaimPrice(nc, v.InstanceTypes[pool])
		n := &scheduling.Candidate{
			Node: node.Name, NodeClaim: nc.Name, NodePool: pool, CapacityType: nc.Labels[apiv1.CapacityTypeLabelKey],
			Price: price, PriceUnknown: !ok, Pods: MovablePods(node.Pods), LifetimeElapsed: LifetimeElapsed(nc, now),
		}
		in.Nodes = append(in.Nodes, n)
		byName[nc.Name] = n
	}
	return in, byName
}

// LifetimeElapsed is the fraction of its expireAfter the NodeClaim has lived at now: 0 when it never expires.
func LifetimeElapsed(nc *apiv1.NodeClaim, now time.Time) float64 {
	d, ok, err := nc.Spec.ExpireAfter.Duration()
	if err != nil || !ok || d <= 0 {
		return 0
	}
	return min(max(now.Sub(nc.CreationTimestamp.Time).Seconds()/d.Seconds(), 0), 1)
}

// NodeClaimPrice is what the NodeClaim's node costs per hour: the price recorded at launch, else the catalogue's
// price of its instance type in its zone and capacity type.
func NodeClaimPrice(nc *apiv1.NodeClaim, types []*cloudprovider.InstanceType) (float64, bool) {
	if p, err := strconv.ParseFloat(nc.Annotations[apiv1.PricePerHourAnnotationKey], 64); err == nil && p > 0 {
		return p, true
	}
	labels := nc.Labels
	for _, it := range types {
		if it.Name != labels[apiv1.InstanceTypeLabelKey] {
			continue
		}
		for _, off := range it.Offerings {
			if off.Zone == labels[apiv1.ZoneLabelKey] && off.CapacityType == labels[apiv1.CapacityTypeLabelKey] {
				return off.PricePerHour, true
			}
		}
	}
	return 0, false
}

// MovablePods are the pods a node's removal would move: not finished, not DaemonSet pods, not mirror pods.
func MovablePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		daemon := false
		for _, o := range p.OwnerReferences {
			daemon = daemon || o.Kind == "DaemonSet"
		}
		if !daemon {
			out = append(out, p)
		}
	}
	return out
}
