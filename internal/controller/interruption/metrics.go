package interruption

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	receivedMessages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_interruption_received_messages_total",
		Help: "Instance events handled from the interruption queue, by kind (a redelivered event counts again).",
	}, []string{"kind"})
	actionsTaken = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_interruption_actions_total",
		Help: "What the interruption controller did per affected instance, by event kind and action.",
	}, []string{"kind", "action"})
	messageLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tailor_interruption_message_latency_seconds",
		Help:    "Time from an instance event (its EventBridge time) to its handling by the interruption controller.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
	})
)

func init() {
	metrics.Registry.MustRegister(receivedMessages, actionsTaken, messageLatency)
}
