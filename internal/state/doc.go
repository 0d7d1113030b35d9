// Package state is Tailor's one in-memory view of the cluster, shared by the controllers: it reads Nodes, NodeClaims,
// NodePools, pods, DaemonSets and volumes from the manager's informer cache, adds what only Tailor knows (which pods
// were nominated to which in-flight NodeClaim, in Nominations), and turns it all into the scheduling simulator's
// Snapshot. A read (Cluster.Read: listing, then the pure buildView) never changes the Cluster; only the provisioner
// changes the nominations, through their transitions and Cluster.Prune. docs/development.md describes the lifecycle.
package state
