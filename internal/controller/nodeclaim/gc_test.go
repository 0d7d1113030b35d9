package nodeclaim

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

// launchN creates n claims named prefix-0… and reconciles each until Launched.
func (f *fixture) launchN(prefix string, n int) []*apiv1.NodeClaim {
	f.t.Helper()
	out := make([]*apiv1.NodeClaim, 0, n)
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		f.claim(name, nil)
		out = append(out, f.reconcileUntil(name, "launched", func(nc *apiv1.NodeClaim) bool { return conditionTrue(nc, apiv1.ConditionTypeLaunched) }))
	}
	return out
}

// awaitCache waits until the informer cache holds every claim launched (with its provider ID) and every node given.
func (f *fixture) awaitCache(claims []*apiv1.NodeClaim, nodes ...*corev1.Node) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, want := range claims {
			got := &apiv1.NodeClaim{}
			if err := f.kube.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil || got.Status.ProviderID == "" || !conditionTrue(got, apiv1.ConditionTypeLaunched) {
				return false, nil
			}
		}
		for _, want := range nodes {
			got := &corev1.Node{}
			if err := f.kube.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil || len(got.Status.Conditions) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		f.t.Fatalf("cache did not catch up: %v", err)
	}
}

// gone says whether the claim is deleted or being deleted, as the API server has it.
func (f *fixture) gone(name string) bool {
	f.t.Helper()
	got := &apiv1.NodeClaim{}
	err := f.direct.Get(f.t.Context(), client.ObjectKey{Name: name}, got)
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return !got.DeletionTimestamp.IsZero()
}

// countGone counts the claims deleted or being deleted.
func (f *fixture) countGone(claims []*apiv1.NodeClaim) int {
	f.t.Helper()
	n := 0
	for _, nc := range claims {
		if f.gone(nc.Name) {
			n++
		}
	}
	return n
}

// vanish removes the claims' instances behind Tailor's back, as a changed --cluster-name or a lost tag makes the
// provider answer "not found" for them.
func (f *fixture) vanish(claims ...*apiv1.NodeClaim) {
	f.t.Helper()
	for _, nc := range claims {
		if err := f.cloud.Delete(f.t.Context(), nc); err != nil {
			f.t.Fatal(err)
		}
	}
}

// TestGCKeepsClaimOfReadyNode: a provider answering "not found" for a claim whose Node is Ready must not make the
// collector delete it: the Node proves the machine runs (the provider's answer is the thing that is wrong).
func TestGCKeepsClaimOfReadyNode(t *testing.T) {
	f := newFixture(t)
	claims := f.launchN("ready", 1)
	node := f.registerNode(claims[0], true)
	f.awaitCache(claims, node)
	f.vanish(claims...)
	f.clk.Step(GCGracePeriod + time.Second)
	for range 3 {
		if err := f.gc.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if f.gone(claims[0].Name) {
		t.Fatal("the claim of a Ready node was deleted because the provider did not find its instance")
	}
}

// TestGCBudget: one pass deletes at most its budget of claims whose instance is gone; the rest wait for later passes.
func TestGCBudget(t *testing.T) {
	f := newFixture(t)
	f.gc.ClaimBudget = 0.25 // of 8 claims: 2 a pass
	claims := f.launchN("budget", 8)
	f.awaitCache(claims)
	f.vanish(claims[:3]...)
	f.clk.Step(GCGracePeriod + time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	deleted := f.countGone(claims)
	if deleted != 2 {
		t.Fatalf("one pass deleted %d claims whose instance was gone, want the budget of 2", deleted)
	}
	for _, nc := range claims[3:] {
		if f.gone(nc.Name) {
			t.Fatalf("claim %s with a live instance was deleted", nc.Name)
		}
	}
}

// TestGCMostOrphanedSlowsDown: when most launched claims look orphaned at once the likelier cause is the provider's
// view (cluster name, tags, credentials), not a lost fleet: a pass deletes at most one claim whatever the budget.
func TestGCMostOrphanedSlowsDown(t *testing.T) {
	f := newFixture(t)
	f.gc.ClaimBudget = 1 // no budget limit: only the "most look orphaned" rule can hold deletions back
	claims := f.launchN("most", 4)
	f.awaitCache(claims)
	f.vanish(claims[:3]...)
	f.clk.Step(GCGracePeriod + time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	deleted := f.countGone(claims)
	if deleted != 1 {
		t.Fatalf("with 3 of 4 claims orphaned one pass deleted %d, want 1", deleted)
	}
}

// TestGCTerminatesSecondInstanceOfClaim: an instance carrying a live claim's name but not its provider ID (a launch
// whose response was lost and was retried) is an extra machine and is terminated; the claim's own instance stays.
func TestGCTerminatesSecondInstanceOfClaim(t *testing.T) {
	f := newFixture(t)
	claims := f.launchN("twice", 1)
	f.awaitCache(claims)
	extra := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: claims[0].Name, CreationTimestamp: metav1.NewTime(f.clk.Now())}}
	extra.Status.ProviderID = "fake:///us-east-1a/fake-8888"
	f.cloud.AddMachine(extra)
	f.clk.Step(GCGracePeriod + time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cloud.Get(t.Context(), extra.Status.ProviderID); !cloudprovider.IsNodeClaimNotFoundError(err) {
		t.Errorf("the second instance of claim %s was not terminated: %v", claims[0].Name, err)
	}
	if _, err := f.cloud.Get(t.Context(), claims[0].Status.ProviderID); err != nil {
		t.Errorf("the claim's own instance was terminated: %v", err)
	}
}

// TestGCKeepsInstanceOfClaimBeingLaunched: an instance named for a claim that has no provider ID yet is that claim's
// launch in progress (Create adopts it idempotently) and is kept.
func TestGCKeepsInstanceOfClaimBeingLaunched(t *testing.T) {
	f := newFixture(t)
	nc := f.claim("launching", nil)
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return f.kube.Get(ctx, client.ObjectKeyFromObject(nc), &apiv1.NodeClaim{}) == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inflight := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: nc.Name, CreationTimestamp: metav1.NewTime(f.clk.Now())}}
	inflight.Status.ProviderID = "fake:///us-east-1a/fake-7777"
	f.cloud.AddMachine(inflight)
	f.clk.Step(GCGracePeriod + time.Second)
	if err := f.gc.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cloud.Get(t.Context(), inflight.Status.ProviderID); err != nil {
		t.Errorf("the instance of a claim still launching was terminated: %v", err)
	}
}

// TestGCRunsAtStart: the first pass runs when the collector starts, not an interval later, so a controller that
// restarts more often than GCInterval still collects.
func TestGCRunsAtStart(t *testing.T) {
	f := newFixture(t)
	orphan := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "old-orphan", CreationTimestamp: metav1.NewTime(f.clk.Now().Add(-2 * GCGracePeriod))}}
	orphan.Status.ProviderID = "fake:///us-east-1a/fake-6666"
	f.cloud.AddMachine(orphan)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.gc.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := f.cloud.Get(ctx, orphan.Status.ProviderID)
		return cloudprovider.IsNodeClaimNotFoundError(err), nil
	})
	if err != nil {
		t.Fatalf("the orphan was not collected without the clock moving: the first pass waits an interval (%v)", err)
	}
}
