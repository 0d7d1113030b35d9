package operator

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterUIDNamespace is the namespace whose UID identifies the cluster: every cluster has it from its first start,
// nobody deletes it, and a new cluster of the same name gets a new one.
const ClusterUIDNamespace = metav1.NamespaceSystem

// ClusterUID is the UID Tailor tags its instances and launch templates with, to tell this cluster apart from another
// of the same name in the same account: override when set (--cluster-uid), else the UID of the kube-system
// namespace, read with reader (the manager's API reader: the cache has not started yet).
func ClusterUID(ctx context.Context, reader client.Reader, override string) (string, error) {
	if override != "" {
		return override, nil
	}
	if reader == nil {
		return "", errors.New("cluster uid: a Kubernetes reader is required")
	}
	ns := &corev1.Namespace{}
	if err := reader.Get(ctx, client.ObjectKey{Name: ClusterUIDNamespace}, ns); err != nil {
		return "", fmt.Errorf("reading the UID of namespace %s, which tells this cluster's instances from those of another cluster of the same name: %w (grant get on namespaces/%s, or set --cluster-uid)", ClusterUIDNamespace, err, ClusterUIDNamespace)
	}
	if ns.UID == "" {
		return "", fmt.Errorf("namespace %s has no UID; set --cluster-uid", ClusterUIDNamespace)
	}
	return string(ns.UID), nil
}
