package state

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/operator"
)

// TestMarkReplacing: while a disruption command waits for its replacement, Read shows the candidate unschedulable
// and the replacement (launching, registered, or registered before the nodeclaim controller recorded it) holding the
// candidate's pods; after Unmark, neither (narrow unit test on the fake client: only Read's bookkeeping is under
// test).
func TestMarkReplacing(t *testing.T) {
	type snap struct {
		OldUnschedulable bool
		ReplacementPods  []string
	}
	for _, tc := range []struct {
		name               string
		registered, record bool
	}{
		{name: "replacement launching"},
		{name: "replacement registered, not yet recorded", registered: true},
		{name: "replacement registered", registered: true, record: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme, err := operator.NewScheme()
			if err != nil {
				t.Fatal(err)
			}
			alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")}
			old := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-old"},
				Status: corev1.NodeStatus{Allocatable: alloc}}
			app := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "old",
				Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}}}
			replacement := &apiv1.NodeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: "default-new", Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
				Spec:       apiv1.NodeClaimSpec{Resources: apiv1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
			}
			objs := []client.Object{old, app, replacement}
			replacementNode := replacement.Name // the snapshot names a launching NodeClaim by its own name
			if tc.registered {
				replacement.Status = apiv1.NodeClaimStatus{ProviderID: "aws:///us-east-1a/i-new"}
				if tc.record {
					replacement.Status.NodeName = "new"
				}
				objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}, Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-new"},
					Status: corev1.NodeStatus{Allocatable: alloc}})
				replacementNode = "new"
			}
			kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
			c := NewCluster(clocktesting.NewFakeClock(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)), kube)
			read := func() snap {
				t.Helper()
				v, err := c.Read(t.Context(), func(context.Context, *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) { return nil, nil })
				if err != nil {
					t.Fatal(err)
				}
				var got snap
				for _, n := range v.Snapshot.Nodes {
					switch n.Name {
					case "old":
						got.OldUnschedulable = n.Unschedulable
					case replacementNode:
						for _, p := range n.Pods {
							got.ReplacementPods = append(got.ReplacementPods, p.Name)
						}
					}
				}
				return got
			}
			c.MarkReplacing("cmd", Replacement{Candidates: []string{"old"}, Pods: map[string][]*corev1.Pod{replacement.Name: {app}}})
			if diff := cmp.Diff(snap{OldUnschedulable: true, ReplacementPods: []string{"app"}}, read()); diff != "" {
				t.Errorf("while marked (-want +got):\n%s", diff)
			}
			if app.Spec.NodeName != "old" {
				t.Errorf("marking changed the caller's pod: nodeName %q", app.Spec.NodeName)
			}
			c.Unmark("cmd")
			if diff := cmp.Diff(snap{}, read()); diff != "" {
				t.Errorf("after Unmark (-want +got):\n%s", diff)
			}
		})
	}
}
