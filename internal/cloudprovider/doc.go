// Package cloudprovider is the contract between Tailor's controllers and a cloud: the CloudProvider interface
// (Create, Delete, Get, List, GetInstanceTypes, IsDrifted, Name), the instance types with their offerings that the
// simulator plans against, and the typed errors (NodeClaimNotFound, InsufficientCapacity, NodeClassNotReady) that
// callers switch on.
//
// Implementations live in sub-packages: aws/ talks to EC2; fake/ is an in-memory provider for narrow unit tests.
package cloudprovider
