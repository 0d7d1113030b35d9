package termination

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestPodUnderTwoPDBs: the Eviction API refuses a pod that two PodDisruptionBudgets select (500, "more than one
// PodDisruptionBudget"). The drain must say so with an EvictionBlocked event naming the fix and wait as for any
// refused eviction, instead of failing the reconcile and retrying for ever in silence.
func TestPodUnderTwoPDBs(t *testing.T) {
	f := newFixture(t)
	recorder := events.NewFakeRecorder(100)
	c, err := New(f.clk, f.cached, f.cloud, recorder)
	if err != nil {
		t.Fatal(err)
	}
	node, _ := f.node("drain-twopdb", nil)
	labels := map[string]string{"app": "doubly"}
	p := f.pod("doubly-1", node.Name, labels, nil)
	for _, name := range []string{"first", "second"} {
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
			Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels}},
		}
		if err := f.direct.Create(t.Context(), pdb); err != nil {
			t.Fatal(err)
		}
	}
	f.deleteNode(node)
	var res ctrl.Result
	waitFor(t, "the node's deletion in the cache", func(ctx context.Context) bool {
		n := &corev1.Node{}
		return f.cached.Get(ctx, client.ObjectKeyFromObject(node), n) == nil && !n.DeletionTimestamp.IsZero()
	})
	// Three reconciles that get as far as the drain; a conflict on the cordon (KWOK and the node lifecycle
	// controller write the node too) is retried, as the controller's queue would.
	for done, tries := 0, 0; done < 3; tries++ {
		if tries == 50 {
			t.Fatalf("50 reconciles, %d past the cordon: %v", done, err)
		}
		res, err = c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: node.Name}})
		switch {
		case apierrors.IsConflict(err):
			continue
		case err != nil:
			t.Fatalf("reconcile failed instead of waiting: %v", err)
		}
		done++
	}
	if res.RequeueAfter != pdbBlockedPoll {
		t.Errorf("requeue after %s, want the PDB backoff %s", res.RequeueAfter, pdbBlockedPoll)
	}
	if f.gone(p) {
		t.Fatal("the pod was removed")
	}
	var blocked string
	for len(recorder.Events) > 0 {
		if e := <-recorder.Events; strings.Contains(e, ReasonEvictionBlocked) {
			blocked = e
		}
	}
	if !strings.Contains(blocked, "more than one PodDisruptionBudget") || !strings.Contains(blocked, "first") || !strings.Contains(blocked, "second") {
		t.Errorf("EvictionBlocked event %q does not say the pod has several PodDisruptionBudgets and name them", blocked)
	}
}
