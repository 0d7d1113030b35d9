package operator_test

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/flowcontrol"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestPacedRecorderWritesEvents: the recorder's events reach the API server as client-go's recorder shapes them
// (what they regard, reason, note, type, action, the reporting controller), a cluster-scoped object's in the default
// namespace, and two events about one object at the same instant are both kept.
func TestPacedRecorderWritesEvents(t *testing.T) {
	env := testenv.StartAPIServer(t)
	scheme, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	sink, err := operator.NewEventSink(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	r := operator.NewPacedRecorder(sink, scheme, "tailor", flowcontrol.NewFakeAlwaysRateLimiter(), 10)
	at := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	r.Dedupe(clocktesting.NewFakeClock(at), time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-0", Namespace: metav1.NamespaceDefault, UID: "pod-uid"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "node-uid"}}
	r.Eventf(pod, node, corev1.EventTypeNormal, "Nominated", "Provisioning", "pod should schedule on %s", "node-a")
	r.Eventf(node, nil, corev1.EventTypeNormal, "Cordoned", "Cordon", "tainted")
	r.Eventf(node, nil, corev1.EventTypeWarning, "FailedDraining", "Drain", "1 pod left")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("paced recorder: %v", err)
		}
	}()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	var events []corev1.Event
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		events = list.Items
		return len(events) >= 3, nil
	})
	if err != nil {
		t.Fatalf("waiting for 3 events: %v (have %d)", err, len(events))
	}
	type seen struct{ kind, name, reason, note, typ, action, controller, related string }
	var got []seen
	for _, e := range events {
		if !e.EventTime.Time.Equal(at) {
			t.Errorf("event %s at %v, want the recorder's clock %v", e.Name, e.EventTime.Time, at)
		}
		got = append(got, seen{e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message, e.Type, e.Action, e.ReportingController, ptrName(e.Related)})
	}
	want := []seen{
		{"Pod", "app-0", "Nominated", "pod should schedule on node-a", corev1.EventTypeNormal, "Provisioning", "tailor", "node-a"},
		{"Node", "node-a", "Cordoned", "tainted", corev1.EventTypeNormal, "Cordon", "tailor", ""},
		{"Node", "node-a", "FailedDraining", "1 pod left", corev1.EventTypeWarning, "Drain", "tailor", ""},
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no event %+v among %+v", w, got)
		}
	}
}

func ptrName(ref *corev1.ObjectReference) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}
