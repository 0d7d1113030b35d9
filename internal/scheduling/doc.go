// Package scheduling is Tailor's scheduling simulator. Given a snapshot of the cluster (existing and in-flight nodes,
// NodePools with their instance types, DaemonSets, volumes) and a batch of pending pods, Solve decides where every pod
// goes: onto existing capacity, onto new NodeClaims (the cheapest fleet it can find), or nowhere, with one reason per
// NodePool. The package is pure: no API client, no clock, and the same input always gives the same Results.
//
// The pieces:
//   - Requirement and Requirements: label requirements (In, NotIn, Exists, DoesNotExist, Gt, Lt, minValues) with an
//     algebra (intersection, compatibility, membership).
//   - Constraint: one small type per scheduling rule (taints, node affinity, ports, topology spread, pod affinity,
//     resources, NodePool limits, minValues), each returning a Reason when it rejects: a kind callers switch on, the
//     NodePool and resource it is about, and the wording users read (Reason.String).
//   - Solve: first-fit-decreasing over existing nodes and open NodeClaims, each NodeClaim keeping the set of instance
//     types that still fit, followed by an improvement pass that merges claims while that lowers the price.
//   - Validate: an independent re-check of a plan, used by the tests on every plan.
//   - LowerBound: the LP relaxation of the packing, solved with gonum, to tell how far a plan is from optimal.
package scheduling
