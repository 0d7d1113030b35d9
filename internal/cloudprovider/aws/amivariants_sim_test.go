package aws

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// acceleratedTypes add to simTypes an NVIDIA GPU type of each architecture, an AMD GPU type, and the two AWS
// Neuron (Inferentia, Trainium) families.
func acceleratedTypes() []ec2sim.InstanceType {
	onDemand := func(price float64) []ec2sim.Offering {
		return []ec2sim.Offering{{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: price}}
	}
	return append(simTypes(),
		ec2sim.InstanceType{Name: "g5.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, GPUs: 1, GPUName: "A10G",
			GPUManufacturer: "nvidia", GPUMemoryMiB: 24576, ENIs: 4, IPsPerENI: 15, Offerings: onDemand(1.006)},
		ec2sim.InstanceType{Name: "g5g.xlarge", Arch: "arm64", VCPUs: 4, MemoryMiB: 8192, GPUs: 1, GPUName: "T4g",
			GPUManufacturer: "nvidia", GPUMemoryMiB: 16384, ENIs: 4, IPsPerENI: 15, Offerings: onDemand(0.42)},
		ec2sim.InstanceType{Name: "g4ad.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, GPUs: 1, GPUName: "Radeon Pro V520",
			GPUManufacturer: "amd", GPUMemoryMiB: 8192, ENIs: 2, IPsPerENI: 4, Offerings: onDemand(0.379)},
		ec2sim.InstanceType{Name: "inf2.xlarge", Arch: "amd64", VCPUs: 4, MemoryMiB: 16384, ENIs: 4, IPsPerENI: 15, Offerings: onDemand(0.758)},
		ec2sim.InstanceType{Name: "trn1.2xlarge", Arch: "amd64", VCPUs: 8, MemoryMiB: 32768, ENIs: 4, IPsPerENI: 15, Offerings: onDemand(1.34)},
	)
}

// launchedImageName launches one instance of typ and returns the name of the AMI it booted.
func (e *simEnv) launchedImageName(claim string, typ string) string {
	e.t.Helper()
	nc, err := e.provider.Create(e.t.Context(), testNodeClaim(claim, "1", requirement(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpIn, typ)))
	if err != nil {
		e.t.Fatalf("Create %s: %v", typ, err)
	}
	if nc.Labels[apiv1.InstanceTypeLabelKey] != typ {
		e.t.Fatalf("launched %s, want %s", nc.Labels[apiv1.InstanceTypeLabelKey], typ)
	}
	out, err := e.clients.EC2.DescribeInstances(e.t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{instanceIDOf(e.t, nc)}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		e.t.Fatalf("describing the instance of %s: %v", typ, err)
	}
	image := aws.ToString(out.Reservations[0].Instances[0].ImageId)
	if image != nc.Status.ImageID {
		e.t.Errorf("%s: EC2 booted %s, the NodeClaim says %s", typ, image, nc.Status.ImageID)
	}
	for _, ami := range e.statusAMIs("default") {
		if ami.ID == image {
			return ami.Name
		}
	}
	e.t.Fatalf("%s booted %s, which is not in the node class's status", typ, image)
	return ""
}

func (e *simEnv) statusAMIs(name string) []apiv1.AMI {
	e.t.Helper()
	nc, err := e.provider.nodeClass(e.t.Context(), name)
	if err != nil {
		e.t.Fatalf("node class %s: %v", name, err)
	}
	return nc.Status.AMIs
}

func TestSimAL2023AliasPicksTheAMIVariantPerInstanceType(t *testing.T) {
	e := newSimEnvWith(t, acceleratedTypes(), nil)
	e.addNodeClass(nodeClass("default"))
	tests := []struct{ typ, wantVariant string }{
		{"m5.large", "x86_64-standard"},
		{"c6g.large", "arm64-standard"},
		{"g5.xlarge", "x86_64-nvidia"},
		{"g5g.xlarge", "arm64-nvidia"},
		{"g4ad.xlarge", "x86_64-standard"}, // AMD GPUs take the standard AMI, as on EKS
		{"inf2.xlarge", "x86_64-neuron"},
		{"trn1.2xlarge", "x86_64-neuron"},
	}
	for i, tt := range tests {
		name := e.launchedImageName("nc-"+string(rune('a'+i)), tt.typ)
		if !strings.Contains(name, "-"+tt.wantVariant+"-") {
			t.Errorf("%s booted %s, want the al2023 %s AMI", tt.typ, name, tt.wantVariant)
		}
	}
}

func TestSimGPUExampleResolvesTheNVIDIAVariant(t *testing.T) {
	data, err := os.ReadFile("../../../examples/gpu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var nc *apiv1.EC2NodeClass
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.Contains("\n"+doc+"\n", "\nkind: EC2NodeClass\n") {
			nc = &apiv1.EC2NodeClass{}
			if err := yaml.UnmarshalStrict([]byte(doc), nc); err != nil {
				t.Fatalf("examples/gpu.yaml EC2NodeClass: %v", err)
			}
		}
	}
	if nc == nil {
		t.Fatal("examples/gpu.yaml has no EC2NodeClass")
	}
	// The example's discovery tags name its demo cluster; point them at the simulated one.
	nc.Name = "default"
	nc.Spec.SubnetSelectorTerms = nodeClass("default").Spec.SubnetSelectorTerms
	nc.Spec.SecurityGroupSelectorTerms = nodeClass("default").Spec.SecurityGroupSelectorTerms
	e := newSimEnvWith(t, acceleratedTypes(), nil)
	e.addNodeClass(nc)
	if name := e.launchedImageName("gpu-1", "g5.xlarge"); !strings.Contains(name, "-nvidia-") {
		t.Errorf("examples/gpu.yaml's class boots %s on a g5.xlarge, want the NVIDIA variant", name)
	}
}

// A NodeClaim that allows a plain type and a GPU type launches one fleet with a launch template per AMI: each
// override boots the AMI its type needs, whichever EC2 picks.
func TestSimOneFleetMixesAMIVariants(t *testing.T) {
	e := newSimEnvWith(t, acceleratedTypes(), nil)
	e.addNodeClass(nodeClass("default"))
	claim := testNodeClaim("mixed", "1", requirement(apiv1.InstanceTypeLabelKey, corev1.NodeSelectorOpIn, "m5.large", "g5.xlarge"),
		requirement(apiv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, apiv1.CapacityTypeOnDemand))
	if _, err := e.provider.Create(t.Context(), claim); err != nil {
		t.Fatalf("Create: %v", err)
	}
	out, err := e.clients.EC2.DescribeLaunchTemplates(t.Context(), &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatalf("DescribeLaunchTemplates: %v", err)
	}
	names := map[string]string{}
	for _, ami := range e.statusAMIs("default") {
		names[ami.ID] = ami.Name
	}
	var variants []string
	for _, lt := range out.LaunchTemplates {
		name := names[fromEC2Tags(lt.Tags)[TagAMI]]
		for _, v := range []string{"standard", "nvidia", "neuron"} {
			if strings.Contains(name, "-x86_64-"+v+"-") {
				variants = append(variants, v)
			}
		}
	}
	slices.Sort(variants)
	if diff := cmp.Diff([]string{"nvidia", "standard"}, variants); diff != "" {
		t.Errorf("AMI variants of the fleet's launch templates (-want +got):\n%s", diff)
	}
}
