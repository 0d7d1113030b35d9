// Package termination takes a deleted Node of Tailor's down safely: it taints the node tailor.sh/disrupted:NoSchedule
// (cordon), drains it through the Eviction API (DaemonSet and mirror pods stay; critical pods go last; a
// PodDisruptionBudget's refusal is retried with backoff and never bypassed before the NodeClaim's
// terminationGracePeriod), waits for volumes to detach, asks the cloud to terminate the instance and only then
// releases the node's finalizer.
package termination
