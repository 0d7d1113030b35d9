package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// writeExplainText prints an explanation for people: one block per pod or the NodeClaim, then where the instance
// types and prices came from.
func writeExplainText(w io.Writer, res *ExplainResult, opts ExplainOptions) error {
	tw := &textWriter{w: w}
	switch {
	case res.NodeClaim != nil:
		tw.nodeClaim(res.NodeClaim)
	case len(res.Pods) == 0 && opts.AllNamespaces:
		tw.linef("No pending pods.")
	case len(res.Pods) == 0:
		tw.linef("No pending pods in namespace %s.", opts.Namespace)
	default:
		for i := range res.Pods {
			if i > 0 {
				tw.linef("")
			}
			tw.pod(&res.Pods[i])
		}
	}
	if res.NodeClaim != nil || len(res.Pods) > 0 {
		tw.linef("")
		version := ""
		if res.Catalog.Version != "" {
			version = " version " + res.Catalog.Version
		}
		tw.linef("Instance types and prices: catalogue %s%s (the controller uses the cloud's live offerings).", res.Catalog.Name, version)
	}
	return tw.err
}

// textWriter keeps the first write error so the printing code stays linear.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) linef(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format+"\n", args...)
	}
}

// table prints rows of tab-separated cells aligned, each line indented.
func (t *textWriter) table(indent string, rows [][]string) {
	if t.err != nil || len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		if _, t.err = fmt.Fprintln(tw, indent+strings.TrimRight(strings.Join(r, "\t"), "\t")); t.err != nil {
			return
		}
	}
	t.err = tw.Flush()
}

func (t *textWriter) pod(p *PodExplanation) {
	t.linef("Pod %s", p.Pod)
	status := p.Status
	if p.Detail != "" {
		status += ": " + p.Detail
	}
	rows := [][]string{{"Status:", status}, {"Requests:", p.Requests}}
	decision, more := decisionText(p)
	rows = append(rows, []string{"Decision:", decision})
	for _, m := range more {
		rows = append(rows, []string{"", m})
	}
	if len(p.Decision.CapacityBuffers) > 0 {
		rows = append(rows, []string{"Buffers:", strings.Join(p.Decision.CapacityBuffers, ", ")})
		if p.Decision.Kind != DecisionNominated {
			rows = append(rows, []string{"", p.Decision.Note})
		}
	}
	if len(p.NodePools) > 0 {
		rows = append(rows, []string{"NodePools:", "(in the order Tailor tries them; each asked alone for a new node)"})
	}
	t.table("  ", rows)
	var pools [][]string
	for _, v := range p.NodePools {
		if v.CanHost {
			pools = append(pools, []string{v.NodePool, "yes", offeringText(v.InstanceType, v.CapacityType, v.Zone, &v.PricePerHour)})
		} else {
			pools = append(pools, []string{v.NodePool, "no", v.Reason})
		}
	}
	t.table("    ", pools)
}

// decisionText words a pod's decision, with continuation lines.
func decisionText(p *PodExplanation) (string, []string) {
	d := &p.Decision
	switch d.Kind {
	case DecisionBound:
		return "on node " + d.Node + nodeText(d), nil
	case DecisionExistingNode:
		return "fits existing node " + d.Node + nodeText(d), []string{"the kube-scheduler should bind it there; Tailor launches nothing for it"}
	case DecisionInFlight:
		return "fits nodeclaim " + d.NodeClaim + nodeText(d), []string{"that node is still launching; Tailor waits for it rather than launching another"}
	case DecisionNominated:
		return "waiting for nodeclaim " + d.NodeClaim + nodeText(d), []string{d.Note}
	case DecisionNewNode:
		s := fmt.Sprintf("launch a node from nodepool %s: %s", d.NodePool, offeringText(d.InstanceType, d.CapacityType, d.Zone, d.PricePerHour))
		var more []string
		if d.NodeOverlay != "" {
			more = append(more, fmt.Sprintf("priced by NodeOverlay %s (the provider lists it at $%.4f/h)", d.NodeOverlay, d.ListPricePerHour))
		}
		if d.SharedWith > 0 {
			more = append(more, fmt.Sprintf("shared with %d other pending pod(s) of the same batch", d.SharedWith))
		}
		if len(d.OtherInstanceTypes) > 0 {
			more = append(more, "also fit (launch fallbacks): "+strings.Join(d.OtherInstanceTypes, ", "))
		}
		return s, more
	case DecisionUnschedulable:
		return "none: Tailor cannot launch a node for it", unschedulableReasons(p)
	}
	return "nothing to do", nil
}

// unschedulableReasons are the dry run's reasons, less the NodePool reasons the NodePools list shows already.
func unschedulableReasons(p *PodExplanation) []string {
	shown := map[string]bool{}
	for _, v := range p.NodePools {
		shown[fmt.Sprintf("nodepool %q: %s", v.NodePool, v.Reason)] = true
		shown[v.Reason] = true
	}
	var out []string
	for _, r := range p.Decision.Reasons {
		if !shown[r] {
			out = append(out, "- "+r)
		}
	}
	return out
}

