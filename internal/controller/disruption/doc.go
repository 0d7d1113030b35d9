// Package disruption decides which of Tailor's nodes go away on purpose, one decision at a time: expired nodes
// (expireAfter), drifted nodes (the NodePool's template or the node class changed), and empty nodes (no pods but
// DaemonSet pods for consolidateAfter). Each decision respects the NodePool's disruption budgets, the
// tailor.sh/do-not-disrupt annotation on nodes and pods, and PodDisruptionBudgets; it is re-validated against a fresh
// read before it is carried out by deleting the NodeClaim, whose node the termination controller then cordons and
// drains.
package disruption
