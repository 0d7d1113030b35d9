package aws

import (
	"testing"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// A launch made while the reservations were being read may be missing from the read: it must still count.
func TestReservationLaunchesKeepLaunchesDuringARead(t *testing.T) {
	var r reservationLaunches
	cr := apiv1.CapacityReservation{ID: "cr-0a", AvailableInstanceCount: 3}
	r.launched("cr-0a") // before the read: the read includes it
	mark := r.mark()
	r.launched("cr-0a") // during the read: EC2 answered before it landed
	r.reset([]apiv1.CapacityReservation{{ID: "cr-0a", AvailableInstanceCount: 2}}, mark)
	if got := r.left(cr); got != 1 {
		t.Errorf("left = %d, want 1 (2 free as read, less the launch made during the read)", got)
	}
	r.reset([]apiv1.CapacityReservation{{ID: "cr-0a", AvailableInstanceCount: 1}}, r.mark())
	if got := r.left(cr); got != 1 {
		t.Errorf("left after a read that saw every launch = %d, want 1", got)
	}
	if got := r.left(apiv1.CapacityReservation{ID: "cr-0other", AvailableInstanceCount: 4}); got != 4 {
		t.Errorf("left of a reservation never read = %d, want the status's 4", got)
	}
}
