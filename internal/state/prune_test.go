package state

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
)

var t0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// viewCmp compares Views field by field, unexported fields included; quantities by value.
var viewCmp = []cmp.Option{
	cmp.Exporter(func(reflect.Type) bool { return true }),
	cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }),
}

// listing is a cluster with one registered node ("node-a", 2 cpu, claim "a", initialized at t0) running a 500m pod,
// one NodeClaim in flight ("b", node name announced as "node-b"), and pending pods: "waiting" (1 cpu, nominated to a),
// "coming" (nominated to b), "orphan" (nominated to a NodeClaim that is gone), and "restarted" (its
// status.nominatedNodeName, written before a restart, is node-b).
func listing() *lists {
	claimA := apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{apiv1.NodePoolLabelKey: "default"}},
		Status:     apiv1.NodeClaimStatus{ProviderID: "aws:///us-east-1a/i-a", NodeName: "node-a"},
	}
	claimA.StatusConditions().Set(metav1.NewTime(t0), apiv1.ConditionTypeInitialized, metav1.ConditionTrue, "Initialized", "")
	claimB := apiv1.NodeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{apiv1.NodePoolLabelKey: "default"},
			Annotations: map[string]string{apiv1.NodeNameAnnotationKey: "node-b"}},
		Spec: apiv1.NodeClaimSpec{Resources: apiv1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")}}},
	}
	node := corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", Labels: map[string]string{corev1.LabelHostname: "node-a"}},
		Spec:       corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-a"},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")}},
	}
	bound := pod("bound", "500m")
	bound.Spec.NodeName = "node-a"
	unschedulable := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	l := &lists{types: map[string][]*cloudprovider.InstanceType{}, problems: map[string]error{}}
	l.claims.Items = []apiv1.NodeClaim{claimA, claimB}
	l.nodes.Items = []corev1.Node{node}
	l.pods = []*corev1.Pod{bound}
	for _, name := range []string{"waiting", "coming", "orphan", "restarted"} {
		p := pod(name, "1")
		p.Status.Conditions = unschedulable
		if name == "restarted" {
			p.Status.NominatedNodeName = "node-b"
		}
		l.pods = append(l.pods, p)
	}
	return l
}

