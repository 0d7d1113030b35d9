package disruption

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/state"
)

// A replace is a command that outlives one pass, and so may outlive the process that started it. It is written on
// every NodeClaim it involves (the annotation apiv1.DisruptionCommandAnnotationKey, the same record on each) before
// anything else happens, in this order:
//
//  1. each candidate: record, then the disrupted taint, then the Disrupting condition;
//  2. each replacement: created with the record (its name chosen up front, so the candidates' record names it);
//  3. once every replacement is initialized: each candidate deleted; then the record is taken off the replacements.
//
// (A replacement of a finished command may later become a candidate of another; its record is then overwritten.)
//
// Abandoning undoes it in the reverse order: replacements deleted, then each candidate untainted, its Disrupting
// condition cleared and, last, its record removed. A leader that starts (or a pass that finds a record it has no
// command for) rebuilds the command from the first live NodeClaim that carries one and lets progress decide: every
// replacement initialized → delete the candidates (resume); a replacement missing, deleting or past
// ReplacementTimeout → abandon. Whatever step a crash interrupts, some live NodeClaim still carries the record until
// the command is finished or undone, so no candidate stays tainted and no replacement is orphaned.

// crashPoints name the steps of a command a test may stop a controller after (Controller.crashAfter), as a process
// killed there would.
const (
	crashAfterRecord      = "record"
	crashAfterTaint       = "taint"
	crashAfterReplacement = "replacement"
	crashAfterDelete      = "delete"
)

// errCrashed is what a step returns when a test stops the controller there.
var errCrashed = errors.New("disruption: stopped by the test at a crash point")

// record is the persisted form of a command.
type record struct {
	ID           string    `json:"id"`
	Reason       string    `json:"reason"`
	Started      time.Time `json:"started"`
	Candidates   []string  `json:"candidates"`
	Replacements []string  `json:"replacements"`
}

func (cmd *command) record() string {
	names := make([]string, 0, len(cmd.candidates))
	for _, cand := range cmd.candidates {
		names = append(names, cand.claim.Name)
	}
	raw, _ := json.Marshal(record{ID: cmd.id, Reason: cmd.reason, Started: cmd.started.UTC(), Candidates: names, Replacements: cmd.replacements})
	return string(raw)
}

func parseRecord(raw string) (*record, error) {
	rec := &record{}
	if err := json.Unmarshal([]byte(raw), rec); err != nil {
		return nil, err
	}
	if rec.ID == "" || len(rec.Candidates) == 0 {
		return nil, errors.New("no id or no candidates")
	}
	return rec, nil
}

func newCommandID(reason string) string {
	return strings.ToLower(reason) + "-" + rand.String(8)
}

// crashed tells whether a test asked the controller to stop after the step.
func (c *Controller) crashed(step string) bool {
	return c.crashAfter != nil && c.crashAfter(step)
}

// adopt rebuilds a command recorded on live NodeClaims when this process runs none: the first by id becomes the
// command in flight, and progress resumes or abandons it. Other records wait for later passes, one command at a
// time: one may be a finished command whose record a failed patch left on a replacement (resuming it just removes
// the record), and abandoning that instead would delete a node in use.
func (c *Controller) adopt(ctx context.Context, w *world) error {
	if c.command != nil {
		return nil
	}
	byName := map[string]*apiv1.NodeClaim{}
	for _, nc := range w.NodeClaims {
		byName[nc.Name] = nc
	}
	recs := map[string]*record{}
	var errs []error
	for _, nc := range w.NodeClaims {
		raw, ok := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]
		if !ok || !nc.DeletionTimestamp.IsZero() {
			continue // a candidate being deleted keeps its record until it is gone; its command is done
		}
		rec, err := parseRecord(raw)
		if err != nil {
			log.FromContext(ctx).Info("dropping an unreadable disruption command record", "nodeclaim", klog.KObj(nc), "error", err.Error())
			errs = append(errs, c.release(ctx, nc.Name, nc.Status.NodeName))
			continue
		}
		recs[rec.ID] = rec
	}
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) > 0 {
		cmd := c.rebuild(w, byName, recs[ids[0]])
		log.FromContext(ctx).Info("resuming a disruption command recorded by an earlier leader", "command", cmd.id,
			"reason", cmd.reason, "nodes", strings.Join(cmd.nodes(), ","), "replacements", strings.Join(cmd.replacements, ","),
			"waiting", len(ids)-1)
		c.command = cmd
		c.cluster.MarkReplacing(cmd.id, c.held(cmd))
	}
	return errors.Join(errs...)
}

