package ec2sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Event detail types, as EventBridge names them.
const (
	detailSpotInterruption = "EC2 Spot Instance Interruption Warning"
	detailRebalance        = "EC2 Instance Rebalance Recommendation"
	detailStateChange      = "EC2 Instance State-change Notification"
	detailHealth           = "AWS Health Event"
)

// Reasons EC2 gives for a state change.
const (
	reasonUserShutdown = "Client.UserInitiatedShutdown: User initiated shutdown"
	reasonSpot         = "Server.SpotInstanceTermination: Spot instance termination"
)

// stateChangeStates are the states whose change notifications reach the queues: those the interruption rules
// of node autoscalers subscribe to.
var stateChangeStates = map[string]bool{"stopping": true, "stopped": true, stateShuttingDown: true, stateTerminated: true}

// event is an EventBridge event as an SQS target receives it.
type event struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

// publish sends an event to every queue.
func (c *cloud) publish(at time.Time, source, detailType string, resources []string, detail any) {
	e := event{
		Version: "0", ID: c.newUUID(), DetailType: detailType, Source: source, Account: c.cfg.AccountID,
		Time: at.UTC().Format(time.RFC3339), Region: c.cfg.Region, Resources: resources, Detail: detail,
	}
	body, err := json.Marshal(e)
	if err != nil {
		c.log.Error(err, "encoding event", "detailType", detailType)
		return
	}
	for _, name := range c.cfg.Queues {
		c.queues[name].send(string(body))
	}
}

func (c *cloud) instanceARN(i *instance) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", c.cfg.Region, c.cfg.AccountID, i.ID)
}

func (c *cloud) setState(i *instance, at time.Time, state string) {
	wasAlive := i.alive()
	i.State = state
	if wasAlive && !i.alive() {
		c.releaseAddress(i)
	}
	if stateChangeStates[state] {
		c.publish(at, "aws.ec2", detailStateChange, []string{c.instanceARN(i)},
			map[string]string{"instance-id": i.ID, "state": state})
	}
}

// advance moves every instance along to now: pending → running, interruption warnings and terminations,
// shutting-down → terminated, and forgets terminated instances after the retention. Each change happens at the
// time it was due, however late advance runs. It reports whether anything changed.
func (c *cloud) advance(now time.Time) bool {
	changed := false
	for _, i := range c.orderedInstances() {
		if i.State == statePending && !now.Before(i.RunningAt) {
			c.setState(i, i.RunningAt, stateRunning)
			changed = true
		}
		if !i.InterruptAt.IsZero() && (i.State == statePending || i.State == stateRunning) {
			if !i.WarningSent && !now.Before(i.WarnAt) {
				c.publish(i.WarnAt, "aws.ec2", detailSpotInterruption,
					[]string{fmt.Sprintf("arn:aws:ec2:%s:instance/%s", i.Zone, i.ID)},
					map[string]string{"instance-id": i.ID, "instance-action": "terminate"})
				i.WarningSent = true
				changed = true
			}
			if !now.Before(i.InterruptAt) {
				c.shutDown(i, i.InterruptAt, reasonSpot)
				changed = true
			}
		}
		if i.State == stateShuttingDown && !now.Before(i.ShutdownAt.Add(c.timing.TerminateLatency)) {
			i.TerminatedAt = i.ShutdownAt.Add(c.timing.TerminateLatency)
			c.setState(i, i.TerminatedAt, stateTerminated)
			changed = true
		}
		if i.State == stateTerminated && !now.Before(i.TerminatedAt.Add(c.timing.TerminatedRetention)) &&
			(!i.NodeCreated || i.NodeDeleted) {
			delete(c.instances, i.ID)
			changed = true
		}
	}
	return changed
}

func (c *cloud) shutDown(i *instance, at time.Time, reason string) {
	i.ShutdownAt = at
	i.StateReason = reason
	c.setState(i, at, stateShuttingDown)
}

