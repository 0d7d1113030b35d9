package aws

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/catalog"
	"github.com/tailor-sh/tailor/internal/cloudprovider"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// networkInfo is DescribeInstanceTypes' NetworkInfo of a type with cards network cards of perCard interfaces each.
func networkInfo(cards, perCard, ips int32) *ec2types.NetworkInfo {
	n := &ec2types.NetworkInfo{
		MaximumNetworkInterfaces: aws.Int32(cards * perCard), MaximumNetworkCards: aws.Int32(cards),
		DefaultNetworkCardIndex: aws.Int32(0), Ipv4AddressesPerInterface: aws.Int32(ips),
	}
	for i := range cards {
		n.NetworkCards = append(n.NetworkCards, ec2types.NetworkCardInfo{NetworkCardIndex: aws.Int32(i), MaximumNetworkInterfaces: aws.Int32(perCard)})
	}
	return n
}

// The VPC CNI's max pods counts the default network card's interfaces, not all cards' (EKS's eni-max-pods.txt:
// p5.48xlarge 100, m6idn.32xlarge 394, p4d.24xlarge 737).
func TestMaxPodsCountsTheDefaultNetworkCard(t *testing.T) {
	tests := []struct {
		name string
		net  *ec2types.NetworkInfo
		want int64
	}{
		{"p5.48xlarge", networkInfo(32, 2, 50), 100},
		{"m6idn.32xlarge", networkInfo(2, 8, 50), 394},
		{"p4d.24xlarge", networkInfo(4, 15, 50), 737},
		{"m5.large", networkInfo(1, 3, 10), 29},
		// Without cards, the type's maximum is all there is.
		{"m5.xlarge", &ec2types.NetworkInfo{MaximumNetworkInterfaces: aws.Int32(4), Ipv4AddressesPerInterface: aws.Int32(15)}, 58},
		// A default card other than card 0.
		{"x.large", func() *ec2types.NetworkInfo {
			n := networkInfo(2, 8, 50)
			n.DefaultNetworkCardIndex = aws.Int32(1)
			n.NetworkCards[1].MaximumNetworkInterfaces = aws.Int32(4)
			return n
		}(), 198},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := ec2types.InstanceTypeInfo{
				InstanceType:  ec2types.InstanceType(tt.name),
				ProcessorInfo: &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{ec2types.ArchitectureTypeX8664}},
				VCpuInfo:      &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(192)},
				MemoryInfo:    &ec2types.MemoryInfo{SizeInMiB: aws.Int64(2 << 20)},
				NetworkInfo:   tt.net,
			}
			got, ok := fromInstanceTypeInfo(info)
			if !ok {
				t.Fatal("type dropped")
			}
			if got.shape.Pods != tt.want {
				t.Errorf("pods = %d, want %d", got.shape.Pods, tt.want)
			}
		})
	}
}

// Every label of every catalogue type, as the provider derives it from what ec2sim serves (EC2's real-cased GPU
// names such as "Radeon Pro V520", its multi-card network figures), is a valid label value.
func TestSimEveryCatalogueTypeHasValidLabels(t *testing.T) {
	cat := catalog.MustLoad(catalog.DefaultName)
	e := newSimEnvWith(t, ec2sim.InstanceTypesFromCatalog(cat, testRegion, ec2sim.DefaultVMMemoryOverheadPercent), nil)
	e.addNodeClass(nodeClass("default"))
	pool := &apiv1.NodePool{Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
		NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"}}}}}
	types := must[[]*cloudprovider.InstanceType](t, "GetInstanceTypes")(e.provider.GetInstanceTypes(t.Context(), pool))
	if len(types) != len(cat.InstanceTypes) {
		t.Errorf("%d instance types, want the catalogue's %d", len(types), len(cat.InstanceTypes))
	}
	bad := 0
	for _, it := range types {
		for k, v := range it.Labels {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				bad++
				if bad <= 10 {
					t.Errorf("%s: label %s=%q: %s", it.Name, k, v, strings.Join(errs, "; "))
				}
			}
		}
		// The provider and the offline catalogue agree on every label and on max pods.
		want, _ := cat.Lookup(it.Name)
		wantIT := want.ToInstanceType(testRegion, catalog.Options{})
		for k, v := range wantIT.Labels {
			if it.Labels[k] != v {
				t.Errorf("%s: label %s = %q, the catalogue says %q", it.Name, k, it.Labels[k], v)
			}
		}
		if got := it.Capacity[corev1.ResourcePods]; got.Value() != want.Pods {
			t.Errorf("%s: pods %d, want %d", it.Name, got.Value(), want.Pods)
		}
	}
	if bad > 10 {
		t.Errorf("%d invalid label values in all", bad)
	}
	// ec2sim's third zone sells no GPU or metal type; the offerings say so.
	zonesOf := map[string][]string{}
	for _, it := range types {
		for _, o := range it.Offerings {
			if o.CapacityType == apiv1.CapacityTypeOnDemand {
				zonesOf[it.Name] = append(zonesOf[it.Name], o.Zone)
			}
		}
	}
	for name, want := range map[string]int{"p5.48xlarge": 2, "g5.xlarge": 2, "c8g.large": 3, "m5.metal": 2, "m5.large": 3, "m6g.large": 3} {
		if got := len(zonesOf[name]); got != want {
			t.Errorf("%s offered in %v, want %d zones", name, zonesOf[name], want)
		}
	}
}
