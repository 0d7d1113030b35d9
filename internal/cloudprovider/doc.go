// Package cloudprovider holds what every cloud provider offers Tailor: instance types with their offerings, and (later)
// the provider interface and its typed errors.
package cloudprovider
