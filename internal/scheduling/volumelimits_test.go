package scheduling

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumeSnapshot is a pool of smallCatalog and a storage class per driver: "ebs" (the EBS CSI driver), "gp2-intree"
// (the in-tree EBS provisioner, migrated to the CSI driver), "efs" (another driver). pvcs are unbound claims of
// those classes, named class-i.
func volumeSnapshot(pvcs map[string]int) *Snapshot {
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	snap := &Snapshot{NodePools: []*NodePool{nodePool("default", smallCatalog()...).obj()}}
	for class, provisioner := range map[string]string{"ebs": EBSCSIDriver, "gp2-intree": "kubernetes.io/aws-ebs", "efs": "efs.csi.aws.com"} {
		snap.StorageClasses = append(snap.StorageClasses, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: provisioner, VolumeBindingMode: &wffc})
	}
	for _, class := range slices.Sorted(func(yield func(string) bool) {
		for k := range pvcs {
			if !yield(k) {
				return
			}
		}
	}) {
		for i := range pvcs[class] {
			sc := class
			snap.PersistentVolumeClaims = append(snap.PersistentVolumeClaims, &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", class, i), Namespace: "default"},
				Spec:       corev1.PersistentVolumeClaimSpec{StorageClassName: &sc},
			})
		}
	}
	return snap
}

// claimVolumes counts the EBS volumes (claims not of the efs class, and ephemeral volumes) of each planned
// NodeClaim's pods.
func claimVolumes(r *Results) []int {
	var out []int
	for _, c := range r.NodeClaims {
		n := 0
		for _, p := range c.Pods {
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName[:3] != "efs" || v.Ephemeral != nil {
					n++
				}
			}
		}
		out = append(out, n)
	}
	return out
}

// TestCSIVolumeLimits: a new node takes at most DefaultEBSAttachLimit EBS volumes (kube-scheduler's NodeVolumeLimits
// would refuse the rest); a pod needing more than any type attaches is unschedulable with a reason saying so.
func TestCSIVolumeLimits(t *testing.T) {
	onePerPod := func(class string, n int) []*corev1.Pod {
		var pods []*corev1.Pod
		for i := range n {
			pods = append(pods, pod(fmt.Sprintf("%s-app-%d", class, i)).req("100m", "128Mi").pvc(fmt.Sprintf("%s-%d", class, i)).obj())
		}
		return pods
	}
	for _, tc := range []struct {
		name        string
		pvcs        map[string]int
		pods        []*corev1.Pod
		wantVolumes []int // EBS volumes per planned NodeClaim
		wantReasons map[string][]string
	}{
		{
			name:        "30 pods with one EBS volume each need two nodes",
			pvcs:        map[string]int{"ebs": 30},
			pods:        onePerPod("ebs", 30),
			wantVolumes: []int{DefaultEBSAttachLimit, 30 - DefaultEBSAttachLimit},
		},
		{
			name:        "in-tree EBS volumes count as the CSI driver's",
			pvcs:        map[string]int{"gp2-intree": 26},
			pods:        onePerPod("gp2-intree", 26),
			wantVolumes: []int{DefaultEBSAttachLimit, 1},
		},
		{
			name: "generic ephemeral volumes of an EBS class count",
			pods: func() []*corev1.Pod {
				sc := "ebs"
				var pods []*corev1.Pod
				for i := range 26 {
					p := pod(fmt.Sprintf("scratch-%d", i)).req("100m", "128Mi").obj()
					p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
						VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc}},
					}}})
					pods = append(pods, p)
				}
				return pods
			}(),
			wantVolumes: []int{DefaultEBSAttachLimit, 1},
		},
		{
			name:        "another driver's volumes are not limited",
			pvcs:        map[string]int{"efs": 30},
			pods:        onePerPod("efs", 30),
			wantVolumes: []int{0},
		},
		{
			name: "a pod needing more volumes than any type attaches is unschedulable",
			pvcs: map[string]int{"ebs": 30},
			pods: func() []*corev1.Pod {
				b := pod("hoarder").req("100m", "128Mi")
				for i := range 30 {
					b = b.pvc(fmt.Sprintf("ebs-%d", i))
				}
				return []*corev1.Pod{b.obj()}
			}(),
			wantReasons: map[string][]string{"hoarder": {`nodepool "default": ` + fmt.Sprintf(reasonCSIVolumesFormat, 30, EBSCSIDriver, DefaultEBSAttachLimit)}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := solve(t, volumeSnapshot(tc.pvcs), tc.pods, Options{})
			got := claimVolumes(r)
			slices.Sort(got)
			want := slices.Clone(tc.wantVolumes)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("EBS volumes per NodeClaim = %v, want %v", got, want)
			}
			for name, reasons := range reasonsOf(r) {
				if !slices.Equal(reasons, tc.wantReasons[name]) {
					t.Errorf("pod %s unschedulable: %q, want %q", name, reasons, tc.wantReasons[name])
				}
			}
			if len(reasonsOf(r)) != len(tc.wantReasons) {
				t.Errorf("unschedulable pods %v, want %v", reasonsOf(r), tc.wantReasons)
			}
		})
	}
}

// TestCSIVolumeLimitsOnExistingNodes: an existing node takes volumes up to its CSINode's count (VolumeLimits),
// counting those of the pods already on it; a node Tailor launched whose CSINode is unknown takes
// DefaultEBSAttachLimit. (summary lists only the pods the plan places.)
func TestCSIVolumeLimitsOnExistingNodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  map[string]int64
		labels  map[string]string
		want    []string
		pending int
	}{
		{name: "CSINode count 3, one volume in use: two more fit, the third opens a node", limits: map[string]int64{EBSCSIDriver: 3}, pending: 3,
			want: []string{"c6.large test-1a spot: ebs-app-3", "existing big: ebs-app-1,ebs-app-2"}},
		{name: "another driver's count does not limit EBS", limits: map[string]int64{"efs.csi.aws.com": 1}, pending: 3,
			want: []string{"existing big: ebs-app-1,ebs-app-2,ebs-app-3"}},
		{name: "a Tailor node without a CSINode count takes the default", labels: map[string]string{"tailor.sh/nodepool": "default"}, pending: DefaultEBSAttachLimit,
			want: []string{"c6.large test-1a spot: ebs-app-25", "existing big: " + appNames(1, DefaultEBSAttachLimit-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := volumeSnapshot(map[string]int{"ebs": tc.pending + 1})
			old := pod("old").req("100m", "128Mi").pvc("ebs-0").obj()
			n := existingNode("big", "test-1a", "64", "256Gi", old)
			n.VolumeLimits = tc.limits
			for k, v := range tc.labels {
				n.Labels[k] = v
			}
			snap.Nodes = []*ExistingNode{n}
			var pods []*corev1.Pod
			for i := 1; i <= tc.pending; i++ {
				pods = append(pods, pod(fmt.Sprintf("ebs-app-%d", i)).req("100m", "128Mi").pvc(fmt.Sprintf("ebs-%d", i)).obj())
			}
			got := summary(solve(t, snap, pods, Options{}))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q\nwant %q", got, tc.want)
			}
		})
	}
}

// appNames is "ebs-app-<from>,…,ebs-app-<to>" in sorted order.
func appNames(from, to int) string {
	var names []string
	for i := from; i <= to; i++ {
		names = append(names, fmt.Sprintf("ebs-app-%d", i))
	}
	slices.Sort(names)
	out := names[0]
	for _, n := range names[1:] {
		out += "," + n
	}
	return out
}
