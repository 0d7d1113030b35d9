package nodeclass

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

var (
	reservationAvailable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_capacity_reservation_available",
		Help: "Instances a capacity reservation an EC2NodeClass selects had free when last read from EC2 (status.capacityReservations).",
	}, []string{"ec2nodeclass", "reservation", "instance_type", "zone"})
	reservationTotal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tailor_capacity_reservation_total",
		Help: "Instances a capacity reservation an EC2NodeClass selects holds in all.",
	}, []string{"ec2nodeclass", "reservation", "instance_type", "zone"})
)

func init() {
	metrics.Registry.MustRegister(reservationAvailable, reservationTotal)
}

// recordReservations replaces the node class's series with its resolved reservations: one no longer selected, active
// or unexpired disappears.
func recordReservations(nc *apiv1.EC2NodeClass) {
	forgetReservations(nc.Name)
	for _, r := range nc.Status.CapacityReservations {
		reservationAvailable.WithLabelValues(nc.Name, r.ID, r.InstanceType, r.AvailabilityZone).Set(float64(r.AvailableInstanceCount))
		reservationTotal.WithLabelValues(nc.Name, r.ID, r.InstanceType, r.AvailabilityZone).Set(float64(r.TotalInstanceCount))
	}
}

// forgetReservations drops a node class's series.
func forgetReservations(nodeClass string) {
	reservationAvailable.DeletePartialMatch(prometheus.Labels{"ec2nodeclass": nodeClass})
	reservationTotal.DeletePartialMatch(prometheus.Labels{"ec2nodeclass": nodeClass})
}
