package termination

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider/fake"
)

// TestDrainWaitsForDoNotDisrupt: the drain evicts ordinary pods at once but leaves a pod annotated
// tailor.sh/do-not-disrupt: "true" until the NodeClaim's terminationGracePeriod is over, and one annotated with a
// duration until that duration (from the pod's start) has passed.
func TestDrainWaitsForDoNotDisrupt(t *testing.T) {
	for _, tt := range []struct {
		name  string
		value string
		step  time.Duration // when the pod may go
	}{
		{name: "true waits for the grace period", value: "true", step: 10*time.Minute + time.Minute},
		{name: "a duration waits for the duration", value: "3m", step: 4 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			grace := 10 * time.Minute
			node, _ := f.node("dnd-"+tt.value, &grace)
			app := f.pod("app", node.Name, nil, nil)
			guarded := f.pod("guarded", node.Name, nil, func(p *corev1.Pod) {
				p.Annotations = map[string]string{apiv1.DoNotDisruptAnnotationKey: tt.value}
			})
			f.deleteNode(node)
			waitFor(t, "the ordinary pod evicted", func(context.Context) bool {
				f.reconcile(node.Name)
				return f.gone(app)
			})
			for range 3 {
				if res := f.reconcile(node.Name); res.RequeueAfter == 0 {
					t.Fatalf("drain finished (requeue %v) with a do-not-disrupt pod on the node", res)
				}
			}
			if f.gone(guarded) {
				t.Fatal("the do-not-disrupt pod was evicted at once")
			}
			if f.cloud.Calls(fake.MethodDelete) != 0 || f.gone(node) {
				t.Fatal("instance terminated while a do-not-disrupt pod was still there")
			}
			f.clk.Step(tt.step)
			waitFor(t, "node released once the pod may go", func(context.Context) bool {
				f.reconcile(node.Name)
				return f.gone(node)
			})
			if !f.gone(guarded) {
				t.Error("the do-not-disrupt pod is still there")
			}
		})
	}
}

// TestRepairedNodeDrainsAtOnce: a node being repaired (its NodeClaim Disrupting for reason Unhealthy) whose kubelet
// stopped (Ready Unknown) has its pods deleted at once, do-not-disrupt or not and with no terminationGracePeriod: no
// kubelet would run their graceful termination.
func TestRepairedNodeDrainsAtOnce(t *testing.T) {
	f := newFixture(t)
	node, nc := f.node("repaired", nil)
	guarded := f.pod("guarded", node.Name, nil, func(p *corev1.Pod) {
		p.Annotations = map[string]string{apiv1.DoNotDisruptAnnotationKey: "true"}
	})
	// Stop the node's kubelet as ec2sim's stop-kubelet fault does: KWOK leaves a node so annotated alone.
	if err := f.direct.Get(t.Context(), client.ObjectKeyFromObject(node), node); err != nil {
		t.Fatal(err)
	}
	node.Annotations["ec2sim.tailor.sh/kubelet-stopped"] = "true"
	if err := f.direct.Update(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", LastTransitionTime: now, LastHeartbeatTime: now}}
	if err := f.direct.Status().Update(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	nc.StatusConditions().Set(now, apiv1.ConditionTypeDisrupting, metav1.ConditionTrue, unhealthyReason, "repairing")
	if err := f.direct.Status().Update(t.Context(), nc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller's cache to see the Disrupting condition", func(ctx context.Context) bool {
		got := &apiv1.NodeClaim{}
		return f.cached.Get(ctx, client.ObjectKeyFromObject(nc), got) == nil && got.StatusConditions().IsTrue(apiv1.ConditionTypeDisrupting)
	})
	f.deleteNode(node)
	waitFor(t, "node released", func(context.Context) bool {
		f.reconcile(node.Name)
		return f.gone(node)
	})
	if !f.gone(guarded) {
		t.Error("the do-not-disrupt pod of a repaired node is still there")
	}
	if f.cloud.Calls(fake.MethodDelete) != 1 {
		t.Errorf("cloud Delete called %d times, want 1", f.cloud.Calls(fake.MethodDelete))
	}
}