// stateChange is one instance's answer to TerminateInstances.
type stateChange struct {
	ID       string
	Previous string
	Current  string
}

var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// checkInstanceIDs answers EC2's errors for malformed and unknown instance IDs.
func (c *cloud) checkInstanceIDs(ids []string) error {
	var missing []string
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return errBadRequest("InvalidInstanceID.Malformed", "Invalid id: \"%s\" (expecting \"i-...\")", id)
		}
		if _, ok := c.instances[id]; !ok {
			missing = append(missing, id)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return errBadRequest("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	default:
		return errBadRequest("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
}

func (c *cloud) terminateInstances(ids []string) ([]stateChange, error) {
	if len(ids) == 0 {
		return nil, errMissingParameter("InstanceId")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.advance(now)
	if err := c.checkInstanceIDs(ids); err != nil {
		return nil, err
	}
	var out []stateChange
	for _, id := range ids {
		i := c.instances[id]
		prev := i.State
		if i.State == statePending || i.State == stateRunning {
			c.shutDown(i, now, reasonUserShutdown)
		}
		out = append(out, stateChange{ID: id, Previous: prev, Current: i.State})
	}
	c.advance(now)
	c.save()
	return out, nil
}

// interrupt starts a spot interruption: an optional rebalance recommendation, the warning now and the
// termination after notice.
func (c *cloud) interrupt(id string, notice time.Duration, rebalance bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.advance(now)
	i, ok := c.instances[id]
	if !ok {
		return &notFoundError{what: "instance " + id}
	}
	if i.CapacityType != "spot" {
		return fmt.Errorf("instance %s is %s, not spot: only spot instances are interrupted", id, i.CapacityType)
	}
	if i.State != stateRunning && i.State != statePending {
		return fmt.Errorf("instance %s is %s: only pending or running instances can be interrupted", id, i.State)
	}
	if rebalance {
		c.publish(now, "aws.ec2", detailRebalance, []string{c.instanceARN(i)}, map[string]string{"instance-id": i.ID})
	}
	i.WarnAt, i.InterruptAt, i.WarningSent = now, now.Add(notice), false
	c.advance(now)
	c.save()
	return nil
}

// rebalance sends a rebalance recommendation for an instance.
func (c *cloud) rebalance(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.instances[id]
	if !ok {
		return &notFoundError{what: "instance " + id}
	}
	c.publish(c.clock.Now(), "aws.ec2", detailRebalance, []string{c.instanceARN(i)}, map[string]string{"instance-id": i.ID})
	c.save()
	return nil
}

// scheduledChange sends an AWS Health scheduled-change event (for example an instance retirement) for instances.
func (c *cloud) scheduledChange(ids []string, eventTypeCode string, start time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	var entities []map[string]string
	for _, id := range ids {
		if _, ok := c.instances[id]; !ok {
			return &notFoundError{what: "instance " + id}
		}
		entities = append(entities, map[string]string{"entityValue": id})
	}
	if eventTypeCode == "" {
		eventTypeCode = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"
	}
	if start.IsZero() {
		start = now.Add(14 * 24 * time.Hour)
	}
	detail := map[string]any{
		"eventArn":          fmt.Sprintf("arn:aws:health:%s::event/EC2/%s/%s", c.cfg.Region, eventTypeCode, c.newUUID()),
		"service":           "EC2",
		"eventTypeCode":     eventTypeCode,
		"eventTypeCategory": "scheduledChange",
		"startTime":         start.UTC().Format(time.RFC1123),
		"endTime":           start.Add(time.Hour).UTC().Format(time.RFC1123),
		"eventDescription": []map[string]string{{
			"language":          "en_US",
			"latestDescription": "EC2 has detected degradation of the underlying hardware hosting your instance.",
		}},
		"affectedEntities": entities,
	}
	c.publish(now, "aws.health", detailHealth, ids, detail)
	c.save()
	return nil
}
