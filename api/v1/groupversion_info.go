// +kubebuilder:object:generate=true
// +groupName=tailor.sh

package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of every type in this package.
var GroupVersion = schema.GroupVersion{Group: Group, Version: "v1"}

var (
	// SchemeBuilder collects the functions that add this package's types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds NodePool, NodeClaim, EC2NodeClass, NodeOverlay and CapacityBuffer (and their lists) to a scheme. Callers build their own
	// runtime.Scheme; this package never touches client-go's global one.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&NodePool{}, &NodePoolList{},
		&NodeClaim{}, &NodeClaimList{},
		&EC2NodeClass{}, &EC2NodeClassList{},
		&NodeOverlay{}, &NodeOverlayList{},
		&CapacityBuffer{}, &CapacityBufferList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// Kinds, for NodeClassReference and error messages.
const (
	NodePoolKind       = "NodePool"
	NodeClaimKind      = "NodeClaim"
	EC2NodeClassKind   = "EC2NodeClass"
	NodeOverlayKind    = "NodeOverlay"
	CapacityBufferKind = "CapacityBuffer"
)
