// Package e2e holds Tailor's end-to-end tests: they run against a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) with KWOK's fake kubelets, all started on loopback by internal/testenv.
package e2e
