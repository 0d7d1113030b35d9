package nodepool

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestClaimEventsCoalesce: the status of a NodePool sums all its claims, and each claim's every change asked for it
// again: in a scale-up to 1,000 nodes that listing was a fifth of all the controller allocated. Changes of a pool's
// claims now ask for one recount statusDebounce after the first of them.
func TestClaimEventsCoalesce(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
		workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Clock: clk})
	defer q.ShutDown()
	h := claimEvents()
	for i := range 100 {
		nc := &apiv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c-%d", i), Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}}}
		h.Create(t.Context(), event.CreateEvent{Object: nc}, q)
		h.Update(t.Context(), event.UpdateEvent{ObjectOld: nc, ObjectNew: nc}, q)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d recounts queued at once by 200 claim events, want none before statusDebounce", n)
	}
	// AddAfter stamps the time an item is due when it is called, so stepping the clock now releases it.
	clk.Step(statusDebounce)
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return q.Len() > 0, nil
	}); err != nil {
		t.Fatalf("no recount queued %s after the claim events", statusDebounce)
	}
	if n := q.Len(); n != 1 {
		t.Errorf("%d recounts queued for one NodePool, want 1", n)
	}
}