// nodeText describes the node behind a decision: " (nodeclaim x, nodepool y, m5.large, on-demand in us-east-1a, $0.0960/h)".
func nodeText(d *PodDecision) string {
	var parts []string
	if d.NodeClaim != "" && (d.Kind == DecisionBound || d.Kind == DecisionExistingNode) {
		parts = append(parts, "nodeclaim "+d.NodeClaim)
	}
	if d.Node != "" && (d.Kind == DecisionNominated || d.Kind == DecisionInFlight) {
		parts = append(parts, "node "+d.Node)
	}
	if d.NodePool != "" {
		parts = append(parts, "nodepool "+d.NodePool)
	}
	if d.InstanceType != "" {
		parts = append(parts, offeringText(d.InstanceType, d.CapacityType, d.Zone, d.PricePerHour))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// offeringText is "m5.large, spot in us-east-1a, $0.0410/h", leaving out what is unknown.
func offeringText(instanceType, capacityType, zone string, price *float64) string {
	s := instanceType
	switch {
	case capacityType != "" && zone != "":
		s += ", " + capacityType + " in " + zone
	case capacityType != "":
		s += ", " + capacityType
	case zone != "":
		s += ", in " + zone
	}
	if price != nil {
		s += fmt.Sprintf(", $%.4f/h", *price)
	} else {
		s += ", price not in the catalogue"
	}
	return s
}

func (t *textWriter) nodeClaim(x *NodeClaimExplanation) {
	t.linef("NodeClaim %s", x.Name)
	pool := x.NodePool
	if pool == "" {
		pool = "(none)"
	}
	rows := [][]string{
		{"NodePool:", fmt.Sprintf("%s (node class %s)", pool, x.NodeClass)},
		{"Age:", fmt.Sprintf("%s (created %s)", x.Age, x.Created.Format(time.RFC3339))},
	}
	switch {
	case x.Node != "":
		rows = append(rows, []string{"Node:", x.Node + providerText(x.ProviderID)})
	case x.ProviderID != "":
		rows = append(rows, []string{"Node:", "not registered yet" + providerText(x.ProviderID)})
	default:
		rows = append(rows, []string{"Node:", "not launched yet"})
	}
	if x.InstanceType != "" {
		rows = append(rows, []string{"Instance:", offeringText(x.InstanceType, x.CapacityType, x.Zone, x.PricePerHour)})
	} else if n := len(x.InstanceTypeOptions); n > 0 {
		rows = append(rows, []string{"Instance:", fmt.Sprintf("not chosen yet: %d option(s), cheapest first: %s", n, firstN(x.InstanceTypeOptions, maxOtherInstanceTypes))})
	}
	rows = append(rows, []string{"Requests:", x.Requests})
	t.table("  ", rows)
	if len(x.Conditions) > 0 {
		t.linef("  Conditions:")
		var conds [][]string
		for _, c := range x.Conditions {
			since := ""
			if c.Since != "" {
				since = "for " + c.Since
			}
			conds = append(conds, []string{c.Type, c.Status, c.Reason, since, c.Message})
		}
		t.table("    ", conds)
	}
	t.linef("  Pods (%d):", len(x.Pods))
	var pods [][]string
	for _, p := range x.Pods {
		note := p.Requests
		if p.Owner != "" {
			note = p.Owner + ", would not move"
		}
		if p.DoNotDisrupt {
			note += ", do-not-disrupt"
		}
		pods = append(pods, []string{p.Pod, p.State, note})
	}
	if len(pods) == 0 {
		t.linef("    none bound, none nominated")
	}
	t.table("    ", pods)
	t.disruptionText(&x.Disruption)
	t.consolidationText(x.Consolidation)
}

func (t *textWriter) disruptionText(d *ClaimDisruption) {
	t.linef("  Disruption: %s", d.Summary)
	budget := map[string]BudgetNow{}
	for _, b := range d.Budgets {
		budget[b.Reason] = b
	}
	rows := [][]string{{"REASON", "APPLIES", "BUDGET NOW", "DETAIL"}}
	for _, m := range d.Methods {
		applies := "no"
		if m.Applies {
			applies = "yes"
		}
		b, ok := budget[m.Reason]
		allowed := "-"
		if ok {
			allowed = fmt.Sprintf("%d of %d node(s)", b.Allowed, b.Nodes)
		}
		rows = append(rows, []string{m.Reason, applies, allowed, m.Detail})
	}
	t.table("    ", rows)
	if len(d.Budgets) > 0 {
		t.linef("    Nodes of the NodePool being disrupted now: %d", d.Budgets[0].Disrupting)
	}
	if len(d.Blockers) > 0 {
		t.linef("    Blocked by:")
		for _, b := range d.Blockers {
			t.linef("      %s", b)
		}
	}
}

func providerText(id string) string {
	if id == "" {
		return ""
	}
	return " (" + id + ")"
}

func firstN(values []string, n int) string {
	if len(values) <= n {
		return strings.Join(values, ", ")
	}
	return strings.Join(values[:n], ", ") + ", …"
}
