package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
)

// SimulateOptions are the inputs of `tailor simulate`.
type SimulateOptions struct {
	// Paths are manifest files or folders.
	Paths  []string
	Source CatalogSource
	// Output is OutputTable or OutputJSON.
	Output string
	// SVG, when set, is a file to draw the fleet into.
	SVG string
	// Preferences is the preference policy (scheduling.PreferenceCost or PreferenceRespect).
	Preferences string
	// PackingTolerance is scheduling.Options.PackingTolerance; 0 means the default.
	PackingTolerance float64
	// Clock measures how long planning took; nil means the real clock.
	Clock clock.PassiveClock
}

// SimulateResult is the JSON document tailor simulate prints (docs/simulate.md).
type SimulateResult struct {
	NodeClaims             []SimulatedNodeClaim     `json:"nodeClaims"`
	ExistingNodes          []SimulatedExistingNode  `json:"existingNodes"`
	Unschedulable          []SimulatedUnschedulable `json:"unschedulable"`
	TotalPricePerHour      float64                  `json:"totalPricePerHour"`
	LowerBoundPricePerHour float64                  `json:"lowerBoundPricePerHour"`
	Pods                   int                      `json:"pods"`
	DurationSeconds        float64                  `json:"durationSeconds"`
	PodsPerSecond          float64                  `json:"podsPerSecond"`
}

// SimulatedNodeClaim is one node Tailor would launch.
type SimulatedNodeClaim struct {
	NodePool     string  `json:"nodePool"`
	InstanceType string  `json:"instanceType"`
	Zone         string  `json:"zone"`
	CapacityType string  `json:"capacityType"`
	PricePerHour float64 `json:"pricePerHour"`
	// NodeOverlay names the NodeOverlay that set the price, and ListPricePerHour is the catalogue's price it replaced.
	NodeOverlay      string   `json:"nodeOverlay,omitempty"`
	ListPricePerHour float64  `json:"listPricePerHour,omitempty"`
	Pods             []string `json:"pods"`
	// Options are the other instance types that would fit, cheapest first (at most 10).
	Options []string `json:"instanceTypeOptions,omitempty"`
}

// SimulatedExistingNode is an existing node that receives pending pods.
type SimulatedExistingNode struct {
	Name string   `json:"name"`
	Pods []string `json:"pods"`
}

// SimulatedUnschedulable is a pod the plan leaves pending, with one reason per NodePool.
type SimulatedUnschedulable struct {
	Pod     string   `json:"pod"`
	Reasons []string `json:"reasons"`
}

