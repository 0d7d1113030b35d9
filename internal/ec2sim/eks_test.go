package ec2sim

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/go-cmp/cmp"
)

func TestEKSDescribeCluster(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Config = DefaultConfig("prod")
		o.Config.EKS.Endpoint = "https://127.0.0.1:6443"
		o.Config.EKS.CertificateAuthority = "Q0E="
		withPolicy(t)(o) // the controller's documented policy, which allows its own cluster only
	})
	client := eks.NewFromConfig(h.cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(h.url) })

	out, err := client.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("prod")})
	if err != nil {
		t.Fatalf("DescribeCluster: %v", err)
	}
	c := out.Cluster
	got := []string{aws.ToString(c.Name), aws.ToString(c.Arn), aws.ToString(c.Version), aws.ToString(c.Endpoint),
		aws.ToString(c.CertificateAuthority.Data), aws.ToString(c.KubernetesNetworkConfig.ServiceIpv4Cidr), string(c.Status)}
	want := []string{"prod", "arn:aws:eks:us-east-1:123456789012:cluster/prod", "1.35", "https://127.0.0.1:6443", "Q0E=", "10.100.0.0/16", "ACTIVE"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeCluster (-want +got):\n%s", diff)
	}

	// Another cluster: the policy allows only the controller's own, so IAM refuses before EKS says it does not exist.
	_, err = client.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("other")})
	if code := errorCode(err); code != "AccessDeniedException" {
		t.Errorf("DescribeCluster of another cluster: %v (code %q), want AccessDeniedException", err, code)
	}
	h.sim.iam.Store(nil)
	_, err = client.DescribeCluster(t.Context(), &eks.DescribeClusterInput{Name: aws.String("other")})
	if code := errorCode(err); code != "ResourceNotFoundException" {
		t.Errorf("DescribeCluster of a missing cluster: %v (code %q), want ResourceNotFoundException", err, code)
	}
}