// rebuild makes a command from its record and the cluster as read: candidates already gone or being deleted are left
// out (they are done).
func (c *Controller) rebuild(w *world, byName map[string]*apiv1.NodeClaim, rec *record) *command {
	cmd := &command{id: rec.ID, reason: rec.Reason, started: rec.Started, replacements: rec.Replacements}
	for _, name := range rec.Candidates {
		nc := byName[name]
		if nc == nil || !nc.DeletionTimestamp.IsZero() {
			continue
		}
		node := w.NodeOf(nc)
		if node == nil {
			node = &corev1.Node{}
			node.Name = nc.Status.NodeName
		}
		cmd.candidates = append(cmd.candidates, &candidate{claim: nc, node: node, pool: w.NodePoolOf(nc),
			pods: movable(w.PodsByNode[node.Name]), reason: rec.Reason})
	}
	return cmd
}

// held is the room a rebuilt command holds: the candidates unschedulable and, when there is one replacement, the
// candidates' pods on it. The plan's split of pods across several replacements is not recorded, so a rebuilt
// command with several holds none (provisioning may then launch for evicted pods what a replacement already has).
func (c *Controller) held(cmd *command) state.Replacement {
	r := state.Replacement{Candidates: cmd.nodes(), Pods: map[string][]*corev1.Pod{}}
	if len(cmd.replacements) == 1 {
		for _, cand := range cmd.candidates {
			r.Pods[cmd.replacements[0]] = append(r.Pods[cmd.replacements[0]], cand.pods...)
		}
	}
	return r
}

// writeRecord puts the command's record on the NodeClaim.
func (c *Controller) writeRecord(ctx context.Context, nc *apiv1.NodeClaim, rec string) error {
	patch := client.MergeFrom(nc.DeepCopy())
	if nc.Annotations == nil {
		nc.Annotations = map[string]string{}
	}
	nc.Annotations[apiv1.DisruptionCommandAnnotationKey] = rec
	if err := c.kube.Patch(ctx, nc, patch); err != nil {
		return fmt.Errorf("recording the disruption command on nodeclaim %s: %w", nc.Name, err)
	}
	return nil
}

// dropRecord takes the command's record off the named NodeClaim, if it is still that command's.
func (c *Controller) dropRecord(ctx context.Context, name, id string) error {
	nc := &apiv1.NodeClaim{}
	if err := c.fresh.Get(ctx, client.ObjectKey{Name: name}, nc); err != nil {
		return client.IgnoreNotFound(err)
	}
	raw, ok := nc.Annotations[apiv1.DisruptionCommandAnnotationKey]
	if !ok {
		return nil
	}
	if rec, err := parseRecord(raw); err == nil && id != "" && rec.ID != id {
		return nil // a later command's
	}
	patch := client.MergeFromWithOptions(nc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	delete(nc.Annotations, apiv1.DisruptionCommandAnnotationKey)
	if err := c.kube.Patch(ctx, nc, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing the disruption command record from nodeclaim %s: %w", name, err)
	}
	return nil
}

// finish takes the record off the replacements of a command whose candidates are all deleted.
func (c *Controller) finish(ctx context.Context, cmd *command) error {
	var errs []error
	for _, name := range cmd.replacements {
		errs = append(errs, c.dropRecord(ctx, name, cmd.id))
	}
	return errors.Join(errs...)
}

// unstrand lifts the disrupted taint from a node no command holds: its NodeClaim is not being deleted, not
// Disrupting and carries no record (a crash can leave that only if a record was lost; the check is cheap).
func (c *Controller) unstrand(ctx context.Context, nc *apiv1.NodeClaim, node *corev1.Node) error {
	if !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.MatchTaint(&disruptedTaint) }) {
		return nil
	}
	fresh := &apiv1.NodeClaim{}
	if err := c.fresh.Get(ctx, client.ObjectKeyFromObject(nc), fresh); err != nil {
		return client.IgnoreNotFound(err)
	}
	if _, recorded := fresh.Annotations[apiv1.DisruptionCommandAnnotationKey]; recorded || !fresh.DeletionTimestamp.IsZero() ||
		fresh.StatusConditions().Get(apiv1.ConditionTypeDisrupting) != nil {
		return nil
	}
	log.FromContext(ctx).Info("lifting a disrupted taint no command holds", "nodeclaim", klog.KObj(nc), "node", klog.KObj(node))
	return c.taint(ctx, node.Name, false)
}
