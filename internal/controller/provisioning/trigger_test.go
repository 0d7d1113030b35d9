package provisioning

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/state"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestNodePoolChangeOpensBatch: pods held back by a NodePool's limit are planned as soon as the limit is raised, not
// at the next 30-second poll (`make scale` lifts a limit of 0 over thousands of pending pods and waited up to 30 s).
func TestNodePoolChangeOpensBatch(t *testing.T) {
	f := newFixture(t, "m5.large", "m5.xlarge")
	f.nodePool("limited", func(np *apiv1.NodePool) {
		np.Spec.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0")}
	})
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.RealClock{}
	recorder := events.NewFakeRecorder(1000)
	p, err := New(clk, mgr.GetClient(), state.NewCluster(clk, mgr.GetClient()), f.cloud, recorder,
		NewBatcher(clk, 100*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Register(mgr); err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)
	f.pendingPods(1, "1", nil)
	// The pod's batch runs and stops at the limit.
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		select {
		case e := <-recorder.Events:
			return strings.Contains(e, ReasonFailedScheduling), nil
		default:
			return false, nil
		}
	})
	if err != nil {
		t.Fatalf("the pod's batch never reported it held back by the limit: %v", err)
	}
	if n := len(f.nodeClaims()); n != 0 {
		t.Fatalf("%d nodeclaims created past a cpu limit of 0", n)
	}
	np := &apiv1.NodePool{}
	np.Name = "limited"
	if err := f.kube.Patch(t.Context(), np, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"limits":null}}`))); err != nil {
		t.Fatal(err)
	}
	raised := time.Now()
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		return len(f.nodeClaims()) == 1, nil
	})
	if err != nil {
		t.Fatalf("no nodeclaim within 15 s of raising the limit (the poll is 30 s): %v", err)
	}
	t.Logf("nodeclaim created %s after the limit was raised", time.Since(raised).Round(time.Millisecond))
}
