// Package ec2simtest serves ec2sim to tests of the code that calls it through the real AWS SDK: on loopback, for as
// long as the test runs, with an AWS environment that can reach nothing else.
package ec2simtest

import (
	"context"
	"net"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// IsolateAWSEnv points the SDK's default credential chain at fixed test credentials and away from every file, the
// instance metadata service and any CA bundle (ec2sim speaks plain http), for the rest of the test.
func IsolateAWSEnv(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
}

// Serve serves sim on a free loopback port until the test ends, and returns its endpoint URL. A serve error fails
// the test at its end.
func Serve(t testing.TB, sim *ec2sim.Sim) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for ec2sim: %v", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ec2sim Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// NodeClass is an EC2NodeClass selecting the subnets and security groups ec2sim tags for cluster, the al2023 alias
// and an instance profile: what the simulated region offers a cluster of that name.
func NodeClass(name, cluster string) *apiv1.EC2NodeClass {
	return &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{Tags: map[string]string{ec2sim.DiscoveryTagKey: cluster}}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{ec2sim.DiscoveryTagKey: cluster}}},
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			InstanceProfile:            "tailor-node",
		},
	}
}
