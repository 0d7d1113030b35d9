package cli

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	corev1 "k8s.io/api/core/v1"

	"github.com/tailor-sh/tailor/internal/scheduling"
)

// drawFleet writes an SVG with two bars per node that receives pods (existing nodes and new NodeClaims): the share
// of cpu and of memory the node's pods (old, new and daemonset) request of its allocatable.
func drawFleet(path string, snap *scheduling.Snapshot, res *scheduling.Results) error {
	var names []string
	var cpu, mem plotter.Values
	add := func(name string, alloc corev1.ResourceList, pods []*corev1.Pod) {
		var used scheduling.Resources
		for _, p := range pods {
			used = used.Add(scheduling.PodRequests(p))
		}
		a := scheduling.ResourcesFrom(alloc)
		names = append(names, name)
		cpu = append(cpu, share(used.CPU, a.CPU))
		mem = append(mem, share(used.Memory, a.Memory))
	}
	existing := map[string]*scheduling.ExistingNode{}
	for _, n := range snap.Nodes {
		existing[n.Name] = n
	}
	for _, e := range res.ExistingNodes {
		n := existing[e.Node]
		add(e.Node, n.Allocatable, append(append([]*corev1.Pod{}, n.Pods...), e.Pods...))
	}
	for _, c := range res.NodeClaims {
		o := c.Cheapest()
		add(fmt.Sprintf("%s (%s)", c.Hostname, o.InstanceType.Name), o.InstanceType.Allocatable(), append(append([]*corev1.Pod{}, c.DaemonSetPods...), c.Pods...))
	}
	if len(names) == 0 {
		return fmt.Errorf("--svg: the plan places no pods, there is no fleet to draw")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Planned fleet: %d new nodes, $%.4f/hour", len(res.NodeClaims), res.TotalPricePerHour())
	p.Y.Label.Text = "requested / allocatable (%)"
	p.Y.Max = 100
	w := vg.Points(8)
	cpuBars, err := plotter.NewBarChart(cpu, w)
	if err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	cpuBars.Color = color.RGBA{R: 66, G: 133, B: 244, A: 255}
	cpuBars.LineStyle.Width = 0
	cpuBars.Offset = -w / 2
	memBars, err := plotter.NewBarChart(mem, w)
	if err != nil {
		return fmt.Errorf("--svg: %w", err)
	}
	memBars.Color = color.RGBA{R: 244, G: 160, B: 0, A: 255}
	memBars.LineStyle.Width = 0
	memBars.Offset = w / 2
	p.Add(cpuBars, memBars)
	p.Legend.Add("cpu", cpuBars)
	p.Legend.Add("memory", memBars)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 1.2
	p.X.Tick.Label.XAlign = -1
	width := vg.Length(len(names))*3*w + 3*vg.Inch
	if err := p.Save(width, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("--svg: writing %s: %w", path, err)
	}
	return nil
}

func share(used, alloc int64) float64 {
	if alloc <= 0 {
		return 0
	}
	return 100 * float64(used) / float64(alloc)
}
