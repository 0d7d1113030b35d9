package aws

import (
	"fmt"
	"testing"
	"time"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// TestSimDriftPassDescribesInstancesOnce: a disruption pass asks IsDrifted about every NodeClaim; the whole pass
// costs one listing of the cluster's instances (one DescribeInstances page per 1,000 instances), not one call per
// NodeClaim. The next pass, a PollInterval later, lists again and sees what changed.
func TestSimDriftPassDescribesInstancesOnce(t *testing.T) {
	const n = 20
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	ctx := t.Context()
	var claims []*apiv1.NodeClaim
	for i := range n {
		claims = append(claims, must[*apiv1.NodeClaim](t, "Create")(e.provider.Create(ctx, testNodeClaim(fmt.Sprintf("nc-%d", i), "1"))))
	}
	e.step(5 * time.Second) // as far apart as two disruption passes
	pass := func() int {
		t.Helper()
		before, _ := e.transport.counts("DescribeInstances")
		for _, c := range claims {
			if reason, err := e.provider.IsDrifted(ctx, c); err != nil || reason != "" {
				t.Fatalf("IsDrifted(%s) = %q, %v; want no drift", c.Name, reason, err)
			}
		}
		after, _ := e.transport.counts("DescribeInstances")
		return after - before
	}
	if calls := pass(); calls > 1 {
		t.Fatalf("a drift pass over %d NodeClaims made %d DescribeInstances calls, want 1 (one page of up to 1000 instances)", n, calls)
	}
	// A claim whose instance is gone is still reported gone, not drifted.
	if err := e.provider.Delete(ctx, claims[0]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	e.step(5 * time.Second)
	if _, err := e.provider.IsDrifted(ctx, claims[0]); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("IsDrifted of a terminated instance = %v, want NodeClaimNotFoundError", err)
	}
	claims = claims[1:]
	if calls := pass(); calls > 1 {
		t.Errorf("the next pass made %d DescribeInstances calls, want 1", calls)
	}
}
