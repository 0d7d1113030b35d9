// Package disruption decides which of Tailor's nodes go away on purpose, one command at a time: expired nodes
// (expireAfter), drifted nodes (the NodePool's template or the node class changed), empty nodes (no pods but
// DaemonSet pods for consolidateAfter) and underutilized ones (consolidation). Each decision respects the NodePool's
// disruption budgets, the tailor.sh/do-not-disrupt annotation on nodes and pods, and PodDisruptionBudgets; it is
// re-validated against a fresh read before it is carried out. When the candidates' pods fit on the remaining nodes
// the NodeClaims are deleted at once; otherwise replacement NodeClaims planned by the scheduling simulator are
// launched first, and the candidates are deleted only once those are initialized (or the command is abandoned and
// the replacements deleted). The termination controller then cordons and drains the deleted nodes.
//
// The policy — which NodeClaims are candidates, by which method, what blocks them and what the budgets allow — is
// internal/disruption's Evaluate, the same function `tailor explain nodeclaim` words; this package asks the provider
// about drift, records the verdicts (Drifted and Consolidatable conditions, events, logs) and acts on them.
package disruption
