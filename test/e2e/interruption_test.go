package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestSpotInterruption is the reference NodePool with inflate at 4, then an ec2sim spot interruption of the node's
// instance (two minutes' notice, as AWS gives): the controller reads the warning from the SQS queue, disrupts the
// NodeClaim, the node is cordoned and drained and the pods are Running on a new node before the old instance is
// terminated — by Tailor, well before EC2 would have taken it.
func TestSpotInterruption(t *testing.T) {
	const cluster = "demo-cluster" // the reference EC2NodeClass selects subnets and groups tagged with it
	kube := env.DirectClient(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	// ec2sim names its queue after the cluster.
	stack := startStack(t, testenv.StackOptions{ClusterName: cluster, ControllerArgs: []string{"--interruption-queue=" + cluster}})
	applyExample(t, kube, "reference.yaml")
	t.Cleanup(func() { waitNoNodeClaims(t, kube) })

	ns := createNamespace(t, cs, "interruption")
	if _, err := cs.AppsV1().Deployments(ns).Create(t.Context(), testenv.Inflate(ns, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	scaleInflate(t, cs, ns, 4)
	var oldNode string
	waitForPods(t, cs, ns, "4 inflate pods Running on one node", func(pods []corev1.Pod) bool {
		if len(pods) != 4 {
			return false
		}
		oldNode = pods[0].Spec.NodeName
		return all(pods, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == oldNode && oldNode != ""
		})
	})
	claims := &apiv1.NodeClaimList{}
	if err := kube.List(t.Context(), claims); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 1 {
		t.Fatalf("%d nodeclaims, want 1", len(claims.Items))
	}
	old := claims.Items[0]
	instance := old.Status.ProviderID[strings.LastIndex(old.Status.ProviderID, "/")+1:]

	interrupted := time.Now()
	simAdmin(t, stack, http.MethodPost, "/admin/instances/"+instance+"/interrupt", `{}`, nil)

	// Watch the pods and the old instance together, noting when each condition first held.
	var podsMoved, instanceGone time.Duration
	var newNode string
	var lastPods []corev1.Pod
	var last ec2sim.AdminInstance
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 150*time.Second, true, func(ctx context.Context) (bool, error) {
		simAdmin(t, stack, http.MethodGet, "/admin/instances/"+instance, "", &last)
		if instanceGone == 0 && last.State != "running" {
			instanceGone = time.Since(interrupted)
		}
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		lastPods = list.Items
		if podsMoved == 0 && runningElsewhere(ctx, cs, lastPods, old.Status.ProviderID, 4) {
			podsMoved, newNode = time.Since(interrupted), lastPods[0].Spec.NodeName
		}
		return podsMoved != 0 && instanceGone != 0, nil
	})
	if err != nil {
		t.Fatalf("after the interruption: pods moved after %s, old instance %s (%s) after %s: %v; pods: %s",
			podsMoved, last.State, last.StateReason, instanceGone, err, describePods(lastPods))
	}
	t.Logf("spot warning → 4 pods Running on %s after %s; old instance %s left running after %s (%s)",
		newNode, podsMoved.Round(time.Millisecond), instance, instanceGone.Round(time.Millisecond), last.StateReason)
	if podsMoved > instanceGone {
		t.Errorf("the pods were Running elsewhere %s after the warning, but the old instance was already %s after %s",
			podsMoved.Round(time.Millisecond), last.State, instanceGone.Round(time.Millisecond))
	}
	if strings.Contains(last.StateReason, "Spot") || instanceGone >= 2*time.Minute {
		t.Errorf("old instance ended by EC2's reclaim (%s after %s), want Tailor to have drained and terminated it first", last.StateReason, instanceGone)
	}

	// The story is told: Interrupted events on the NodeClaim and on the Node, and the controller's log line.
	reasons := map[string]bool{}
	evs, err := cs.EventsV1().Events(metav1.NamespaceAll).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if ev.Reason == "Interrupted" && strings.Contains(ev.Note, instance) {
			reasons[eventSubject(ev)] = true
		}
	}
	for _, want := range []string{"NodeClaim/" + old.Name, "Node/" + oldNode} {
		if !reasons[want] {
			t.Errorf("no Interrupted event naming %s on %s; found on %v", instance, want, reasons)
		}
	}
	log, err := os.ReadFile(stack.Controller.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "disrupting interrupted nodeclaim") {
		t.Error(`controller log lacks "disrupting interrupted nodeclaim"`)
	}
	t.Logf("controller timeline:\n%s", timeline(string(log), interrupted))
}

// timeline is the controller's story from the warning on: time since the warning, message and the object concerned.
func timeline(log string, since time.Time) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		var entry struct {
			Time      time.Time         `json:"time"`
			Level     string            `json:"level"`
			Message   string            `json:"message"`
			NodeClaim map[string]string `json:"nodeclaim"`
			Node      map[string]string `json:"node"`
			Pod       map[string]string `json:"pod"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Level == "debug" || entry.Time.Before(since) {
			continue
		}
		out = append(out, fmt.Sprintf("  %+8dms %s nodeclaim=%s node=%s pod=%s", entry.Time.Sub(since).Milliseconds(),
			entry.Message, entry.NodeClaim["name"], entry.Node["name"], entry.Pod["name"]))
	}
	return strings.Join(out, "\n")
}

// runningElsewhere tells whether want pods that are not terminating are Running on nodes of instances other than
// the one with providerID. Nodes are told apart by provider ID, not name: ec2sim hands a freed private IP, and so the
// node name, to the next instance.
func runningElsewhere(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod, providerID string, want int) bool {
	var live []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp.IsZero() {
			live = append(live, p)
		}
	}
	return len(live) == want && all(live, func(p corev1.Pod) bool {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			return false
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
		return err == nil && node.Spec.ProviderID != providerID
	})
}

func eventSubject(ev eventsv1.Event) string {
	return ev.Regarding.Kind + "/" + ev.Regarding.Name
}

// simAdmin calls ec2sim's admin API and decodes the answer into out (when not nil).
func simAdmin(t *testing.T, stack *testenv.Stack, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, stack.EC2Endpoint+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("ec2sim admin %s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		var msg json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&msg)
		t.Fatalf("ec2sim admin %s %s: status %d: %s", method, path, resp.StatusCode, msg)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("ec2sim admin %s %s: %v", method, path, fmt.Errorf("decoding: %w", err))
		}
	}
}
