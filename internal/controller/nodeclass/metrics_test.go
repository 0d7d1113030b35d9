package nodeclass

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

func TestReconcileExportsCapacityReservations(t *testing.T) {
	kube := env.DirectClient(t)
	createNodeClass(t, kube, "reserved", nil)
	reservations := []apiv1.CapacityReservation{
		{ID: "cr-0a", InstanceType: "m5.xlarge", AvailabilityZone: "us-east-1b", TotalInstanceCount: 4, AvailableInstanceCount: 3},
	}
	c, err := New(kube, resolverFunc(func(_ context.Context, nc *apiv1.EC2NodeClass) error {
		nc.Status.CapacityReservations = reservations
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	reconcile := func() {
		t.Helper()
		if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "reserved"}}); err != nil {
			t.Fatal(err)
		}
	}
	reconcile()
	if got := testutil.ToFloat64(reservationAvailable.WithLabelValues("reserved", "cr-0a", "m5.xlarge", "us-east-1b")); got != 3 {
		t.Errorf("tailor_capacity_reservation_available = %v, want 3", got)
	}
	if got := testutil.ToFloat64(reservationTotal.WithLabelValues("reserved", "cr-0a", "m5.xlarge", "us-east-1b")); got != 4 {
		t.Errorf("tailor_capacity_reservation_total = %v, want 4", got)
	}
	// A reservation no longer resolved (expired, unselected) loses its series.
	reservations = nil
	reconcile()
	if n := testutil.CollectAndCount(reservationAvailable); n != 0 {
		t.Errorf("%d tailor_capacity_reservation_available series after the reservation went away, want 0", n)
	}
}
