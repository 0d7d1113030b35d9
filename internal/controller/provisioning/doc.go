// Package provisioning turns pods the kube-scheduler could not place into NodeClaims. Pending pods open a batch; the
// batch closes after an idle window or a maximum window; the scheduling simulator plans the batch against the
// cluster's nodes, in-flight NodeClaims and NodePools; one NodeClaim is created per planned node, and each pod is told
// where it is going (event Nominated) or why it cannot go anywhere (event FailedScheduling).
package provisioning
