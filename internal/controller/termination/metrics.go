package termination

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	nodesTerminated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodes_terminated_total",
		Help: "Nodes Tailor drained and whose instance it terminated, by NodePool.",
	}, []string{"nodepool"})
	podsEvicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tailor_pods_evicted_total",
		Help: "Pods evicted through the Eviction API while draining nodes.",
	})
)

func init() {
	metrics.Registry.MustRegister(nodesTerminated, podsEvicted)
}
