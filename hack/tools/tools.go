//go:build tools

// Package tools pins the binaries Tailor builds for its tests, demo and checks.
// `make tools` builds each of them into ./bin; the versions come from go.mod.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
