package nodepool

import (
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	dto "github.com/prometheus/client_model/go"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestClusterPriceSumsLaunchedClaims checks tailor_cluster_price_per_hour: the prices recorded on launched claims,
// summed over every NodePool; claims without a price (not launched yet) add nothing; a deleted pool drops out.
func TestClusterPriceSumsLaunchedClaims(t *testing.T) {
	kube := env.DirectClient(t)
	ref := apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "priced"}
	claims := map[string][]string{ // pool → price annotations of its claims ("" = not launched yet)
		"price-a": {"0.1234", "0.0500", ""},
		"price-b": {"1.0000"},
	}
	for pool, prices := range claims {
		np := &apiv1.NodePool{
			ObjectMeta: metav1.ObjectMeta{Name: pool},
			Spec:       apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{NodeClassRef: ref}}},
		}
		if err := kube.Create(t.Context(), np); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kube.Delete(t.Context(), np) })
		for _, price := range prices {
			nc := &apiv1.NodeClaim{
				ObjectMeta: metav1.ObjectMeta{GenerateName: pool + "-", Labels: map[string]string{apiv1.NodePoolLabelKey: pool}},
				Spec:       apiv1.NodeClaimSpec{NodeClassRef: ref, Resources: apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
			}
			if price != "" {
				nc.Annotations = map[string]string{apiv1.PricePerHourAnnotationKey: price}
			}
			if err := kube.Create(t.Context(), nc); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = kube.Delete(t.Context(), nc) })
		}
	}
	c, err := New(clocktesting.NewFakeClock(time.Now()), kube)
	if err != nil {
		t.Fatal(err)
	}
	reconcile := func(pool string) {
		t.Helper()
		if _, err := c.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: pool}}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want float64) {
		t.Helper()
		m := &dto.Metric{}
		if err := clusterPriceGauge.Write(m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetGauge().GetValue(); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: tailor_cluster_price_per_hour = %v, want %v", what, got, want)
		}
	}

	reconcile("price-a")
	check("after price-a", 0.1734)
	reconcile("price-b")
	check("after both pools", 1.1734)
	reconcile("price-b") // a second reconcile of the same pool must not count it twice
	check("after reconciling price-b again", 1.1734)

	if err := kube.Delete(t.Context(), &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "price-b"}}); err != nil {
		t.Fatal(err)
	}
	reconcile("price-b")
	check("after price-b was deleted", 0.1734)
}
