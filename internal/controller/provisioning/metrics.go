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
	simulationDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_scheduler_simulation_duration_seconds",
		Help:    "How long one scheduling simulation of a batch of pending pods took.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	})
	podStartupDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_pods_startup_duration_seconds",
		Help:    "From a pod's creation to Running, for pods that started on nodes Tailor launched.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	})
)

func init() {
	metrics.Registry.MustRegister(nodeClaimsCreated, simulationDuration, podStartupDuration)
}
