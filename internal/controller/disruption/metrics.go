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
	consolidationSavings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_consolidation_savings_per_hour_total",
		Help: "Sum of the hourly savings (USD/h, the least each move saves) of the consolidation moves carried out, by NodePool.",
	}, []string{"nodepool"})
	consolidationScore = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tailor_consolidation_score",
		Help:    "Balanced score (savings share / disruption share) of each consolidation move carried out, by NodePool; Balanced takes a move scoring at least 1/balanceFactor.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32},
	}, []string{"nodepool"})
	passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_disruption_pass_duration_seconds",
		Help:    "How long one disruption pass took: reading every NodeClaim, node and pod, evaluating candidates, and simulating and carrying out a move when one is due.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})
	repairBlocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_nodepool_repair_blocked",
		Help: "1 while node repair is stopped in the NodePool because more than 20% of its nodes are unhealthy, else 0.",
	}, []string{"nodepool"})
)

func init() {
	metrics.Registry.MustRegister(passDuration, decisions, eligibleNodes, repaired, repairBlocked, consolidationSavings, consolidationScore)
}
