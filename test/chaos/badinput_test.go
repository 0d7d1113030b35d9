package chaos

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// badPools are NodePools the API server must refuse, each with the words its error must contain (the field and
// what is wrong with it).
var badPools = []struct {
	name, spec, want string
}{
	{"consolidate-after-words", "disruption: {consolidateAfter: 5 minutes}", "consolidateAfter must be a duration"},
	{"unknown-policy", "disruption: {consolidationPolicy: Sometimes}", `spec.disruption.consolidationPolicy: Unsupported value: "Sometimes"`},
	{"weight-too-big", "weight: 500", "spec.weight: Invalid value: 500: spec.weight in body should be less than or equal to 100"},
	{"negative-limit", `limits: {cpu: "-5"}`, "limits must be zero or positive quantities"},
	{"reserved-label", "template: {metadata: {labels: {tailor.sh/nodepool: x}}, spec: {nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: chaos}}}", "labels must not set tailor.sh/nodepool"},
	{"budget-words", "disruption: {budgets: [{nodes: lots}]}", "nodes must be a count such as 5"},
	{"no-nodeclassref", "template: {spec: {}}", "spec.template.spec.nodeClassRef.name"},
}

// badClasses are EC2NodeClasses the API server must refuse.
var badClasses = []struct {
	name, spec, want string
}{
	{"role-and-profile", "{role: r, instanceProfile: p, subnetSelectorTerms: [{id: subnet-1}], securityGroupSelectorTerms: [{id: sg-1}], amiSelectorTerms: [{alias: al2023@latest}]}", "role and instanceProfile are mutually exclusive"},
	{"no-subnets", "{role: r, securityGroupSelectorTerms: [{id: sg-1}], amiSelectorTerms: [{alias: al2023@latest}]}", "spec.subnetSelectorTerms: Required value"},
	{"empty-subnets", "{role: r, subnetSelectorTerms: [], securityGroupSelectorTerms: [{id: sg-1}], amiSelectorTerms: [{alias: al2023@latest}]}", "spec.subnetSelectorTerms: Invalid value"},
}

// malformedMessages are queue messages that are not interruption events Tailor acts on.
var malformedMessages = []string{
	"{not json",
	`{"detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2"}`,
	`{"detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","time":"yesterday","detail":{"instance-id":"i-1"}}`,
	`{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"instance-id":"i-doesnotexist","state":"terminated"}}`,
	`{"detail-type":"Something Else","source":"aws.s3","detail":{"bucket":"b"}}`,
	strings.Repeat("\u2603", 5000),
}

// TestBadInput sends bad input while the workload keeps scaling: malformed NodePools and EC2NodeClasses (refused by
// the API server, the message naming the field), malformed SQS messages (dropped, the controller keeps running), a
// pod no instance can hold (a FailedScheduling event from Tailor, no NodeClaim) and a NodePool whose EC2NodeClass
// does not exist (NodeClassReady=False naming it) — and nothing else breaks: every other pod still gets a node.
func TestBadInput(t *testing.T) {
	h := startHarness(t, false)
	h.applyPool("Never")
	w := h.createWorkload()
	m := h.startMonitor("bad input", w.ns)
	s := step{"web": 4, "batch": 1, "apart": 2, "mem": 2}
	w.scale(s)
	w.waitSettled(m, s, 3*time.Minute)

	for _, bp := range badPools {
		spec := bp.spec
		if !strings.HasPrefix(spec, "template:") {
			spec = "template: {spec: {nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: chaos}}}\n  " + spec
		}
		manifest := fmt.Sprintf("apiVersion: tailor.sh/v1\nkind: NodePool\nmetadata: {name: bad-%s}\nspec:\n  %s\n", bp.name, spec)
		h.expectRefused(m, "NodePool "+bp.name, manifest, &apiv1.NodePool{}, bp.want)
	}
	for _, bc := range badClasses {
		manifest := fmt.Sprintf("apiVersion: tailor.sh/v1\nkind: EC2NodeClass\nmetadata: {name: bad-%s}\nspec: %s\n", bc.name, bc.spec)
		h.expectRefused(m, "EC2NodeClass "+bc.name, manifest, &apiv1.EC2NodeClass{}, bc.want)
	}

	h.sendMalformed(m)

	// A pod no instance type can hold.
	absurd := shape{name: "absurd", cpu: "1000", memory: "10Ti", min: 1, max: 1}.deployment(w.ns)
	if _, err := h.cs.AppsV1().Deployments(w.ns).Create(t.Context(), absurd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m.fault("bad input: absurd pod", 1)
	claimsBefore := h.claimNames()
	ev := h.waitTailorEvent(w.ns, "FailedScheduling on the absurd pod", func(ev corev1.Event) bool {
		return ev.Reason == "FailedScheduling" && strings.HasPrefix(ev.InvolvedObject.Name, "absurd-")
	})
	m.note("absurd pod (1000 cpu, 10Ti): %s %q", ev.Reason, ev.Message)

	// A NodePool whose EC2NodeClass does not exist.
	dangling := &apiv1.NodePool{}
	mustYAML(t, "apiVersion: tailor.sh/v1\nkind: NodePool\nmetadata: {name: dangling}\nspec:\n  template: {spec: {nodeClassRef: {group: tailor.sh, kind: EC2NodeClass, name: missing}}}\n", dangling)
	if err := h.kube.Create(t.Context(), dangling); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.kube.Delete(context.WithoutCancel(t.Context()), dangling) })
	m.fault("bad input: NodePool with a missing EC2NodeClass", 1)
	var cond *metav1.Condition
	testenv.WaitFor(t, time.Minute, "NodeClassReady=False on the dangling NodePool", func(ctx context.Context) bool {
		np := &apiv1.NodePool{}
		if err := h.kube.Get(ctx, client.ObjectKey{Name: "dangling"}, np); err != nil {
			return false
		}
		cond = np.StatusConditions().Get(apiv1.ConditionTypeNodeClassReady)
		return cond != nil && cond.Status == metav1.ConditionFalse
	})
	m.note("NodePool with a missing EC2NodeClass: NodeClassReady=False %s: %q", cond.Reason, cond.Message)
	if !strings.Contains(cond.Message, `"missing"`) {
		m.violate("bad-input", "the dangling NodePool's NodeClassReady message %q does not name the EC2NodeClass \"missing\"", cond.Message)
	}
	if strings.Contains(cond.Message, "<nil>") {
		m.violate("bad-input", "the dangling NodePool's NodeClassReady message %q says <nil> instead of saying the EC2NodeClass does not exist", cond.Message)
	}

	// Nothing else broke: the workload still scales onto new nodes, the absurd pod got no NodeClaim.
	s = step{"web": 10, "batch": 5, "apart": 4, "mem": 6}
	w.scale(s)
	w.waitSettled(m, s, 3*time.Minute)
	for _, name := range h.claimNames().Difference(claimsBefore).UnsortedList() {
		nc := &apiv1.NodeClaim{}
		if err := h.kube.Get(t.Context(), client.ObjectKey{Name: name}, nc); err != nil {
			continue
		}
		if cpu := nc.Status.Capacity[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("1000")) >= 0 {
			m.violate("bad-input", "nodeclaim %s with %s cpu was launched for the absurd pod", name, cpu.String())
		}
	}
	if err := h.stack.Controller.Exited(); err != nil {
		m.violate("bad-input", "the controller died: %v", err)
	}
	if err := h.cs.AppsV1().Deployments(w.ns).Delete(t.Context(), "absurd", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	m.settleInstances()
	h.deleteAllClaims(m, w)
}

