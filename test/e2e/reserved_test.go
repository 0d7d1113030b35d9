package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestReservedCapacityUsedBeforeSpot: ec2sim's account holds a capacity reservation of two m5.large in us-east-1a.
// An EC2NodeClass selects it by tag, and a NodePool allowing reserved and spot gets three one-pod nodes: two launch
// into the reservation (labelled with it, each with a LaunchedIntoReservation event), the third goes spot because
// the reservation is full.
func TestReservedCapacityUsedBeforeSpot(t *testing.T) {
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	const reservation = "cr-0e2e00000000000a1"
	config := filepath.Join(t.TempDir(), "ec2sim.yaml")
	if err := os.WriteFile(config, []byte(`
clusterName: demo-cluster
capacityReservations:
  - {id: `+reservation+`, instanceType: m5.large, zone: us-east-1a, count: 2, tags: {team: ml}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	startStack(t, testenv.StackOptions{ClusterName: "demo-cluster", EC2SimArgs: []string{"--config=" + config}})
	nc := &apiv1.EC2NodeClass{}
	mustYAML(t, `
metadata: {name: disruption}
spec:
  subnetSelectorTerms: [{tags: {tailor.sh/discovery: demo-cluster}}]
  securityGroupSelectorTerms: [{tags: {tailor.sh/discovery: demo-cluster}}]
  instanceProfile: TailorNodeInstanceProfile-demo-cluster
  amiSelectorTerms: [{alias: al2023@latest}]
  capacityReservationSelectorTerms: [{tags: {team: ml}}]
`, nc)
	if err := kube.Create(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), nc) })
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })
	testenv.WaitFor(t, 30*time.Second, "the reservation in the EC2NodeClass's status", func(ctx context.Context) bool {
		got := &apiv1.EC2NodeClass{}
		return kube.Get(ctx, client.ObjectKey{Name: "disruption"}, got) == nil && len(got.Status.CapacityReservations) == 1 &&
			got.Status.CapacityReservations[0].ID == reservation && got.Status.CapacityReservations[0].AvailableInstanceCount == 2
	})
	createNodePool(t, kube, `
metadata: {name: reserved}
spec:
  template:
    metadata: {labels: {example.com/pool: reserved}}
    spec:
      requirements:
        - {key: tailor.sh/capacity-type, operator: In, values: [reserved, spot]}
        - {key: tailor.sh/instance-family, operator: In, values: [m5]}
  # No consolidation while the test looks: the kube-scheduler may bind a pod to another planned node than its
  # nominated one, which leaves a node empty and re-plans the pod; emptiness would then remove a reserved node.
  disruption: {consolidationPolicy: WhenEmpty, consolidateAfter: 10m}
`)
	ns := createNamespace(t, cs, "reserved")
	// One pod per m5.large: a core each, and two do not fit in one's allocatable.
	createDeployment(t, cs, workload(ns, "app", "reserved", 3, "1"))
	waitForPods(t, cs, ns, "the three pods Running", func(pods []corev1.Pod) bool {
		live := livePods(pods, "")
		return len(live) == 3 && running(live[0]) && running(live[1]) && running(live[2])
	})
	claims := poolClaims(t, kube, "reserved")
	byType := map[string]int{}
	for _, c := range claims {
		ct := c.Labels[apiv1.CapacityTypeLabelKey]
		byType[ct]++
		t.Logf("%s: %s %s %s reservation %q", c.Name, ct, c.Labels[apiv1.InstanceTypeLabelKey], c.Labels[apiv1.ZoneLabelKey], c.Labels[apiv1.CapacityReservationIDLabelKey])
		switch ct {
		case apiv1.CapacityTypeReserved:
			if c.Labels[apiv1.CapacityReservationIDLabelKey] != reservation || c.Labels[apiv1.InstanceTypeLabelKey] != "m5.large" || c.Labels[apiv1.ZoneLabelKey] != "us-east-1a" {
				t.Errorf("%s: reserved claim is %s in %s with reservation %q, want m5.large in us-east-1a in %s", c.Name,
					c.Labels[apiv1.InstanceTypeLabelKey], c.Labels[apiv1.ZoneLabelKey], c.Labels[apiv1.CapacityReservationIDLabelKey], reservation)
			}
			testenv.WaitFor(t, 30*time.Second, "a LaunchedIntoReservation event on "+c.Name, func(ctx context.Context) bool {
				events, err := cs.EventsV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
				if err != nil {
					return false
				}
				for _, e := range events.Items {
					if e.Regarding.Name == c.Name && e.Reason == "LaunchedIntoReservation" {
						return true
					}
				}
				return false
			})
		case apiv1.CapacityTypeSpot:
			if id := c.Labels[apiv1.CapacityReservationIDLabelKey]; id != "" {
				t.Errorf("%s: spot claim labelled with reservation %q", c.Name, id)
			}
		}
	}
	testenv.WaitFor(t, 30*time.Second, "two nodes labelled with the reservation", func(ctx context.Context) bool {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: apiv1.CapacityReservationIDLabelKey + "=" + reservation + "," + apiv1.CapacityTypeLabelKey + "=reserved"})
		return err == nil && len(nodes.Items) == 2
	})
	if byType[apiv1.CapacityTypeReserved] != 2 || byType[apiv1.CapacityTypeSpot] < 1 || len(claims) != byType[apiv1.CapacityTypeReserved]+byType[apiv1.CapacityTypeSpot] {
		t.Fatalf("claims by capacity type %v, want 2 reserved (the reservation's count) and the rest spot", byType)
	}
}
