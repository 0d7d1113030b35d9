// Package state is Tailor's one in-memory view of the cluster, shared by the controllers: it reads Nodes, NodeClaims,
// NodePools, pods, DaemonSets and volumes from the manager's informer cache, adds what only Tailor knows (which pods
// were nominated to which in-flight NodeClaim), and turns it all into the scheduling simulator's Snapshot.
package state
