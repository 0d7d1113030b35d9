package disruption

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_disruption_decisions_total",
		Help: "Nodes Tailor decided to disrupt, by reason (Expired, Drifted, Empty, Underutilized) and action (delete: removed at once; replace: removed once replacement capacity launched and initialized).",
	}, []string{"reason", "action"})
	eligibleNodes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_disruption_eligible_nodes",
		Help: "Nodes a disruption method would remove now, before budgets, by reason.",
	}, []string{"reason"})
	repaired = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodeclaims_repaired_total",
		Help: "NodeClaims deleted by node repair (a node condition unhealthy beyond its toleration), by NodePool.",
	}, []string{"nodepool"})
	repairBlocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_nodepool_repair_blocked",
		Help: "1 while node repair is stopped in the NodePool because more than 20% of its nodes are unhealthy, else 0.",
	}, []string{"nodepool"})
)

func init() {
	metrics.Registry.MustRegister(decisions, eligibleNodes, repaired, repairBlocked)
}
