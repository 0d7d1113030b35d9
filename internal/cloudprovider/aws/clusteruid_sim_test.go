package aws

import (
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/controller/nodeclaim"
)

// newClusterOn builds the provider of another cluster against the same ec2sim: its own cluster name and UID, and
// its own Kubernetes objects (the EC2NodeClass default, resolved, and a NodePool using it).
func newClusterOn(t *testing.T, e *simEnv, name, uid string) *Provider {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := apiv1.AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&apiv1.EC2NodeClass{}).Build()
	opts := e.provider.opts
	opts.ClusterName, opts.ClusterUID = name, uid
	p, err := New(opts, e.clients, kube, e.clock)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	nc := nodeClass("default")
	if err := p.ResolveNodeClass(t.Context(), nc); err != nil {
		t.Fatalf("ResolveNodeClass: %v", err)
	}
	status := nc.Status
	if err := kube.Create(t.Context(), nc); err != nil {
		t.Fatalf("creating EC2NodeClass: %v", err)
	}
	nc.Status = status
	if err := kube.Status().Update(t.Context(), nc); err != nil {
		t.Fatalf("updating EC2NodeClass status: %v", err)
	}
	np := &apiv1.NodePool{}
	np.Name = "default"
	np.Spec.Template.Spec.NodeClassRef = apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}
	if err := kube.Create(t.Context(), np); err != nil {
		t.Fatalf("creating NodePool: %v", err)
	}
	return p
}

func listNames(t *testing.T, p *Provider) []string {
	t.Helper()
	list, err := p.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var names []string
	for _, nc := range list {
		names = append(names, nc.Name)
	}
	return names
}

