package operator

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestClusterUID(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	withNamespace := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-system", UID: "6c1d1c5e-1111-4d7a-9a3b-0c6f2e8d4b21"},
	}).Build()
	empty := fake.NewClientBuilder().WithScheme(scheme).Build()

	if got, err := ClusterUID(t.Context(), withNamespace, ""); err != nil || got != "6c1d1c5e-1111-4d7a-9a3b-0c6f2e8d4b21" {
		t.Errorf("ClusterUID = %q, %v; want the kube-system namespace's UID", got, err)
	}
	if got, err := ClusterUID(t.Context(), withNamespace, "restored-uid"); err != nil || got != "restored-uid" {
		t.Errorf("ClusterUID with --cluster-uid = %q, %v; want the flag's value", got, err)
	}
	if _, err := ClusterUID(t.Context(), empty, ""); err == nil || !strings.Contains(err.Error(), "--cluster-uid") {
		t.Errorf("ClusterUID without kube-system = %v, want an error naming --cluster-uid", err)
	}
}
