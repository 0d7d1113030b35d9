package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// startStack builds tailor and ec2sim from the current source and starts them against the shared control plane.
func startStack(t *testing.T, opts testenv.StackOptions) *testenv.Stack {
	t.Helper()
	bin := t.TempDir()
	if err := testenv.BuildTailor(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	opts.BinDir = bin
	stack, err := env.StartStack(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	stack.StopOnCleanup(t, 40)
	return stack
}

// applyExample creates the objects of an examples/ file and deletes them when the test ends.
func applyExample(t *testing.T, kube client.Client, name string) {
	t.Helper()
	created, err := testenv.ApplyExample(t.Context(), kube, name)
	for _, obj := range created {
		t.Cleanup(func() { _ = kube.Delete(context.WithoutCancel(t.Context()), obj) })
	}
	if err != nil {
		t.Fatal(err)
	}
}

func scaleInflate(t *testing.T, cs kubernetes.Interface, ns string, replicas int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := cs.AppsV1().Deployments(ns).GetScale(t.Context(), "inflate", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = cs.AppsV1().Deployments(ns).UpdateScale(t.Context(), "inflate", s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scaling inflate to %d: %v", replicas, err)
	}
}

// TestReferenceScenario is the tutorial through the production code path (the AWS provider on the real SDK against
// ec2sim, nodes registered by ec2sim and run by KWOK, pods placed by the real kube-scheduler): scale inflate to 4 →
// one right-sized spot node runs all four; scale to 0 → the node is marked empty, cordoned, drained and deleted
// consolidateAfter (30 s) after its last pod left, and its instance terminated.
func TestReferenceScenario(t *testing.T) {
	stack := startStack(t, testenv.StackOptions{ClusterName: "demo-cluster"})
	referenceScenario(t, stack)
}

// referenceScenario runs the tutorial against a running stack.
func referenceScenario(t *testing.T, stack *testenv.Stack) {
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })

	ns := createNamespace(t, cs, "reference")
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), testenv.Inflate(ns, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	scaleInflate(t, cs, ns, 4)
	var node string
	waitForPods(t, cs, ns, "4 inflate pods Running on one node", func(pods []corev1.Pod) bool {
		if len(pods) != 4 {
			return false
		}
		node = pods[0].Spec.NodeName
		return all(pods, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == node && node != ""
		})
	})
	t.Logf("scale to 4 → 4 pods Running in %s", time.Since(start).Round(time.Millisecond))

	claims := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 1 {
		t.Fatalf("%d nodeclaims, want exactly 1", len(claims.Items))
	}
	nc := claims.Items[0]
	if nc.Status.NodeName != node || nc.Labels[apiv1.CapacityTypeLabelKey] != apiv1.CapacityTypeSpot {
		t.Errorf("nodeclaim %s: node %q (pods on %q), capacity type %q (want spot)", nc.Name, nc.Status.NodeName, node, nc.Labels[apiv1.CapacityTypeLabelKey])
	}
	checkCheapestFit(t, nc, resource.MustParse("4"))

	// Scale-down.
	scaleInflate(t, cs, ns, 0)
	waitForPods(t, cs, ns, "no inflate pods", func(pods []corev1.Pod) bool { return len(pods) == 0 })
	lastPodLeft := time.Now()
	testenv.WaitFor(t, 2*time.Minute, "the empty node deleted", func(ctx context.Context) bool {
		err := kube.Get(ctx, client.ObjectKey{Name: node}, &corev1.Node{})
		return apierrors.IsNotFound(err)
	})
	after := time.Since(lastPodLeft)
	t.Logf("empty node deleted %s after its last pod left (consolidateAfter 30s)", after.Round(time.Millisecond))
	if after < 25*time.Second || after > 45*time.Second {
		t.Errorf("node deleted %s after its last pod left, want about 30s (consolidateAfter) within +10s", after.Round(time.Second))
	}
	testenv.WaitFor(t, time.Minute, "the nodeclaim gone and its instance terminated", func(ctx context.Context) bool {
		err := kube.Get(ctx, client.ObjectKeyFromObject(&nc), &apiv1.NodeClaim{})
		return apierrors.IsNotFound(err) && instanceState(t, stack, nc.Status.ProviderID) == "terminated"
	})
	log, err := os.ReadFile(stack.Controller.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"marked node empty", "disrupting node(s) via delete, reason: empty", "cordoned node", "deleted node"} {
		if !strings.Contains(string(log), line) {
			t.Errorf("controller log lacks %q", line)
		}
	}
}

// instanceState asks ec2sim's admin API for the state of the instance behind a provider ID.
func instanceState(t *testing.T, stack *testenv.Stack, providerID string) string {
	t.Helper()
	resp, err := http.Get(stack.EC2Endpoint + "/admin/instances")
	if err != nil {
		t.Fatalf("listing ec2sim instances: %v", err)
	}
	defer resp.Body.Close()
	var instances []ec2sim.AdminInstance
	if err := json.NewDecoder(resp.Body).Decode(&instances); err != nil {
		t.Fatalf("decoding ec2sim instances: %v", err)
	}
	for _, in := range instances {
		if in.ProviderID == providerID {
			return in.State
		}
	}
	return "absent"
}

// checkCheapestFit checks, independently of the simulator, that no instance type in ec2sim's catalogue with a cheaper
// spot offering in the claim's zone could hold the claim's cpu, and that the launched one can. Types ec2sim's default
// region does not sell in that zone (docs/ec2sim.md, per-zone availability) do not count.
func checkCheapestFit(t *testing.T, nc apiv1.NodeClaim, cpu resource.Quantity) {
	t.Helper()
	chosen, zone := nc.Labels[apiv1.InstanceTypeLabelKey], nc.Labels[apiv1.ZoneLabelKey]
	cat, err := catalog.Load(catalog.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	region := ec2sim.DefaultConfig("demo-cluster")
	price := map[string]float64{}
	fits := map[string]bool{}
	for _, it := range cat.ToInstanceTypes(catalog.Options{VMMemoryOverheadPercent: ec2sim.DefaultVMMemoryOverheadPercent}) {
		alloc := it.Allocatable()[corev1.ResourceCPU]
		fits[it.Name] = alloc.Cmp(cpu) >= 0
		for _, o := range it.Offerings {
			if o.Zone == zone && o.CapacityType == apiv1.CapacityTypeSpot && region.Sells(zone, it.Name) {
				price[it.Name] = o.PricePerHour
			}
		}
	}
	if !fits[chosen] {
		t.Errorf("launched %s, which cannot hold %s cpu", chosen, cpu.String())
	}
	var cheaper []string
	for name, p := range price {
		if fits[name] && p < price[chosen] {
			cheaper = append(cheaper, fmt.Sprintf("%s ($%.4f)", name, p))
		}
	}
	if len(cheaper) > 0 {
		t.Errorf("launched %s at $%.4f/h in %s, but cheaper spot types fit: %v", chosen, price[chosen], zone, cheaper)
	}
}

// waitNoNodeClaims waits until every NodeClaim is gone (their instances terminated) so the next test starts clean.
func waitNoNodeClaims(t *testing.T, kube client.Client) {
	ctx := context.WithoutCancel(t.Context())
	_ = kube.DeleteAllOf(ctx, &apiv1.NodeClaim{})
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &apiv1.NodeClaimList{}
		if err := kube.List(ctx, list); err != nil {
			return false, err
		}
		return len(list.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("nodeclaims still present after the test: %v", err)
	}
}
