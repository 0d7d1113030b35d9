// Package interruption acts on the cloud's warnings that an instance is about to go away: it reads the provider's
// interruption queue (on AWS, the SQS queue EventBridge rules deliver EC2 and AWS Health events to) and disrupts the
// affected NodeClaim at once, while there is still time to move its pods.
//
// What each event kind does:
//   - a spot interruption warning, an AWS Health scheduled change (such as an instance retirement) and a state change
//     to stopping, stopped, shutting-down or terminated disrupt the NodeClaim: its Disrupting condition is set with
//     reason Interrupted and a message naming the event, and the NodeClaim is deleted. Deleting it starts the
//     termination flow (cordon, drain through the Eviction API, then the instance is terminated), and the evicted
//     pods are planned onto new capacity by the provisioner like any other pending pods;
//   - a rebalance recommendation only records an event on the NodeClaim and its Node: EC2 sends it for instances at
//     elevated risk, often long before (or without) an interruption, and replacing on every one would churn the
//     fleet. Acting on it could become a NodePool setting later;
//   - a state change to any other state (pending, running) is ignored;
//   - an event about an instance no NodeClaim has (another cluster's, or one already gone) is dropped, with a debug log.
//
// A NodeClaim already being deleted is left alone, so redelivered events and the state changes that Tailor's own
// terminations cause are harmless. The controller is a manager.Runnable that runs on the leader only; it finds
// NodeClaims by the instance ID at the end of status.providerID (aws:///<zone>/<instance-id>).
//
// Metrics: tailor_interruption_received_messages_total{kind}, tailor_interruption_actions_total{kind,action} and
// tailor_interruption_message_latency_seconds (from the event's time to its handling).
package interruption
