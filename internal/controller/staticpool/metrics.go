package staticpool

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	desiredGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_nodepool_static_replicas",
		Help: "The node count a static NodePool asks for (spec.replicas).",
	}, []string{"nodepool"})
	scaledTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodepool_static_nodeclaims_total",
		Help: "NodeClaims the static controller created (action=created) or deleted (action=deleted) to keep a static NodePool at spec.replicas.",
	}, []string{"nodepool", "action"})
)

func init() {
	metrics.Registry.MustRegister(desiredGauge, scaledTotal)
}
