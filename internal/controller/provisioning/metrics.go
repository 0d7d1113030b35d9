package provisioning

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	nodeClaimsCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodeclaims_created_total",
		Help: "NodeClaims created, by NodePool and by the reason they were created for.",
	}, []string{"nodepool", "reason"})
	unschedulableReasons = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_pods_unschedulable_reasons_total",
		Help: "Reasons the planner gave for pending pods it could place nowhere, one per NodePool (nodepool empty for existing nodes and for the pod itself), by kind.",
	}, []string{"nodepool", "kind"})
	simulationDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_scheduler_simulation_duration_seconds",
		Help:    "How long one scheduling simulation of a batch of pending pods took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	decisionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_provisioning_decision_duration_seconds",
		Help:    "How long a batch with pending pods took from its close to a plan: reading the cluster state and simulating (the batch window itself excluded).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})
	passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_provisioning_pass_duration_seconds",
		Help:    "How long a batch with pending pods took from its close to every NodeClaim of its plan created (the decision plus the API calls).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
	})
	bufferPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_capacitybuffer_pods",
		Help: "Virtual pods (chunks) a CapacityBuffer resolved to at the last provisioning batch, by namespace and name.",
	}, []string{"namespace", "name"})
	bufferPodsWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_capacitybuffer_pods_unprovisioned",
		Help: "Virtual pods of a CapacityBuffer that no existing or in-flight node held at the last batch (new capacity was planned for them, or none fits).",
	}, []string{"namespace", "name"})
	bufferLaunches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_capacitybuffer_launches_total",
		Help: "NodeClaims created to hold a CapacityBuffer's room, by the buffer's namespace and name.",
	}, []string{"namespace", "name"})
	podStartupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_pods_startup_duration_seconds",
		Help:    "From a pod's creation to Running, for pods that started on nodes Tailor launched.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	})
)

func init() {
	metrics.Registry.MustRegister(nodeClaimsCreated, unschedulableReasons, simulationDuration, decisionDuration, passDuration, podStartupDuration, bufferPods, bufferPodsWaiting, bufferLaunches)
}
