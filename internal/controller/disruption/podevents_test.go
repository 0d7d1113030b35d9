package disruption

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestPodEventsStampsLastPodEventTime: a pod event stamps the node's NodeClaim; a second event inside the dedupe
// window is not lost but stamped once the window is over.
func TestPodEventsStampsLastPodEventTime(t *testing.T) {
	cached, direct := env.Clients(t, testenv.NodeClaimProviderIDIndex)
	nc := &apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "stamped"},
		Spec:       apiv1.NodeClaimSpec{NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}},
	}
	if err := direct.Create(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	nc.Status.ProviderID = "fake:///us-east-1a/stamped"
	if err := direct.Status().Update(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	if err := direct.Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "stamped"}, Spec: corev1.NodeSpec{ProviderID: nc.Status.ProviderID}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		_ = direct.Delete(ctx, nc)
		_ = direct.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "stamped"}})
	})
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC))
	p := NewPodEvents(clk, cached)
	stampedAt := func(want time.Time) {
		t.Helper()
		err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			got := &apiv1.NodeClaim{}
			if err := cached.Get(ctx, client.ObjectKey{Name: "stamped"}, got); err != nil {
				return false, err
			}
			return got.Status.LastPodEventTime.Time.Equal(want), nil
		})
		if err != nil {
			t.Fatalf("lastPodEventTime never became %s", want)
		}
	}
	reconcileNode := func() reconcile.Result {
		t.Helper()
		res, err := p.Reconcile(t.Context(), reconcile.Request{NamespacedName: client.ObjectKey{Name: "stamped"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The node and the claim's provider ID must be in the cache before the first event.
	stampedAt(time.Time{})
	err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		claims := &apiv1.NodeClaimList{}
		if err := cached.List(ctx, claims, client.MatchingFields{ProviderIDIndex: nc.Status.ProviderID}); err != nil {
			return false, err
		}
		return len(claims.Items) == 1 && cached.Get(ctx, client.ObjectKey{Name: "stamped"}, &corev1.Node{}) == nil, nil
	})
	if err != nil {
		t.Fatalf("the node and its claim never reached the cache: %v", err)
	}
	first := clk.Now()
	reconcileNode()
	stampedAt(first)
	clk.Step(time.Second)
	if res := reconcileNode(); res.RequeueAfter != podEventDedupe-time.Second {
		t.Fatalf("second event inside the window: requeue after %s, want %s", res.RequeueAfter, podEventDedupe-time.Second)
	}
	clk.Step(podEventDedupe - time.Second)
	reconcileNode()
	stampedAt(clk.Now())
}