// nominated is the provisioner's record for listing(): waiting → a (published on node-a), coming → b, orphan →
// gone, and a pod deleted since ("deleted" → a).
func nominated(t *testing.T) *Nominations {
	t.Helper()
	n := NewNominations()
	for name, claim := range map[string]string{"waiting": "a", "coming": "b", "orphan": "gone", "deleted": "a"} {
		if err := n.Nominate(pod(name, "1"), claim); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Publish(Publication{UID: "waiting", Pod: types.NamespacedName{Namespace: "default", Name: "waiting"}, Node: "node-a", NodeClaim: "a"}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBuildViewIsPure: building a View twice from one listing and one copy of the nominations gives equal Views and
// changes neither the listing, nor the copy, nor the nominations it was taken from, though the build found
// nominations to end (orphan's NodeClaim is gone), to forget (a deleted pod), to adopt (restarted) and one whose
// node it saw initialized (waiting).
func TestBuildViewIsPure(t *testing.T) {
	n := nominated(t)
	before := n.snapshot()
	l := listing()
	noms := n.snapshot()
	first := buildView(l, t0.Add(time.Second), noms, nil)
	second := buildView(l, t0.Add(time.Second), noms, nil)
	if diff := cmp.Diff(first, second, viewCmp...); diff != "" {
		t.Errorf("two builds of one listing differ (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(listing(), l, viewCmp...); diff != "" {
		t.Errorf("building changed the listing (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, noms, viewCmp...); diff != "" {
		t.Errorf("building changed the copy of the nominations (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before, n.snapshot(), viewCmp...); diff != "" {
		t.Errorf("building changed the nominations (-before +after):\n%s", diff)
	}
	if got := len(first.nominations.changes); got != 4 {
		t.Errorf("the build decided %d nomination changes, want 4 (end orphan, forget deleted, adopt restarted, see node-a initialized for waiting)", got)
	}
	if got := names(first.Pending); !reflect.DeepEqual(got, []string{"orphan"}) {
		t.Errorf("pending %v, want [orphan] (waiting holds its room on node-a, coming and restarted on b)", got)
	}
}

// TestPruneAtTimes: Prune applies what a read at the clock's time found. A nomination to a registered node is kept
// until NominationTTL after the node was initialized, then ends (its published value is stale, for ClearStale) if
// the kube-scheduler tried the pod again since the node was first seen initialized (its PodScheduled message
// changed), or once NominationPatience has passed if it did not (a backlog: it has not got to the pod yet); a
// nomination to capacity still in flight is kept however long; a pod deleted is forgotten; a published value from
// before a restart is adopted; a nomination whose NodeClaim is gone ends at once; the rounds of gone NodeClaims go.
func TestPruneAtTimes(t *testing.T) {
	tests := []struct {
		name        string
		after       time.Duration // since node-a was initialized
		retried     bool          // the kube-scheduler tried "waiting" again after the first read saw node-a initialized
		wantWaiting NominationState
		wantPending []string
		wantStale   []string
	}{
		{name: "just initialized", after: time.Second, wantWaiting: Published, wantPending: []string{"orphan"}},
		{name: "just before the TTL", after: NominationTTL, retried: true, wantWaiting: Published, wantPending: []string{"orphan"}},
		{name: "past the TTL, tried again", after: NominationTTL + time.Second, retried: true, wantWaiting: Done, wantPending: []string{"waiting", "orphan"}, wantStale: []string{"waiting"}},
		{name: "past the TTL, not tried again", after: NominationTTL + time.Second, wantWaiting: Published, wantPending: []string{"orphan"}},
		{name: "past the patience, not tried again", after: NominationPatience + time.Second, wantWaiting: Done, wantPending: []string{"waiting", "orphan"}, wantStale: []string{"waiting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0.Add(time.Second))
			c := NewCluster(clk, nil)
			c.nominations = nominated(t)
			c.nominations.rounds["gone"] = 1
			// A first read sees node-a initialized, with "waiting" as the kube-scheduler left it before.
			c.Prune(buildView(listing(), clk.Now(), c.nominations.snapshot(), nil))
			if state, _ := c.nominations.State("deleted"); state != NominationNone {
				t.Fatalf("the first read's Prune kept the deleted pod's nomination: %s", state)
			}
			if err := c.nominations.Nominate(pod("deleted", "1"), "a"); err != nil {
				t.Fatal(err)
			}
			c.nominations.rounds["gone"] = 1
			l := listing()
			if tt.retried {
				for i := range l.pods {
					if l.pods[i].Name == "waiting" {
						l.pods[i].Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
							Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules."}}
					}
				}
			}
			clk.SetTime(t0.Add(tt.after))
			v := buildView(l, clk.Now(), c.nominations.snapshot(), nil)
			if state, _ := c.nominations.State("deleted"); state != Nominated {
				t.Fatalf("the read changed a nomination before Prune: deleted is %s", state)
			}
			c.Prune(v)
			if diff := cmp.Diff(tt.wantPending, names(v.Pending)); diff != "" {
				t.Errorf("pending (-want +got):\n%s", diff)
			}
			want := map[string]NominationState{"waiting": tt.wantWaiting, "coming": Nominated, "orphan": NominationNone,
				"deleted": NominationNone, "restarted": Published}
			for name, wantState := range want {
				if got, _ := c.nominations.State(types.UID(name)); got != wantState {
					t.Errorf("%s: %s, want %s", name, got, wantState)
				}
			}
			var stale []string
			for _, s := range c.nominations.Stale() {
				stale = append(stale, s.Pod.Name)
			}
			if diff := cmp.Diff(tt.wantStale, stale); diff != "" {
				t.Errorf("stale publications (-want +got):\n%s", diff)
			}
			wantLive := 0
			for _, state := range want {
				if state.live() {
					wantLive++
				}
			}
			if c.nominations.live != wantLive {
				t.Errorf("%d live nominations counted, want %d", c.nominations.live, wantLive)
			}
			if _, ok := c.nominations.rounds["gone"]; ok {
				t.Error("the rounds of a NodeClaim that is gone were kept")
			}
		})
	}
}

// TestNominationTransitions: each transition is taken from the states that allow it and refused, with a
// TransitionError, from the others; what was written into the pod is recorded whatever the state, so it can be
// cleared (Stale).
func TestNominationTransitions(t *testing.T) {
	type step struct {
		op      string // nominate, publish, release, end, unpublished
		claim   string
		wantErr bool
	}
	tests := []struct {
		name      string
		steps     []step
		wantState NominationState
		wantClaim string
		wantStale bool
	}{
		{name: "nominate", steps: []step{{op: "nominate", claim: "a"}}, wantState: Nominated, wantClaim: "a"},
		{name: "nominate twice is refused", steps: []step{{op: "nominate", claim: "a"}, {op: "nominate", claim: "b", wantErr: true}},
			wantState: Nominated, wantClaim: "a"},
		{name: "publish", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}}, wantState: Published, wantClaim: "a"},
		{name: "publish again (another node name)", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "publish", claim: "a"}},
			wantState: Published, wantClaim: "a"},
		{name: "publish for another NodeClaim is refused and stale", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "b", wantErr: true}},
			wantState: Nominated, wantClaim: "a", wantStale: true},
		{name: "publish without a nomination is refused and stale", steps: []step{{op: "publish", claim: "a", wantErr: true}},
			wantState: Done, wantStale: true},
		{name: "release", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "release"}},
			wantState: Released, wantClaim: "a"},
		{name: "release unpublished is refused", steps: []step{{op: "nominate", claim: "a"}, {op: "release", wantErr: true}},
			wantState: Nominated, wantClaim: "a"},
		{name: "release twice is refused", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "release"}, {op: "release", wantErr: true}},
			wantState: Released, wantClaim: "a"},
		{name: "released is not published again", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "release"}, {op: "publish", claim: "a", wantErr: true}},
			wantState: Released, wantClaim: "a"},
		{name: "released is not nominated again", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "release"}, {op: "nominate", claim: "b", wantErr: true}},
			wantState: Released, wantClaim: "a"},
		{name: "release without a nomination is refused", steps: []step{{op: "release", wantErr: true}}, wantState: NominationNone},
		{name: "end unpublished leaves nothing", steps: []step{{op: "nominate", claim: "a"}, {op: "end", claim: "a"}}, wantState: NominationNone},
		{name: "end published is done and stale", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "end", claim: "a"}},
			wantState: Done, wantStale: true},
		{name: "end of another NodeClaim's nomination is ignored", steps: []step{{op: "nominate", claim: "a"}, {op: "end", claim: "b"}},
			wantState: Nominated, wantClaim: "a"},
		{name: "done and cleared leaves nothing", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "end", claim: "a"}, {op: "unpublished"}},
			wantState: NominationNone},
		{name: "done is nominated again, the old value still stale", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "end", claim: "a"}, {op: "nominate", claim: "b"}},
			wantState: Nominated, wantClaim: "b", wantStale: true},
		{name: "a release that ends a done nomination's value is refused and clears it", steps: []step{{op: "nominate", claim: "a"}, {op: "publish", claim: "a"}, {op: "end", claim: "a"}, {op: "release", wantErr: true}},
			wantState: NominationNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNominations()
			p := pod("p", "1")
			for i, s := range tt.steps {
				var err error
				switch s.op {
				case "nominate":
					err = n.Nominate(p, s.claim)
				case "publish":
					err = n.Publish(Publication{UID: p.UID, Pod: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, Node: "node-" + s.claim + "-" + string(rune('0'+i)), NodeClaim: s.claim})
				case "release":
					err = n.Release(p.UID)
				case "end":
					n.end(p.UID, s.claim)
				case "unpublished":
					n.Unpublished(p.UID)
				}
				if (err != nil) != s.wantErr || (err != nil && !IsTransitionError(err)) {
					t.Fatalf("step %d (%s %s): error %v, want error: %v (a TransitionError)", i, s.op, s.claim, err, s.wantErr)
				}
			}
			state, claim := n.State(p.UID)
			if state != tt.wantState || claim != tt.wantClaim {
				t.Errorf("state %s on %q, want %s on %q", state, claim, tt.wantState, tt.wantClaim)
			}
			if stale := len(n.Stale()) == 1; stale != tt.wantStale {
				t.Errorf("stale %v, want %v", stale, tt.wantStale)
			}
			wantLive := tt.wantState == Nominated || tt.wantState == Published || tt.wantState == Released
			if _, live := n.Nomination(p); live != wantLive {
				t.Errorf("Nomination live %v in state %s", live, tt.wantState)
			}
			if n.Any() != wantLive {
				t.Errorf("Any() = %v in state %s", n.Any(), tt.wantState)
			}
		})
	}
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// TestWaitingPodsHoldRoomBeforeRegistrationIsRecorded: a node registers (a Node with the NodeClaim's provider ID)
// before the nodeclaim controller records it on the NodeClaim (status.nodeName); at scale that lags by minutes. The
// pods nominated to the NodeClaim hold their room on that node all the same: the node is in the snapshot, and a
// consolidation that saw it empty would move other nodes' pods onto room already promised (make scale deleted 100
// full nodes that way in the middle of a scale-up).
func TestWaitingPodsHoldRoomBeforeRegistrationIsRecorded(t *testing.T) {
	l := listing()
	l.claims.Items[0].Status.NodeName = ""
	l.claims.Items[0].Status.Conditions = nil // not initialized either
	v := buildView(l, t0.Add(time.Second), nominated(t).snapshot(), nil)
	var nodeA []string
	for _, n := range v.Snapshot.Nodes {
		if n.Name == "node-a" {
			for _, p := range n.Pods {
				nodeA = append(nodeA, p.Name)
			}
		}
	}
	if diff := cmp.Diff([]string{"bound", "waiting"}, nodeA); diff != "" {
		t.Errorf("pods counted on node-a (-want +got):\n%s", diff)
	}
	if got := names(v.Pending); !reflect.DeepEqual(got, []string{"orphan"}) {
		t.Errorf("pending %v, want [orphan]", got)
	}
}