// Simulate reads the manifests, plans the pending pods and writes the plan to w.
func Simulate(opts SimulateOptions, w io.Writer) error {
	if len(opts.Paths) == 0 {
		return errors.New("no manifests: give at least one -f FILE or -f FOLDER")
	}
	if opts.Output == "" {
		opts.Output = OutputTable
	}
	if opts.Output != OutputTable && opts.Output != OutputJSON {
		return fmt.Errorf("unknown output %q: use -o table or -o json", opts.Output)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	cat, err := opts.Source.Load()
	if err != nil {
		return err
	}
	types := cat.ToInstanceTypes(catalog.Options{})
	m, err := readManifests(opts.Paths)
	if err != nil {
		return err
	}
	snap, pending, err := buildSnapshot(m, types)
	if err != nil {
		return err
	}
	// CapacityBuffers: their virtual pods are planned after every real pod, as the controller plans them.
	buffers, err := m.bufferPods()
	if err != nil {
		return err
	}
	pending = append(pending, buffers...)
	start := clk.Now()
	res, err := scheduling.Solve(snap, pending, scheduling.Options{Preferences: scheduling.PreferencePolicy(opts.Preferences), PackingTolerance: opts.PackingTolerance})
	if err != nil {
		return fmt.Errorf("planning: %w", err)
	}
	elapsed := clk.Since(start).Seconds()
	bound, err := scheduling.LowerBound(snap, res.PlacedOnNewCapacity())
	if err != nil {
		// The plan stands without its bound; say so rather than fail.
		bound = -1
	}
	out := toSimulateResult(res, bound, len(pending), elapsed)
	if opts.SVG != "" {
		if err := drawFleet(opts.SVG, snap, res); err != nil {
			return err
		}
	}
	if opts.Output == OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeSimulateTable(w, out)
}

// buildSnapshot converts manifests into the simulator's snapshot and the pending pods.
func buildSnapshot(m *manifests, types []*cloudprovider.InstanceType) (*scheduling.Snapshot, []*corev1.Pod, error) {
	snap := &scheduling.Snapshot{DaemonSetPods: m.daemonSets, PersistentVolumes: m.pvs, PersistentVolumeClaims: m.pvcs, StorageClasses: m.storageClasses}
	bound := map[string][]*corev1.Pod{}
	var pending []*corev1.Pod
	for _, p := range m.pods {
		if p.Spec.NodeName != "" {
			bound[p.Spec.NodeName] = append(bound[p.Spec.NodeName], p)
		} else {
			pending = append(pending, p)
		}
	}
	usage := map[string]corev1.ResourceList{}
	for _, n := range m.nodes {
		alloc := n.Status.Allocatable
		if len(alloc) == 0 {
			alloc = n.Status.Capacity
		}
		snap.Nodes = append(snap.Nodes, &scheduling.ExistingNode{
			Name: n.Name, Labels: n.Labels, Taints: apiv1.PlanningTaints(n.Spec.Taints), Allocatable: alloc, Pods: bound[n.Name], Unschedulable: n.Spec.Unschedulable,
			VolumeLimits: m.volumeLimits[n.Name],
		})
		if pool := n.Labels[apiv1.NodePoolLabelKey]; pool != "" {
			if usage[pool] == nil {
				usage[pool] = corev1.ResourceList{}
			}
			for name, q := range n.Status.Capacity {
				sum := usage[pool][name]
				sum.Add(q)
				usage[pool][name] = sum
			}
			nodes := usage[pool][scheduling.ResourceNodes]
			nodes.Add(*resource.NewQuantity(1, resource.DecimalSI))
			usage[pool][scheduling.ResourceNodes] = nodes
		}
		delete(bound, n.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(bound)) {
		return nil, nil, fmt.Errorf("pod %s/%s is bound to node %q, which the manifests do not include", bound[name][0].Namespace, bound[name][0].Name, name)
	}
	if len(m.nodePools) == 0 {
		its, _, err := cloudprovider.ApplyOverlays(types, "default", m.overlays)
		if err != nil {
			return nil, nil, err
		}
		snap.NodePools = []*scheduling.NodePool{{Name: "default", InstanceTypes: its}}
	}
	for _, np := range m.nodePools {
		if np.IsStatic() {
			continue // as in the controller: pods never launch nodes in a static NodePool
		}
		// As in the controller, NodeOverlays set the prices each NodePool plans with.
		its, _, err := cloudprovider.ApplyOverlays(types, np.Name, m.overlays)
		if err != nil {
			return nil, nil, err
		}
		pool, err := convertNodePool(np, its)
		if err != nil {
			return nil, nil, err
		}
		pool.Usage = usage[np.Name]
		snap.NodePools = append(snap.NodePools, pool)
	}
	return snap, pending, nil
}

// convertNodePool reads an api/v1 NodePool into the simulator's view.
func convertNodePool(np *apiv1.NodePool, types []*cloudprovider.InstanceType) (*scheduling.NodePool, error) {
	out := &scheduling.NodePool{
		Name:          np.Name,
		Labels:        np.Spec.Template.ObjectMeta.Labels,
		Taints:        np.Spec.Template.Spec.Taints,
		StartupTaints: np.Spec.Template.Spec.StartupTaints,
		Limits:        np.Spec.Limits,
		InstanceTypes: types,
	}
	if np.Spec.Weight != nil {
		out.Weight = *np.Spec.Weight
	}
	for i, r := range np.Spec.Template.Spec.Requirements {
		req := scheduling.Requirement{Key: r.Key, Operator: scheduling.Operator(r.Operator), Values: r.Values}
		if r.MinValues != nil {
			mv := int(*r.MinValues)
			req.MinValues = &mv
		}
		if err := out.Requirements.Add(req); err != nil {
			return nil, fmt.Errorf("nodepool %q spec.template.spec.requirements[%d]: %w", np.Name, i, err)
		}
	}
	return out, nil
}

func toSimulateResult(res *scheduling.Results, bound float64, pods int, elapsed float64) *SimulateResult {
	out := &SimulateResult{
		NodeClaims: []SimulatedNodeClaim{}, ExistingNodes: []SimulatedExistingNode{}, Unschedulable: []SimulatedUnschedulable{},
		TotalPricePerHour: res.TotalPricePerHour(), LowerBoundPricePerHour: bound, Pods: pods, DurationSeconds: elapsed,
	}
	if elapsed > 0 {
		out.PodsPerSecond = float64(pods) / elapsed
	}
	for _, c := range res.NodeClaims {
		o := c.Cheapest()
		nc := SimulatedNodeClaim{NodePool: c.NodePool, InstanceType: o.InstanceType.Name, Zone: o.Offering.Zone, CapacityType: o.Offering.CapacityType,
			PricePerHour: o.Offering.PricePerHour, NodeOverlay: o.Offering.Overlay, ListPricePerHour: o.Offering.ListPrice, Pods: podNames(c.Pods)}
		for i, opt := range c.InstanceTypeOptions {
			if i >= 10 {
				break
			}
			nc.Options = append(nc.Options, opt.InstanceType.Name)
		}
		out.NodeClaims = append(out.NodeClaims, nc)
	}
	for _, e := range res.ExistingNodes {
		out.ExistingNodes = append(out.ExistingNodes, SimulatedExistingNode{Name: e.Node, Pods: podNames(e.Pods)})
	}
	for _, u := range res.Unschedulable {
		out.Unschedulable = append(out.Unschedulable, SimulatedUnschedulable{Pod: u.Pod.Namespace + "/" + u.Pod.Name, Reasons: scheduling.ReasonStrings(u.Reasons)})
	}
	return out
}

func podNames(pods []*corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	slices.Sort(out)
	return out
}

// writeSimulateTable prints one row per instance type and capacity type, then the totals and the bound.
func writeSimulateTable(w io.Writer, r *SimulateResult) error {
	type row struct {
		count, pods int
		price       float64
	}
	rows := map[[2]string]*row{}
	for _, c := range r.NodeClaims {
		k := [2]string{c.InstanceType, c.CapacityType}
		if rows[k] == nil {
			rows[k] = &row{}
		}
		rows[k].count++
		rows[k].pods += len(c.Pods)
		rows[k].price += c.PricePerHour
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE TYPE\tCAPACITY\tCOUNT\tPODS\tPRICE/HOUR")
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b [2]string) int {
		if rows[a].price != rows[b].price {
			if rows[a].price > rows[b].price {
				return -1
			}
			return 1
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		if a[1] < b[1] {
			return -1
		}
		return 1
	})
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t$%.4f\n", k[0], k[1], rows[k].count, rows[k].pods, rows[k].price)
	}
	placedExisting := 0
	for _, e := range r.ExistingNodes {
		placedExisting += len(e.Pods)
	}
	fmt.Fprintf(tw, "TOTAL\t\t%d\t%d\t$%.4f\n", len(r.NodeClaims), r.Pods-placedExisting-len(r.Unschedulable), r.TotalPricePerHour)
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.LowerBoundPricePerHour >= 0 {
		ratio := 1.0
		if r.LowerBoundPricePerHour > 0 {
			ratio = r.TotalPricePerHour / r.LowerBoundPricePerHour
		}
		fmt.Fprintf(w, "lower bound $%.4f/hour (plan is %.2fx the bound)\n", r.LowerBoundPricePerHour, ratio)
	} else {
		fmt.Fprintln(w, "lower bound: not available for this input")
	}
	fmt.Fprintf(w, "%d pods: %d on existing nodes, %d on %d new nodes, %d unschedulable; planned in %.3fs\n",
		r.Pods, placedExisting, r.Pods-placedExisting-len(r.Unschedulable), len(r.NodeClaims), len(r.Unschedulable), r.DurationSeconds)
	for _, u := range r.Unschedulable {
		fmt.Fprintf(w, "unschedulable %s:\n", u.Pod)
		for _, reason := range u.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
	}
	return nil
}
