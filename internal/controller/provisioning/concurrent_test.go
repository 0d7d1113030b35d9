package provisioning

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestLaunchesCreateNodeClaimsConcurrently: a plan of many nodes creates its NodeClaims several at a time. One after
// another, the 500 NodeClaims of a 5,000-pod batch took 90 s to create on a busy API server (`make scale`), and the
// last pods waited that long for their node to be launched.
func TestLaunchesCreateNodeClaimsConcurrently(t *testing.T) {
	f := newFixture(t, "m5.large")
	f.nodePool("default", nil)
	const pods = 8
	f.pendingPods(pods, "1500m", nil) // one m5.large each
	overlap := &testenv.Overlap{Delay: 20 * time.Millisecond}
	f.provisioner.kube = testenv.Intercept(f.provisioner.kube, interceptor.Funcs{
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*apiv1.NodeClaim); ok {
				return overlap.Do(func() error { return cl.Create(ctx, obj, opts...) })
			}
			return cl.Create(ctx, obj, opts...)
		},
	})
	results, err := f.provisioner.Provision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	created, most := overlap.Counts()
	if len(results.NodeClaims) != pods || created != pods {
		t.Fatalf("planned %d and created %d NodeClaims, want %d of each", len(results.NodeClaims), created, pods)
	}
	if most < 2 {
		t.Errorf("the %d NodeClaims were created one at a time (at most %d in flight), want several at once", created, most)
	}
	claims := &apiv1.NodeClaimList{}
	if err := f.kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != pods {
		t.Errorf("%d NodeClaims exist, want %d", len(claims.Items), pods)
	}
	nominated := 0
	for _, planned := range results.NodeClaims {
		for _, pod := range planned.Pods {
			if _, ok := f.provisioner.cluster.Nominations().Nomination(pod); ok {
				nominated++
			}
		}
	}
	if nominated != pods {
		t.Errorf("%d pods nominated, want %d", nominated, pods)
	}
}
