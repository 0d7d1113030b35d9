package testenv

import (
	"context"
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Writes records the patches and updates (status and other subresources included) made through the clients Record
// wraps, each as "VERB[/subresource] Kind/name": tests that a controller writes nothing it need not.
type Writes struct {
	mu    sync.Mutex
	calls []string
}

// Record wraps c so that its patches and updates are recorded in w before they are sent.
func (w *Writes) Record(c client.Client) client.Client {
	return Intercept(c, interceptor.Funcs{
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			w.add(cl, "PATCH", obj)
			return cl.Patch(ctx, obj, patch, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			w.add(cl, "UPDATE", obj)
			return cl.Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			w.add(cl, "PATCH/"+sub, obj)
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, cl client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			w.add(cl, "UPDATE/"+sub, obj)
			return cl.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
}

// Intercept wraps c with controller-runtime's interceptor, which calls funcs instead of c's methods where they are
// set; c may be a cache-reading client without Watch.
func Intercept(c client.Client, funcs interceptor.Funcs) client.Client {
	wc, ok := c.(client.WithWatch)
	if !ok {
		wc = noWatch{c} // a cache-reading client: the interceptor wants a watch it never uses here
	}
	return interceptor.NewClient(wc, funcs)
}

// noWatch is a client without Watch, for interceptor.NewClient.
type noWatch struct{ client.Client }

func (noWatch) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, errors.New("testenv: this client cannot watch")
}

func (w *Writes) add(cl client.Client, verb string, obj client.Object) {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if gvk, err := apiutil.GVKForObject(obj, cl.Scheme()); err == nil {
		kind = gvk.Kind
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, verb+" "+kind+"/"+obj.GetName())
}

// Take returns the writes recorded since the last call.
func (w *Writes) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.calls
	w.calls = nil
	return out
}
