// Package v1 holds Tailor's user-facing API, group tailor.sh version v1: NodePool (what nodes may be launched and
// when they may go), NodeClaim (one node Tailor launched or is launching) and EC2NodeClass (the AWS details of those
// nodes), with the well-known label keys.
//
// The package is a leaf: it imports only the standard library, k8s.io/api and k8s.io/apimachinery. Validation lives
// in the CRDs themselves (OpenAPI and CEL rules generated from the markers here), so the API server rejects a bad
// object with a message naming the field. Register the types with AddToScheme; nothing is registered in init().
package v1
