package provisioning

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// Event reasons on pods and NodePools.
const (
	ReasonNominated        = "Nominated"
	ReasonFailedScheduling = "FailedScheduling"
	ReasonLimitReached     = "LimitReached"
	ReasonNodePoolNotReady = "NodePoolNotReady"
	// ReasonBufferProvisioned: a NodeClaim was created to hold a CapacityBuffer's room (on the buffer).
	ReasonBufferProvisioned = "BufferProvisioned"
	// ReasonBufferUnschedulable: some of a CapacityBuffer's room fits on no node Tailor can launch (on the buffer).
	ReasonBufferUnschedulable = "BufferUnschedulable"
)

// pollInterval reopens a batch without a trigger, so pods that were waiting on something else get another look.
const pollInterval = 30 * time.Second

// Provisioner plans pending pods in batches and creates the NodeClaims the plan asks for. It runs on the leader only.
type Provisioner struct {
	clk      clock.Clock
	kube     client.Client
	cluster  *state.Cluster
	cloud    cloudprovider.CloudProvider
	recorder events.EventRecorder
	batcher  *Batcher
	opts     scheduling.Options
	// publisher writes the plan into pods' status.nominatedNodeName once a NodeClaim's node name is known.
	publisher *Publisher
	// buffers is set while some CapacityBuffer exists: a pod binding may then have taken buffer room, which is
	// bought again at once rather than at the next poll.
	buffers atomic.Bool
}

// New returns a Provisioner; every dependency is required.
func New(clk clock.Clock, kube client.Client, cluster *state.Cluster, cloud cloudprovider.CloudProvider, recorder events.EventRecorder, batcher *Batcher) (*Provisioner, error) {
	if clk == nil || kube == nil || cluster == nil || cloud == nil || recorder == nil || batcher == nil {
		return nil, errors.New("provisioning: every dependency (clock, client, cluster state, cloud provider, recorder, batcher) is required")
	}
	return &Provisioner{clk: clk, kube: kube, cluster: cluster, cloud: cloud, recorder: recorder, batcher: batcher,
		publisher: NewPublisher(clk, kube, cluster.Nominations())}, nil
}

// SetPreferencePolicy sets how the plan weighs preferences against cost (empty: scheduling.PreferenceCost).
func (p *Provisioner) SetPreferencePolicy(policy scheduling.PreferencePolicy) {
	p.opts.Preferences = policy
}

// Trigger asks for a batch: a pod became provisionable or capacity went away.
func (p *Provisioner) Trigger() { p.batcher.Trigger() }

// Start runs batches until ctx ends (manager.Runnable).
func (p *Provisioner) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("provisioner")
	ctx = log.IntoContext(ctx, logger)
	for p.batcher.Wait(ctx, pollInterval) {
		if _, err := p.Provision(ctx); err != nil {
			logger.Error(err, "provisioning failed; will retry with the next batch")
			p.batcher.Trigger()
		}
	}
	return nil
}

// Provision plans the pending pods once and creates the NodeClaims of the plan. It returns the plan (nil when no
// pod was pending).
func (p *Provisioner) Provision(ctx context.Context) (*scheduling.Results, error) {
	logger := log.FromContext(ctx)
	begin := p.clk.Now()
	view, err := p.cluster.Read(ctx, p.cloud.GetInstanceTypes)
	if err != nil {
		return nil, err
	}
	// Provisioning owns the nominations: only its reconcile ends the ones this read found over (state.Cluster.Prune).
	p.cluster.Prune(view)
	read := p.clk.Since(begin)
	// Clearing the nominations dropped is an API call a pod: after the plan and its launches, so thousands of them
	// (a kube-scheduler that filled nominated nodes with other pods) do not hold the decision back.
	defer func() {
		if err := ClearStale(ctx, p.kube, p.cluster.Nominations()); err != nil {
			logger.Error(err, "clearing nominations the plan dropped")
		}
	}()
	for name, problem := range view.NodePoolProblems {
		p.recorder.Eventf(view.NodePools[name], nil, corev1.EventTypeWarning, ReasonNodePoolNotReady, "Provisioning",
			"nodepool %q cannot launch nodes: %v", name, problem)
	}
	p.buffers.Store(len(view.Buffers) > 0)
	virtual := state.BufferPods(view.Buffers)
	if len(virtual) == 0 {
		resetBufferGauges() // no buffer keeps room: drop the series of deleted or unresolved ones
	}
	if len(view.Pending) == 0 && len(virtual) == 0 {
		return nil, nil
	}
	if len(view.Pending) > 0 {
		logger.Info("found provisionable pod(s)", "pods", len(view.Pending), "read", read.String())
	}
	start := p.clk.Now()
	// Buffer pods go last (scheduling.Solve places them after every real pod): real pods take the room first.
	pods := append(append(make([]*corev1.Pod, 0, len(view.Pending)+len(virtual)), view.Pending...), virtual...)
	results, err := scheduling.Solve(view.Snapshot, pods, p.opts)
	simulationDuration.Observe(p.clk.Since(start).Seconds())
	decisionDuration.Observe(p.clk.Since(begin).Seconds())
	if err != nil {
		return nil, fmt.Errorf("planning %d pod(s): %w", len(pods), err)
	}
	defer func() { passDuration.Observe(p.clk.Since(begin).Seconds()) }()
	p.recordBuffers(view, results)
	if len(results.NodeClaims) > 0 {
		logger.Info("computed new nodeclaim(s) to fit pod(s)", "nodeclaims", len(results.NodeClaims),
			"pods", results.PodCount(), "pricePerHour", fmt.Sprintf("%.4f", results.TotalPricePerHour()),
			"duration", p.clk.Since(start).String(), "decision", p.clk.Since(begin).String())
	}
	// Several NodeClaims at a time: one after another, the 500 of a 5,000-pod batch took 90 s on a busy API server.
	errs := make([]error, len(results.NodeClaims))
	var launches errgroup.Group
	launches.SetLimit(launchers)
	for i, planned := range results.NodeClaims {
		launches.Go(func() error {
			errs[i] = p.launch(ctx, view, planned)
			return nil
		})
	}
	_ = launches.Wait() // each launch's error is in errs
	for _, placement := range results.ExistingNodes {
		if !placement.InFlight {
			continue
		}
		for _, pod := range scheduling.WithoutBufferPods(placement.Pods) {
			p.nominate(ctx, pod, placement.Node)
			p.recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonNominated, "Provisioning",
				"pod should schedule on nodeclaim %s", placement.Node)
		}
		// An in-flight NodeClaim may be launched already, its node name known: publish the new nominations.
		p.publisher.Notify(placement.Node)
	}
	p.reportUnschedulable(results, view)
	return results, errors.Join(errs...)
}

