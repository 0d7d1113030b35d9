// Package nodeclaim runs each NodeClaim through its life: launch (the cloud provider's Create), registration (the
// Node with its provider ID joins: labels, taints, owner and finalizer synced), initialization (Node Ready, startup
// taints gone, resources registered) and liveness (a claim whose node never registers is replaced). Its finalizer
// makes sure the instance is terminated before the NodeClaim goes away. It also garbage-collects instances without
// a NodeClaim and NodeClaims without an instance.
package nodeclaim