// expectRefused creates the object of manifest and checks the API server refuses it as Invalid with want in the
// message.
func (h *harness) expectRefused(m *monitor, what, manifest string, obj client.Object, want string) {
	t := h.t
	t.Helper()
	mustYAML(t, manifest, obj)
	err := h.kube.Create(t.Context(), obj)
	m.fault("bad input: malformed "+strings.Fields(what)[0], 1)
	switch {
	case err == nil:
		_ = h.kube.Delete(context.WithoutCancel(t.Context()), obj)
		m.violate("bad-input", "%s was accepted by the API server", what)
	case !apierrors.IsInvalid(err):
		m.violate("bad-input", "%s refused with %v, want Invalid", what, err)
	case !strings.Contains(err.Error(), want):
		m.violate("bad-input", "%s refused with %q, want it to say %q", what, err.Error(), want)
	default:
		t.Logf("%s refused: %v", what, err)
	}
}

// sendMalformed puts malformed messages on the interruption queue and checks the controller drops them and stays up.
func (h *harness) sendMalformed(m *monitor) {
	t := h.t
	t.Helper()
	client := sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(h.stack.EC2Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "tailor-test", SecretAccessKey: "tailor-test"}, nil
		}),
	})
	url, err := client.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(clusterName)})
	if err != nil {
		t.Fatal(err)
	}
	// The sender stands in for EventBridge, which the controller's IAM policy ec2sim enforces is not: lift it meanwhile.
	if err := h.admin(t.Context(), http.MethodPut, "/admin/iam", ec2sim.IAMState{Enforce: false}, nil); err != nil {
		t.Fatal(err)
	}
	for _, body := range malformedMessages {
		if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.admin(t.Context(), http.MethodPut, "/admin/iam", ec2sim.IAMState{Enforce: true}, nil); err != nil {
		t.Fatal(err)
	}
	m.fault("bad input: malformed SQS message", len(malformedMessages))
	var left int
	testenv.WaitFor(t, time.Minute, "the malformed messages to leave the queue", func(ctx context.Context) bool {
		var msgs []struct {
			Body string `json:"body"`
		}
		if err := h.admin(ctx, http.MethodGet, "/admin/queues/"+clusterName, nil, &msgs); err != nil {
			return false
		}
		left = 0
		for _, msg := range msgs {
			if slices.Contains(malformedMessages, msg.Body) {
				left++
			}
		}
		return left == 0
	})
	if err := h.stack.Controller.Exited(); err != nil {
		m.violate("bad-input", "the controller died on malformed queue messages: %v", err)
	}
}

// waitTailorEvent waits for a core/v1 Event in ns reported by Tailor that matches.
func (h *harness) waitTailorEvent(ns, what string, match func(corev1.Event) bool) corev1.Event {
	t := h.t
	t.Helper()
	var found corev1.Event
	testenv.WaitFor(t, time.Minute, what, func(ctx context.Context) bool {
		list, err := h.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, ev := range list.Items {
			if ev.ReportingController == "tailor" && match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}
