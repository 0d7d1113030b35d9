package nodeclaim

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	nodeClaimsLaunched = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodeclaims_launched_total",
		Help: "NodeClaims whose instance the cloud launched, by NodePool.",
	}, []string{"nodepool"})
	nodeClaimsRegistered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tailor_nodeclaims_registered_total",
		Help: "NodeClaims whose Node joined the cluster, by NodePool.",
	}, []string{"nodepool"})
	instancesGarbageCollected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tailor_instances_garbage_collected_total",
		Help: "Instances owned by the cluster that had no NodeClaim and were terminated.",
	})
	gcClaimsKept = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tailor_garbage_collection_ready_claims_kept_total",
		Help: "Times garbage collection kept a NodeClaim whose instance the cloud provider did not find because its Node was Ready (a sign of a changed cluster name or lost tags).",
	})
)

func init() {
	metrics.Registry.MustRegister(nodeClaimsLaunched, nodeClaimsRegistered, instancesGarbageCollected, gcClaimsKept)
}