// Two clusters of the same name in one account (a re-created cluster, a copy in a second environment) tell their
// instances apart by the cluster UID: neither lists, adopts or terminates the other's. An instance launched before
// the UID existed (no UID tag) stays its cluster's, so an upgrade does not orphan the fleet.
func TestSimSameNameClustersKeepApart(t *testing.T) {
	e := newSimEnv(t)
	ctx := t.Context()
	a := newClusterOn(t, e, testCluster, "uid-a")
	b := newClusterOn(t, e, testCluster, "uid-b")
	legacy := newClusterOn(t, e, testCluster, "") // the same cluster's controller before the upgrade

	ownA := must[*apiv1.NodeClaim](t, "Create a")(a.Create(ctx, testNodeClaim("nc-a", "1")))
	ownB := must[*apiv1.NodeClaim](t, "Create b")(b.Create(ctx, testNodeClaim("nc-b", "1")))
	old := must[*apiv1.NodeClaim](t, "Create legacy")(legacy.Create(ctx, testNodeClaim("nc-old", "1")))
	e.step(2 * time.Second)

	if inst, _ := e.simInstance(instanceIDOf(t, ownA)); inst.Tags[TagClusterUID] != "uid-a" || inst.Tags[TagCluster] != testCluster {
		t.Errorf("cluster a's instance tags = %v, want %s=uid-a and %s=%s", inst.Tags, TagClusterUID, TagCluster, testCluster)
	}
	if inst, _ := e.simInstance(instanceIDOf(t, old)); inst.Tags[TagClusterUID] != "" {
		t.Errorf("an instance launched without a UID carries %s=%s", TagClusterUID, inst.Tags[TagClusterUID])
	}

	// List: each cluster sees its own instances and the ones launched before UIDs, never the other's.
	if got := listNames(t, a); len(got) != 2 || got[0] != "nc-a" || got[1] != "nc-old" {
		t.Errorf("cluster a lists %v, want [nc-a nc-old]", got)
	}
	if got := listNames(t, b); len(got) != 2 || got[0] != "nc-b" || got[1] != "nc-old" {
		t.Errorf("cluster b lists %v, want [nc-b nc-old]", got)
	}
	// Get: the other cluster's instance does not exist for it; an instance without a UID does.
	if _, err := a.Get(ctx, ownB.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("cluster a's Get of cluster b's instance = %v, want NodeClaimNotFoundError", err)
	}
	if _, err := a.Get(ctx, old.Status.ProviderID); err != nil {
		t.Errorf("cluster a's Get of the instance launched without a UID: %v", err)
	}
	// Create: a claim of the same name in the other cluster is not adopted; one launched without a UID is.
	fleets, _ := e.transport.counts("CreateFleet")
	again := must[*apiv1.NodeClaim](t, "Create nc-b in a")(a.Create(ctx, testNodeClaim("nc-b", "1")))
	if again.Status.ProviderID == ownB.Status.ProviderID {
		t.Errorf("cluster a adopted cluster b's instance %s for its own nc-b", ownB.Status.ProviderID)
	}
	adopted := must[*apiv1.NodeClaim](t, "Create nc-old in a")(a.Create(ctx, testNodeClaim("nc-old", "1")))
	if adopted.Status.ProviderID != old.Status.ProviderID {
		t.Errorf("cluster a launched %s for nc-old instead of adopting %s, launched without a UID", adopted.Status.ProviderID, old.Status.ProviderID)
	}
	if n, _ := e.transport.counts("CreateFleet"); n != fleets+1 {
		t.Errorf("CreateFleet called %d more times, want 1 (nc-b in cluster a only)", n-fleets)
	}
	// Delete: refused for the other cluster's instance, which keeps running.
	if err := a.Delete(ctx, ownB); !errors.Is(err, ErrNotOwned) {
		t.Errorf("cluster a's Delete of cluster b's instance = %v, want ErrNotOwned", err)
	}
	if inst, _ := e.simInstance(instanceIDOf(t, ownB)); inst.State != "running" {
		t.Errorf("cluster b's instance is %s after cluster a's refused Delete, want running", inst.State)
	}
	if n, _ := e.transport.counts("TerminateInstances"); n != 0 {
		t.Errorf("TerminateInstances called %d times for another cluster's instance", n)
	}

	// Launch template GC: cluster b has no node class "other"; its collector must not delete cluster a's template.
	nc := &apiv1.EC2NodeClass{}
	if err := a.kube.Get(ctx, client.ObjectKey{Name: "default"}, nc); err != nil {
		t.Fatal(err)
	}
	templatesBefore := e.templateNames()
	if err := b.kube.(client.Client).Delete(ctx, nc.DeepCopy()); err != nil {
		t.Fatalf("deleting cluster b's node class: %v", err)
	}
	e.step(launchTemplateGrace + time.Minute)
	deleted, err := b.GarbageCollectLaunchTemplates(ctx)
	if err != nil {
		t.Fatalf("cluster b's GarbageCollectLaunchTemplates: %v", err)
	}
	if len(deleted) != 0 {
		t.Errorf("cluster b's collector deleted %v; cluster a's templates must stay (before: %v)", deleted, templatesBefore)
	}

	// Instance GC: each cluster holds the NodeClaim of its own instance. Cluster a's collector terminates what it
	// owns and no claim accounts for (its nc-b, the instance without a UID), none of cluster b's; cluster b's then
	// finds nothing of its own to collect and touches none of cluster a's.
	for _, c := range []struct {
		p     *Provider
		claim *apiv1.NodeClaim
	}{{a, ownA}, {b, ownB}} {
		stored := c.claim.DeepCopy()
		stored.ResourceVersion = ""
		if err := c.p.kube.(client.Client).Create(ctx, stored); err != nil {
			t.Fatalf("storing nodeclaim %s: %v", stored.Name, err)
		}
	}
	collect := func(p *Provider) {
		t.Helper()
		gc, err := nodeclaim.NewGarbageCollector(e.clock, p.kube.(client.Client), p)
		if err != nil {
			t.Fatal(err)
		}
		if err := gc.Collect(ctx); err != nil {
			t.Fatalf("Collect: %v", err)
		}
	}
	state := func(nc *apiv1.NodeClaim) string {
		inst, _ := e.simInstance(instanceIDOf(t, nc))
		return inst.State
	}
	collect(a)
	if got := state(ownB); got != "running" {
		t.Errorf("cluster b's instance is %s after cluster a's garbage collection, want running", got)
	}
	if got := state(again); got != "shutting-down" {
		t.Errorf("cluster a's unclaimed nc-b is %s after its garbage collection, want shutting-down", got)
	}
	collect(b)
	if got := state(ownA); got != "running" {
		t.Errorf("cluster a's instance is %s after cluster b's garbage collection, want running", got)
	}
	if got := state(ownB); got != "running" {
		t.Errorf("cluster b's claimed instance is %s after its garbage collection, want running", got)
	}
}
