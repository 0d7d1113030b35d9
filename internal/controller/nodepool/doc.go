// Package nodepool keeps each NodePool's status: the resources and node count of its NodeClaims (what the limits
// count against), whether its node class is Ready, whether it passed the checks the API server cannot afford
// (RuntimeValidate), and the Prometheus gauges of usage and limits.
package nodepool
