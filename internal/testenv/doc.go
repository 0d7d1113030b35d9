// Package testenv starts a real Kubernetes control plane on loopback for tests and the demo.
package testenv
