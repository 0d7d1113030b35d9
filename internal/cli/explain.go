package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/scheduling"
	"github.com/tailor-sh/tailor/internal/state"
)

// OutputText is explain's default output: aligned text for people.
const OutputText = "text"

// ExplainTarget says what `tailor explain` looks at.
type ExplainTarget string

// Explain targets.
const (
	// ExplainPod explains one pod (Name in Namespace).
	ExplainPod ExplainTarget = "pod"
	// ExplainPending explains every pod that is not bound to a node (in Namespace, or everywhere with AllNamespaces).
	ExplainPending ExplainTarget = "pending"
	// ExplainNodeClaim explains one NodeClaim (Name).
	ExplainNodeClaim ExplainTarget = "nodeclaim"
)

// ExplainOptions are the inputs of `tailor explain`.
type ExplainOptions struct {
	Target ExplainTarget
	// Name of the pod or NodeClaim.
	Name string
	// Namespace of the pod, or of the pending pods; ignored with AllNamespaces and for NodeClaims.
	Namespace     string
	AllNamespaces bool
	// Source gives the instance types and prices the dry run plans with.
	Source CatalogSource
	// Output is OutputText (the default; OutputTable is accepted as a synonym) or OutputJSON.
	Output string
	// Clock tells ages and waiting times; nil means the real clock.
	Clock clock.Clock
}

// ExplainCatalog names the catalogue instance types and prices came from.
type ExplainCatalog struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// ExplainResult is the JSON document `tailor explain` prints: pods, or one NodeClaim.
type ExplainResult struct {
	Catalog   ExplainCatalog        `json:"catalog"`
	Pods      []PodExplanation      `json:"pods,omitempty"`
	NodeClaim *NodeClaimExplanation `json:"nodeClaim,omitempty"`
}

// Explain reads the live cluster through kube, runs the simulator as a dry run where pods are concerned, and writes
// the explanation to w. kube should read straight from the API server (a plain, non-caching client).
func Explain(ctx context.Context, kube client.Reader, opts ExplainOptions, w io.Writer) error {
	switch opts.Output {
	case "", OutputText, OutputTable:
		opts.Output = OutputText
	case OutputJSON:
	default:
		return fmt.Errorf("unknown output %q: use -o text or -o json", opts.Output)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	switch opts.Target {
	case ExplainPod, ExplainNodeClaim:
		if opts.Name == "" {
			return fmt.Errorf("explain %s: name the %s to explain", opts.Target, opts.Target)
		}
	case ExplainPending:
	default:
		return fmt.Errorf("unknown explain target %q: explain pod NAME, nodeclaim NAME or --pending", opts.Target)
	}
	if opts.Target != ExplainNodeClaim && !opts.AllNamespaces && opts.Namespace == "" {
		opts.Namespace = corev1.NamespaceDefault
	}
	cat, err := opts.Source.Load()
	if err != nil {
		return err
	}
	e := &explainer{kube: kube, clk: opts.Clock, opts: opts, cat: cat, types: cat.ToInstanceTypes(catalog.Options{})}
	res := &ExplainResult{Catalog: ExplainCatalog{Name: cat.Name, Version: cat.Version}}
	if opts.Target == ExplainNodeClaim {
		res.NodeClaim, err = e.explainNodeClaim(ctx)
	} else {
		res.Pods, err = e.explainPods(ctx)
	}
	if err != nil {
		return err
	}
	if opts.Output == OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return writeExplainText(w, res, opts)
}

// explainer is one `tailor explain` run.
type explainer struct {
	kube  client.Reader
	clk   clock.Clock
	opts  ExplainOptions
	cat   *catalog.Catalog
	types []*cloudprovider.InstanceType
}

// reasonNominated is the reason of the pod events by which the provisioner says which NodeClaim a pod waits for
// (internal/controller/provisioning). The nomination itself lives in the controller's memory; its events are what
// another process can see.
const reasonNominated = "Nominated"

// nominatedMessage matches the message of those events and captures the NodeClaim's name.
var nominatedMessage = regexp.MustCompile(`^pod should schedule on nodeclaim (\S+)`)

// nominations reads, for every pod, the NodeClaim its latest Nominated event names.
func (e *explainer) nominations(ctx context.Context) (map[types.UID]string, error) {
	events := &corev1.EventList{}
	if err := e.kube.List(ctx, events, client.MatchingFields{"reason": reasonNominated}); err != nil {
		return nil, fmt.Errorf("listing pod events: %w", err)
	}
	out := map[types.UID]string{}
	latest := map[types.UID]time.Time{}
	for i := range events.Items {
		ev := &events.Items[i]
		if ev.Reason != reasonNominated || ev.InvolvedObject.Kind != "Pod" {
			continue
		}
		m := nominatedMessage.FindStringSubmatch(ev.Message)
		if m == nil {
			continue
		}
		uid, at := ev.InvolvedObject.UID, eventTime(ev)
		if prev, ok := latest[uid]; ok && prev.After(at) {
			continue
		}
		latest[uid], out[uid] = at, m[1]
	}
	return out, nil
}

// eventTime is when an event last happened, whichever API wrote it.
func eventTime(ev *corev1.Event) time.Time {
	t := ev.CreationTimestamp.Time
	for _, c := range []time.Time{ev.EventTime.Time, ev.FirstTimestamp.Time, ev.LastTimestamp.Time} {
		if c.After(t) {
			t = c
		}
	}
	if ev.Series != nil && ev.Series.LastObservedTime.After(t) {
		t = ev.Series.LastObservedTime.Time
	}
	return t
}

// instanceTypes is the dry run's cloud provider: the catalogue's instance types for every NodePool whose node class
// the controller could launch from. Like the AWS provider, it refuses a NodePool whose EC2NodeClass is missing, not
// resolved or not ready, since the controller launches nothing from it.
func (e *explainer) instanceTypes(ctx context.Context, np *apiv1.NodePool) ([]*cloudprovider.InstanceType, error) {
	ref := np.Spec.Template.Spec.NodeClassRef
	if ref.Kind != "" && ref.Kind != "EC2NodeClass" {
		return nil, fmt.Errorf("node class kind %q is unknown: use EC2NodeClass", ref.Kind)
	}
	nc := &apiv1.EC2NodeClass{}
	if err := e.kube.Get(ctx, client.ObjectKey{Name: ref.Name}, nc); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, fmt.Errorf("EC2NodeClass %q does not exist", ref.Name)
		}
		return nil, fmt.Errorf("getting EC2NodeClass %q: %w", ref.Name, err)
	}
	ready := nc.StatusConditions().Get(apiv1.ConditionTypeReady)
	switch {
	case ready == nil:
		return nil, fmt.Errorf("EC2NodeClass %q has not been resolved yet (is the controller running?)", ref.Name)
	case ready.Status != "True":
		return nil, fmt.Errorf("EC2NodeClass %q is not ready: %s", ref.Name, ready.Message)
	}
	return e.types, nil
}

