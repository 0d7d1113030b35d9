package disruption

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestNodeAwaitingNominatedPodsIsNotEmpty: a node launched for pending pods has none bound until the kube-scheduler
// gets to them, which at scale takes longer than consolidateAfter (measured by `make scale`: 2,000 pods, a
// scheduler binding 50 a second, seven fresh nodes deleted as empty and launched again). While a pod nominated to
// its NodeClaim is still unbound the node is neither empty nor disruptable; once the pod is gone it is.
func TestNodeAwaitingNominatedPodsIsNotEmpty(t *testing.T) {
	f := newFixture(t)
	np := f.pool(nil)
	f.claim("fresh", np, nil)
	waiting := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "waiting-", Namespace: f.ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "pause",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
	}
	if err := f.kube.Create(t.Context(), waiting); err != nil {
		t.Fatal(err)
	}
	if err := f.c.cluster.Nominations().Nominate(waiting, "fresh"); err != nil {
		t.Fatal(err)
	}

	f.clk.Step(10 * time.Second)
	f.disrupt()
	f.clk.Step(time.Minute)
	if got := f.disrupt(); len(got) != 0 {
		t.Fatalf("disrupted %v while a pod nominated to it was not bound yet", got)
	}
	if f.exists("fresh") == nil {
		t.Fatal("nodeclaim fresh deleted while a pod nominated to it was not bound yet")
	}

	if err := f.kube.Delete(t.Context(), waiting, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	// Initialized more than consolidateAfter ago and now empty: the next pass removes it.
	if got := f.disrupt(); len(got) != 1 || got[0] != "fresh" {
		t.Fatalf("disrupted %v once the nominated pod was gone, want [fresh]", got)
	}
}
