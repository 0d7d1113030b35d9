package main

import (
	"strings"
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/utils/clock"

	"github.com/tailor-sh/tailor/internal/ec2sim"
	"github.com/tailor-sh/tailor/internal/ec2sim/ec2simtest"
	"github.com/tailor-sh/tailor/internal/iampolicy"
	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// startEC2Sim serves a simulated region whose EKS knows no cluster of our name (as when the controller may not
// call DescribeCluster, or runs outside EKS) and whose AMIs exist for versions only.
func startEC2Sim(t *testing.T, versions ...string) string {
	t.Helper()
	ec2simtest.IsolateAWSEnv(t)
	cfg := &ec2sim.Config{ClusterName: "someone-else", KubernetesVersions: versions}
	types := []ec2sim.InstanceType{{Name: "m5.large", Arch: "amd64", VCPUs: 2, MemoryMiB: 8192, ENIs: 3, IPsPerENI: 10,
		Offerings: []ec2sim.Offering{{Zone: "us-east-1a", CapacityType: "on-demand", PricePerHour: 0.096}}}}
	sim, err := ec2sim.New(ec2sim.Options{Config: cfg, InstanceTypes: types, Seed: 1, IAMPolicy: iampolicy.Controller})
	if err != nil {
		t.Fatalf("ec2sim.New: %v", err)
	}
	endpoint := ec2simtest.Serve(t, sim)
	return endpoint
}

// The controller's start-up wiring against a real kube-apiserver: without DescribeCluster's answer, the Kubernetes
// version comes from the API server's /version and the CA from the controller's rest config; the endpoint and the
// service CIDR, which only EKS or the flags know, must be given, and start fails naming the flag otherwise.
func TestNewAWSProviderDiscoversFromTheAPIServer(t *testing.T) {
	env := testenv.StartAPIServer(t)
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	serverVersion := info.Major + "." + strings.TrimSuffix(info.Minor, "+")
	endpoint := startEC2Sim(t, serverVersion) // AMIs exist only for the API server's version
	kube := env.DirectClient(t)

	newDeps := func(o operator.Options) *deps {
		o.ClusterName, o.AWSRegion, o.AWSEndpointURL = "prod", "us-east-1", endpoint
		return &deps{opts: &o, clk: clock.RealClock{}, kube: kube, apiReader: kube}
	}
	if _, err := newAWSProvider(t.Context(), newDeps(operator.Options{ClusterEndpoint: "https://api.example", ServiceCIDR: "10.100.0.0/16"}), env.Config); err != nil {
		t.Errorf("newAWSProvider with the endpoint and CIDR flags: %v (version %s and the CA should come from the API server)", err, serverVersion)
	}
	_, err = newAWSProvider(t.Context(), newDeps(operator.Options{}), env.Config)
	for _, want := range []string{"--cluster-endpoint is not set", "--service-cidr is not set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("newAWSProvider without flags = %v, want an error saying %q", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "--kubernetes-version") || strings.Contains(err.Error(), "--cluster-ca-bundle")) {
		t.Errorf("newAWSProvider without flags = %v; the version and CA should have been discovered", err)
	}
	_, err = newAWSProvider(t.Context(), newDeps(operator.Options{ClusterEndpoint: "https://api.example", ServiceCIDR: "10.100.0.0/16", KubernetesVersion: "1.30"}), env.Config)
	if err == nil || !strings.Contains(err.Error(), "--kubernetes-version 1.30: EKS publishes no AMI") {
		t.Errorf("newAWSProvider with a version without AMIs = %v, want it refused", err)
	}
}
