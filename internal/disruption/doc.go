// Package disruption is Tailor's disruption policy, written once: which of Tailor's nodes may go on purpose now, by
// which method, what holds each back and whether its NodePool's budget has room. Evaluate turns one View of the
// cluster (NodePools, NodeClaims, nodes, pods, PodDisruptionBudgets, and what the provider says of drift) and a
// moment into one Verdict per NodeClaim. It is pure: no client, no clock (now is a parameter), nothing recorded.
//
// Two callers share it, so that what `tailor explain nodeclaim` says is what the controller does: the disruption
// controller (internal/controller/disruption), which records the verdicts (conditions, events, metrics) and acts on
// them, and `tailor explain` (internal/cli), which words them.
//
// The methods run in Karpenter's order, one small type each (Repair, Expiration, Drift, Emptiness,
// Underutilization); the first that applies is the verdict's method. Consolidation's choice of which of the
// Underutilized candidates to move, and how, is the scheduling simulator's (scheduling.Consolidator), not this
// package's.
package disruption
