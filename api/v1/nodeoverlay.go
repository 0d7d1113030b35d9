package v1

import (
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeOverlay changes what Tailor believes an instance type costs: the price of every offering whose instance type,
// zone and capacity type match its requirements is set (price) or adjusted (priceAdjustment) before Tailor plans,
// consolidates, bounds or reports cost. Use it for what the public price list does not know: a Savings Plan, a
// Reserved Instance or an enterprise discount. Where several overlays match an offering, the highest weight wins
// (equal weights: the first by name).
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=nodeoverlays,scope=Cluster,categories=tailor
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Weight",type="integer",JSONPath=".spec.weight"
// +kubebuilder:printcolumn:name="Price",type="string",JSONPath=".spec.price"
// +kubebuilder:printcolumn:name="Adjustment",type="string",JSONPath=".spec.priceAdjustment"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type NodeOverlay struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// spec says which offerings the overlay changes and how.
	// +required
	Spec NodeOverlaySpec `json:"spec"`
	// status reports the overlay's conditions.
	// +optional
	Status NodeOverlayStatus `json:"status,omitempty"`
}

// NodeOverlayList is a list of NodeOverlays.
// +kubebuilder:object:root=true
type NodeOverlayList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeOverlay `json:"items"`
}

// NodeOverlaySpec selects offerings and sets or adjusts their price.
// +kubebuilder:validation:XValidation:rule="has(self.price) != has(self.priceAdjustment)",message="set exactly one of price (an absolute $/h such as 0.0832) and priceAdjustment (such as -30% or +0.01)"
type NodeOverlaySpec struct {
	// requirements select the offerings: node labels of the instance type (node.kubernetes.io/instance-type,
	// tailor.sh/instance-family, kubernetes.io/arch, …) plus topology.kubernetes.io/zone and tailor.sh/capacity-type
	// of the offering. An empty list selects every offering.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:XValidation:rule="self.all(r, !has(r.minValues))",message="requirements[].minValues has no meaning in a NodeOverlay: remove it"
	// +listType=atomic
	// +optional
	Requirements []NodeSelectorRequirementWithMinValues `json:"requirements,omitempty"`
	// price replaces the offering's price: US dollars per hour, a decimal number such as "0.0832".
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]+([.][0-9]+)?$')",message="price must be a non-negative decimal number of dollars per hour such as 0.0832"
	// +optional
	Price *string `json:"price,omitempty"`
	// priceAdjustment changes the offering's price: a signed percentage of it ("-30%", "+5%") or a signed amount of
	// dollars per hour ("-0.01", "+0.002"). A result below zero counts as zero.
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[+-][0-9]+([.][0-9]+)?%?$')",message="priceAdjustment must be a signed percentage such as -30% or a signed amount of dollars per hour such as +0.01"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('%') || !self.startsWith('-') || double(self.substring(1, size(self)-1)) <= 100.0",message="priceAdjustment may lower a price by at most -100%"
	// +optional
	PriceAdjustment *string `json:"priceAdjustment,omitempty"`
	// weight orders overlapping overlays: the highest applies (1-10000; unset ranks below every weight).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	Weight *int32 `json:"weight,omitempty"`
}

// NodeOverlayStatus is what Tailor observed of the overlay.
type NodeOverlayStatus struct {
	// conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Reprice returns the overlay's price for an offering listed at price (dollars per hour), never below zero, or an
// error naming the field when the spec cannot be read (the API server's validation refuses such specs).
func (o *NodeOverlay) Reprice(price float64) (float64, error) {
	if o.Spec.Price != nil {
		v, err := strconv.ParseFloat(*o.Spec.Price, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("nodeoverlay %q spec.price %q: want a non-negative decimal such as 0.0832", o.Name, *o.Spec.Price)
		}
		return v, nil
	}
	if o.Spec.PriceAdjustment == nil {
		return price, nil
	}
	adj := *o.Spec.PriceAdjustment
	percent := strings.HasSuffix(adj, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(adj, "%"), 64)
	if err != nil || (!strings.HasPrefix(adj, "+") && !strings.HasPrefix(adj, "-")) {
		return 0, fmt.Errorf("nodeoverlay %q spec.priceAdjustment %q: want a signed percentage such as -30%% or a signed amount such as +0.01", o.Name, adj)
	}
	out := price + v
	if percent {
		out = price * (1 + v/100)
	}
	return max(out, 0), nil
}
