package nodeclaim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
)

// TestLaunchTimeout: a claim the cloud keeps refusing for reasons other than capacity (its node class not ready, a
// launch error) is deleted once LaunchTTL has passed since it was created, so its pods are planned again.
func TestLaunchTimeout(t *testing.T) {
	for _, tt := range []struct {
		name   string
		setup  func(*fake.CloudProvider)
		reason string
	}{
		{name: "nodeclass-not-ready", setup: func(c *fake.CloudProvider) { c.SetNodeClassReady(false) }, reason: ReasonNodeClassNotReady},
		{name: "launch-failed", setup: func(c *fake.CloudProvider) {
			for range 1000 {
				c.QueueError(fake.MethodCreate, errors.New("UnauthorizedOperation: not allowed to run instances"))
			}
		}, reason: ReasonLaunchFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := &fakeEvents{}
			f.c.recorder = rec
			tt.setup(f.cloud)
			f.claim("stuck-"+tt.name, nil)
			f.reconcileUntil("stuck-"+tt.name, "refused", func(nc *apiv1.NodeClaim) bool {
				c := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
				return c != nil && c.Reason == tt.reason
			})
			f.clk.Step(LaunchTTL - 30*time.Second)
			got := f.reconcileUntil("stuck-"+tt.name, "still there before the launch TTL", func(nc *apiv1.NodeClaim) bool { return true })
			if got == nil {
				t.Fatalf("deleted before the launch TTL")
			}
			f.clk.Step(time.Minute)
			f.reconcileUntil("stuck-"+tt.name, "deleted after the launch TTL", func(nc *apiv1.NodeClaim) bool { return nc == nil })
			if !rec.has(corev1.EventTypeWarning, ReasonLaunchTimeout) {
				t.Errorf("no %s warning event; events: %v", ReasonLaunchTimeout, rec.all())
			}
		})
	}
}

// TestLaunchTimeoutKeepsInvalidClaim: a claim refused by its runtime checks is not the cloud's failure — it is kept
// (Launched=False, Invalid) past the launch TTL for its owner to fix or delete, not silently deleted.
func TestLaunchTimeoutKeepsInvalidClaim(t *testing.T) {
	f := newFixture(t)
	f.claim("badtaint-ttl", func(nc *apiv1.NodeClaim) {
		nc.Spec.Taints = []corev1.Taint{{Key: "team", Value: "a b", Effect: corev1.TaintEffectNoSchedule}}
	})
	f.reconcileUntil("badtaint-ttl", "refused", func(nc *apiv1.NodeClaim) bool {
		c := nc.StatusConditions().Get(apiv1.ConditionTypeLaunched)
		return c != nil && c.Status == metav1.ConditionFalse
	})
	f.clk.Step(2 * LaunchTTL)
	for range 3 {
		got := f.reconcileUntil("badtaint-ttl", "reconciled", func(*apiv1.NodeClaim) bool { return true })
		if got == nil || !got.DeletionTimestamp.IsZero() {
			t.Fatalf("an invalid claim was deleted by the launch timeout")
		}
	}
}

// fakeEvents records "type reason" of every event.
type fakeEvents struct {
	mu     sync.Mutex
	events []string
}

func (r *fakeEvents) Eventf(_, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, eventtype+" "+reason+": "+fmt.Sprintf(note, args...))
}

func (r *fakeEvents) has(eventtype, reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.events, func(e string) bool { return strings.HasPrefix(e, eventtype+" "+reason+":") })
}

func (r *fakeEvents) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}
