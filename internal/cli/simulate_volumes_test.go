package cli

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestSimulateCSIVolumeLimits: tailor simulate counts EBS CSI volumes against attach limits — a CSINode's count on
// an existing node, the default on new nodes — and reports a pod needing more than any type attaches.
func TestSimulateCSIVolumeLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ebs}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {kubernetes.io/hostname: n1, topology.kubernetes.io/zone: us-east-1a, kubernetes.io/arch: amd64, kubernetes.io/os: linux}
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: n1}
spec:
  drivers:
  - name: ebs.csi.aws.com
    nodeID: i-0123456789abcdef0
    allocatable: {count: 2}
`)
	pvc := func(name string) {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s, namespace: default}\nspec: {storageClassName: ebs, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", name)
	}
	podWith := func(name, node string, claims ...string) {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default}\nspec:\n", name)
		if node != "" {
			fmt.Fprintf(&b, "  nodeName: %s\n", node)
		}
		b.WriteString("  containers: [{name: app, image: app, resources: {requests: {cpu: 100m, memory: 128Mi}}}]\n")
		if len(claims) > 0 {
			b.WriteString("  volumes:\n")
			for _, c := range claims {
				fmt.Fprintf(&b, "  - {name: %s, persistentVolumeClaim: {claimName: %s}}\n", c, c)
			}
		}
	}
	var many []string
	for i := range 30 {
		many = append(many, fmt.Sprintf("many-%d", i))
		pvc(many[i])
	}
	for _, c := range []string{"used", "a", "b"} {
		pvc(c)
	}
	podWith("bound", "n1", "used")
	podWith("with-a", "", "a")
	podWith("with-b", "", "b")
	podWith("hoarder", "", many...)
	got := simulateJSON(t, b.String())
	var onN1 []string
	for _, e := range got.ExistingNodes {
		onN1 = append(onN1, e.Pods...)
	}
	var onNew []string
	for _, c := range got.NodeClaims {
		onNew = append(onNew, c.Pods...)
	}
	slices.Sort(onNew)
	// n1's CSINode allows 2 EBS volumes and "bound" uses one: one of with-a, with-b fits there, the other needs a node.
	if len(onN1) != 1 || len(onNew) != 1 {
		t.Errorf("existing n1 got %v and new nodes %v; want one volume pod on each (n1 attaches 2, one in use)", onN1, onNew)
	}
	want := `nodepool "default": needs 30 CSI volumes of ebs.csi.aws.com; the most any allowed instance type attaches is 25`
	found := false
	for _, u := range got.Unschedulable {
		if u.Pod == "default/hoarder" {
			found = slices.Contains(u.Reasons, want)
			if !found {
				t.Errorf("hoarder unschedulable for %q, want %q among the reasons", u.Reasons, want)
			}
		}
	}
	if !found {
		t.Errorf("default/hoarder not reported unschedulable; unschedulable: %+v", got.Unschedulable)
	}
}