// launchers is how many NodeClaims a batch creates at once.
const launchers = 16

// launch creates the NodeClaim for one planned node and nominates its pods to it.
func (p *Provisioner) launch(ctx context.Context, view *state.View, planned *scheduling.NodeClaim) error {
	np := view.NodePools[planned.NodePool]
	if np == nil {
		return fmt.Errorf("planned a node for nodepool %q, which is gone", planned.NodePool)
	}
	nc := state.NodeClaimFor(np, planned)
	if held := bufferKeys(planned.Pods); held != "" {
		if nc.Annotations == nil {
			nc.Annotations = map[string]string{}
		}
		nc.Annotations[apiv1.CapacityBuffersAnnotationKey] = held
	}
	if err := p.kube.Create(ctx, nc); err != nil {
		return fmt.Errorf("creating nodeclaim for nodepool %q: %w", np.Name, err)
	}
	nodeClaimsCreated.WithLabelValues(np.Name, "provisioning").Inc()
	cheapest := planned.Cheapest()
	log.FromContext(ctx).Info("created nodeclaim", "nodeclaim", klog.KObj(nc), "nodepool", np.Name,
		"pods", len(planned.Pods), "instanceTypeOptions", len(planned.InstanceTypeOptions),
		"cheapest", cheapest.InstanceType.Name, "zone", cheapest.Offering.Zone,
		"capacityType", cheapest.Offering.CapacityType, "pricePerHour", cheapest.Offering.PricePerHour, "nodeOverlay", cheapest.Offering.Overlay)
	p.bufferLaunched(ctx, view, planned, nc.Name)
	priced := ""
	if o := cheapest.Offering; o.Overlay != "" {
		priced = fmt.Sprintf(", priced by NodeOverlay %s (list $%.4f/h)", o.Overlay, o.ListPrice)
	}
	for _, pod := range scheduling.WithoutBufferPods(planned.Pods) {
		p.nominate(ctx, pod, nc.Name)
		p.recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonNominated, "Provisioning",
			"pod should schedule on nodeclaim %s (%s, %s %s, $%.4f/h%s)", nc.Name, cheapest.InstanceType.Name,
			cheapest.Offering.CapacityType, cheapest.Offering.Zone, cheapest.Offering.PricePerHour, priced)
	}
	return nil
}

// nominate records that the plan put pod on nodeClaim. The plan only places pods without a live nomination (the
// others hold their place on their NodeClaim), so a refusal means the bookkeeping is off: it is logged, not fatal.
func (p *Provisioner) nominate(ctx context.Context, pod *corev1.Pod, nodeClaim string) {
	if err := p.cluster.Nominations().Nominate(pod, nodeClaim); err != nil {
		log.FromContext(ctx).Error(err, "nominating pod", "pod", klog.KObj(pod), "nodeclaim", nodeClaim)
	}
}

// reportUnschedulable gives each pod that fits nowhere a FailedScheduling event with the simulator's reasons, counts
// the reasons by NodePool and kind, and gives each NodePool whose limit stopped a launch a LimitReached event.
func (p *Provisioner) reportUnschedulable(results *scheduling.Results, view *state.View) {
	limited := map[string]string{}
	for _, u := range results.Unschedulable {
		if scheduling.IsBufferPod(u.Pod) {
			continue // recordBuffers tells the buffer; the virtual pod has nowhere to take an event
		}
		reasons := scheduling.ReasonStrings(u.Reasons)
		for name, problem := range view.NodePoolProblems {
			reasons = append(reasons, fmt.Sprintf("nodepool %q: %v", name, problem))
		}
		if len(view.NodePools) == 0 {
			reasons = append(reasons, "no NodePool exists: create one to let Tailor launch nodes")
		}
		sort.Strings(reasons)
		p.recorder.Eventf(u.Pod, nil, corev1.EventTypeWarning, ReasonFailedScheduling, "Provisioning",
			"Tailor cannot launch a node for this pod: %s", strings.Join(reasons, "; "))
		for _, r := range u.Reasons {
			unschedulableReasons.WithLabelValues(r.NodePool, string(r.Kind)).Inc()
			if _, ok := view.NodePools[r.NodePool]; ok && r.Kind == scheduling.ReasonLimit {
				limited[r.NodePool] = r.String()
			}
		}
	}
	for name, reason := range limited {
		p.recorder.Eventf(view.NodePools[name], nil, corev1.EventTypeWarning, ReasonLimitReached, "Provisioning",
			"%s: pending pods wait until usage drops or the limit is raised", reason)
	}
}
