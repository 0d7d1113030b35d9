package testenv

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/state"
)

// Indexer registers field indexes on an informer cache, as the controllers' IndexFields functions do.
type Indexer func(context.Context, client.FieldIndexer) error

// NodeClaimProviderIDIndex registers the provider ID indexes the controllers use (state.IndexProviderIDs), for tests
// of controllers that look claims up by it without importing the controller that registers it.
var NodeClaimProviderIDIndex Indexer = state.IndexProviderIDs

// Clients returns two clients of the environment with Tailor's scheme: one reading through an informer cache with
// the given indexes (as controllers do; started now, stopped with the test) and one reading the API server directly.
func (e *Environment) Clients(t testing.TB, indexes ...Indexer) (cached, direct client.Client) {
	t.Helper()
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := cluster.New(e.Config, func(o *cluster.Options) { o.Scheme = scheme })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	for _, index := range indexes {
		if err := index(ctx, cl.GetFieldIndexer()); err != nil {
			t.Fatal(err)
		}
	}
	go func() { _ = cl.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !cl.GetCache().WaitForCacheSync(syncCtx) {
		t.Fatal("the informer cache did not sync within a minute")
	}
	return cl.GetClient(), e.DirectClient(t)
}

// DirectClient is a client of the environment with Tailor's scheme that reads the API server directly.
func (e *Environment) DirectClient(t testing.TB) client.Client {
	t.Helper()
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(e.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Namespace creates a namespace named prefix-<random> with its default ServiceAccount made by hand (with
// APIServerOnly no controller-manager makes it, and the ServiceAccount admission plugin refuses pods without it), and
// returns its name.
func Namespace(t testing.TB, kube client.Client, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := kube.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
	if err := kube.Create(t.Context(), sa); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	return ns.Name
}
