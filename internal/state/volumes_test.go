package state

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestVolumeLimits: a CSINode's allocatable counts become the node's attach limits; a driver without one has none.
func TestVolumeLimits(t *testing.T) {
	got := volumeLimits([]storagev1.CSINode{
		{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{
			{Name: "ebs.csi.aws.com", NodeID: "i-1", Allocatable: &storagev1.VolumeNodeResources{Count: ptr.To[int32](26)}},
			{Name: "efs.csi.aws.com", NodeID: "i-1"},
		}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "n2"}},
	})
	want := map[string]map[string]int64{"n1": {"ebs.csi.aws.com": 26}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("volumeLimits (-want +got):\n%s", diff)
	}
}
