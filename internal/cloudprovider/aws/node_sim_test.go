package aws

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// TestSimNodeMatchesPlannedAllocatable checks the user data end to end: ec2sim registers the Node from the launch
// template's user data as the kubelet would, and the Node must carry the NodeClaim's labels and taints and exactly
// the allocatable the provider predicted, under the name Create announced. (The Node goes to a fake clientset: what is checked is the user data,
// not Kubernetes.)
func TestSimNodeMatchesPlannedAllocatable(t *testing.T) {
	var types []ec2sim.InstanceType
	for _, it := range ec2sim.InstanceTypesFromCatalog(catalog.MustLoad(catalog.DefaultName), testRegion, DefaultVMMemoryOverheadPercent) {
		if slices.Contains([]string{"m5.large", "m6g.large", "c6g.xlarge"}, it.Name) {
			types = append(types, it)
		}
	}
	nodes := kubefake.NewClientset()
	e := newSimEnvWith(t, types, nodes)
	e.addNodeClass(nodeClass("default"))
	claim := testNodeClaim("nc-1", "1")
	claim.Spec.StartupTaints = []corev1.Taint{{Key: "example.com/agent-not-ready", Effect: corev1.TaintEffectNoSchedule}}
	got, err := e.provider.Create(t.Context(), claim)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(3 * time.Second)
	list, err := nodes.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("ec2sim registered %d nodes (%v), want 1", len(list.Items), err)
	}
	node := list.Items[0]
	if node.Spec.ProviderID != got.Status.ProviderID {
		t.Errorf("node provider ID %q, NodeClaim %q", node.Spec.ProviderID, got.Status.ProviderID)
	}
	for k, v := range map[string]string{apiv1.NodePoolLabelKey: "default", "team": "a", apiv1.InstanceTypeLabelKey: got.Labels[apiv1.InstanceTypeLabelKey]} {
		if node.Labels[k] != v {
			t.Errorf("node label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if name := got.Annotations[apiv1.NodeNameAnnotationKey]; name != node.Name {
		t.Errorf("Create announced node name %q, the node registered as %q", name, node.Name)
	}
	// The node registers unschedulable until the lifecycle controller has synced it.
	wantTaints := append(append([]corev1.Taint{apiv1.UnregisteredTaint}, claim.Spec.Taints...), claim.Spec.StartupTaints...)
	if diff := cmp.Diff(wantTaints, node.Spec.Taints); diff != "" {
		t.Errorf("node taints (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got.Status.Allocatable, node.Status.Allocatable, quantityCmp); diff != "" {
		t.Errorf("node allocatable differs from the provider's prediction (-predicted +node):\n%s", diff)
	}
	if diff := cmp.Diff(got.Status.Capacity, node.Status.Capacity, quantityCmp); diff != "" {
		t.Errorf("node capacity differs from the provider's prediction (-predicted +node):\n%s", diff)
	}
}

// A Bottlerocket node class whose userData has its own [settings.kubernetes] table boots a node that registers with
// the plan's labels and taints: ec2sim parses the merged settings as Bottlerocket would, refusing a table defined
// twice (which is what appending Tailor's settings to the user's produced).
func TestSimBottlerocketUserDataWithOwnKubernetesSettings(t *testing.T) {
	nodes := kubefake.NewClientset()
	e := newSimEnvWith(t, simTypes(), nodes)
	nc := nodeClass("default")
	nc.Spec.AMISelectorTerms = []apiv1.AMISelectorTerm{{Alias: "bottlerocket@latest"}}
	userData := "[settings.kubernetes]\nimage-gc-high-threshold-percent = 80\n\n[settings.kubernetes.node-labels]\n\"mine\" = \"yes\"\n"
	nc.Spec.UserData = &userData
	e.addNodeClass(nc)
	got, err := e.provider.Create(t.Context(), testNodeClaim("br-1", "1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(3 * time.Second)
	list, err := nodes.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		inst, _ := e.simInstance(instanceIDOf(t, got))
		t.Fatalf("ec2sim registered %d nodes (%v), want 1; instance: %+v", len(list.Items), err, inst)
	}
	node := list.Items[0]
	for k, v := range map[string]string{apiv1.NodePoolLabelKey: "default", "team": "a", "mine": "yes"} {
		if node.Labels[k] != v {
			t.Errorf("node label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if !slices.ContainsFunc(node.Spec.Taints, func(tn corev1.Taint) bool { return tn.Key == apiv1.UnregisteredTaint.Key }) {
		t.Errorf("node taints %v lack %s", node.Spec.Taints, apiv1.UnregisteredTaint.Key)
	}
}

// ec2sim registers a node only when its user data joins the simulated EKS cluster's API server with its CA: the
// identity the provider discovered from DescribeCluster does; another endpoint does not.
func TestSimNodesJoinWithTheDiscoveredSettings(t *testing.T) {
	cfg := ec2sim.DefaultConfig(testCluster)
	cfg.EKS.Endpoint = "https://ABC.gr7.us-east-1.eks.amazonaws.com"
	cfg.EKS.CertificateAuthority = testCABundle(t)
	nodes := kubefake.NewClientset()
	e := newSimEnvConfig(t, cfg, simTypes(), nodes)
	e.provider.opts.KubernetesVersion = ""
	e.provider.opts.DiscoverCluster(t.Context(), ClusterSources{EKS: e.clients.EKS})
	if err := e.provider.opts.RequireJoinSettings(t.Context(), e.clients.SSM); err != nil {
		t.Fatalf("RequireJoinSettings after discovery: %v", err)
	}
	e.addNodeClass(nodeClass("default"))
	countNodes := func() int {
		list, err := nodes.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	if _, err := e.provider.Create(t.Context(), testNodeClaim("joins", "1")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(3 * time.Second)
	if n := countNodes(); n != 1 {
		t.Fatalf("%d nodes registered, want the one whose user data names the cluster's endpoint and CA", n)
	}

	e.provider.opts.ClusterEndpoint = "https://127.0.0.1:6443"
	stray, err := e.provider.Create(t.Context(), testNodeClaim("stray", "1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(3 * time.Second)
	if n := countNodes(); n != 1 {
		t.Errorf("%d nodes registered; the instance told to join another API server must not register", n)
	}
	if inst, _ := e.simInstance(instanceIDOf(t, stray)); !inst.NeverRegistr {
		t.Errorf("ec2sim did not mark %s as never registering", inst.ID)
	}
}
