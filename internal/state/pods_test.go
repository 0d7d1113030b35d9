package state_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestPodsFromInformers: with the manager's cache as its informers, Cluster.Pods hands out the informer store's own
// pods (the same pointers read after read: no slice of pod values is filled per read), and the same pods a List
// through the client gives.
func TestPodsFromInformers(t *testing.T) {
	env := testenv.StartAPIServer(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	ns := testenv.Namespace(t, env.DirectClient(t), "pods")
	for _, name := range []string{"a", "b", "c"} {
		if _, err := cs.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mgr, err := operator.NewManager(env.Config, &operator.Options{MetricsBindAddress: "0", HealthProbeBindAddress: "0"}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)

	viaClient := state.NewCluster(clock.RealClock{}, mgr.GetClient())
	viaInformers := state.NewCluster(clock.RealClock{}, mgr.GetClient())
	viaInformers.ReadFromInformers(mgr.GetCache())
	names := func(c *state.Cluster) []string {
		pods, err := c.Pods(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pods {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(names(viaInformers)) == 3 && len(names(viaClient)) == 3, nil
	})
	if err != nil {
		t.Fatalf("the pods never reached the cache: informers %v, client %v", names(viaInformers), names(viaClient))
	}
	if got, want := names(viaInformers), names(viaClient); !slices.Equal(got, want) {
		t.Errorf("from the informers %v, through the client %v", got, want)
	}
	first, err := viaInformers.Pods(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	second, err := viaInformers.Pods(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range first {
		byName[p.Name] = p
	}
	for _, p := range second {
		if byName[p.Name] != p {
			t.Errorf("pod %s is another object on the second read: the pods were copied, not taken from the store", p.Name)
		}
	}
}