// readCluster is the controllers' view of the cluster, rebuilt from the API: state.Cluster.Read, with the
// nominations the provisioner announced in pod events.
func (e *explainer) readCluster(ctx context.Context, pods []corev1.Pod) (*state.View, map[types.UID]string, error) {
	nominated, err := e.nominations(ctx)
	if err != nil {
		return nil, nil, err
	}
	cluster := state.NewCluster(e.clk, e.kube)
	for i := range pods {
		if nc, ok := nominated[pods[i].UID]; ok {
			if err := cluster.Nominations().Nominate(&pods[i], nc); err != nil {
				return nil, nil, err
			}
		}
	}
	view, err := cluster.Read(ctx, e.instanceTypes)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the cluster: %w", err)
	}
	return view, nominated, nil
}

// price looks an offering up in the catalogue; ok is false when the catalogue does not sell it.
func (e *explainer) price(instanceType, zone, capacityType string) (float64, bool) {
	for _, it := range e.types {
		if it.Name != instanceType {
			continue
		}
		for _, o := range it.Offerings {
			if o.Zone == zone && o.CapacityType == capacityType {
				return o.PricePerHour, true
			}
		}
	}
	return 0, false
}

// formatResources writes requests the way people read them: cpu and memory first, the pod slot left out.
func formatResources(rl corev1.ResourceList) string {
	order := func(name corev1.ResourceName) int {
		switch name {
		case corev1.ResourceCPU:
			return 0
		case corev1.ResourceMemory:
			return 1
		case corev1.ResourceEphemeralStorage:
			return 2
		}
		return 3
	}
	names := slices.SortedFunc(maps.Keys(rl), func(a, b corev1.ResourceName) int {
		if oa, ob := order(a), order(b); oa != ob {
			return oa - ob
		}
		return strings.Compare(string(a), string(b))
	})
	var parts []string
	for _, name := range names {
		q := rl[name]
		if name == corev1.ResourcePods || q.IsZero() {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", name, readableQuantity(name, q)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// readableQuantity prints byte quantities in binary units (1536Mi rather than 1610612736) and the rest as they are.
func readableQuantity(name corev1.ResourceName, q resource.Quantity) string {
	if name != corev1.ResourceMemory && name != corev1.ResourceEphemeralStorage {
		return q.String()
	}
	v := q.Value()
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if v >= u.size && v%u.size == 0 {
			return fmt.Sprintf("%d%s", v/u.size, u.suffix)
		}
	}
	if v >= 1<<30 {
		return fmt.Sprintf("%.1fGi", float64(v)/(1<<30))
	}
	return q.String()
}

// podRequests are a pod's requests as the simulator counts them.
func podRequests(p *corev1.Pod) string {
	return formatResources(scheduling.PodRequests(p).List())
}

func podName(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// errNotFound words a missing object the way kubectl does.
func errNotFound(kind, name string) error {
	return errors.New(kind + " " + name + " not found")
}
