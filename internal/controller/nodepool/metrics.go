package nodepool

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	usageGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_nodepool_usage",
		Help: "What a NodePool's NodeClaims add up to, by resource (cpu in cores, memory in bytes, nodes, …).",
	}, []string{"nodepool", "resource"})
	limitGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_nodepool_limit",
		Help: "A NodePool's limit, by resource; absent when unlimited.",
	}, []string{"nodepool", "resource"})
	clusterPriceGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tailor_cluster_price_per_hour",
		Help: "What the NodeClaims Tailor launched cost per hour (USD), summed over every NodePool from the price recorded on each claim at launch.",
	})
)

func init() {
	metrics.Registry.MustRegister(usageGauge, limitGauge, clusterPriceGauge)
}
