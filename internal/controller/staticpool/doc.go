// Package staticpool keeps a static NodePool (one with spec.replicas) at its count: it creates NodeClaims for the
// cheapest nodes the NodePool allows when there are fewer than replicas, and deletes the least useful ones when there
// are more. Pending pods never launch nodes in a static NodePool (internal/state leaves it out of the plan), and
// consolidation never removes its nodes; drift, expiry and repair delete them and this controller launches the next.
package staticpool
