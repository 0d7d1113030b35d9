package aws

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/yaml"

	"github.com/tailor-sh/tailor/internal/ec2sim"
)

// testCAPEM is a self-signed CA certificate in PEM, as a cluster's CA bundle holds.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// testCABundle is testCAPEM in base64, as EKS and the flags carry it.
func testCABundle(t *testing.T) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(testCAPEM(t))
}

type fakeEKS struct {
	out *eks.DescribeClusterOutput
	err error
	in  []string
}

func (f *fakeEKS) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	f.in = append(f.in, aws.ToString(in.Name))
	return f.out, f.err
}

type fakeServerVersion struct {
	info *version.Info
	err  error
}

func (f fakeServerVersion) ServerVersion() (*version.Info, error) { return f.info, f.err }

type fakeSSM struct{ params map[string]string }

func (f fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
}

// Complete used to fill in Kubernetes 1.35, https://127.0.0.1:6443 and 10.100.0.0/16: user data no real node can
// join with. What the flags leave out must be discovered or refused, never invented.
func TestOptionsCompleteInventsNoClusterIdentity(t *testing.T) {
	o := Options{Region: "us-east-1", ClusterName: "prod"}
	if err := o.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got := []string{o.KubernetesVersion, o.ClusterEndpoint, o.ClusterCABundle, o.ClusterCIDR}
	if diff := cmp.Diff([]string{"", "", "", ""}, got); diff != "" {
		t.Errorf("cluster identity after Complete (-want +got):\n%s", diff)
	}
}

func TestDiscoverCluster(t *testing.T) {
	ca := testCABundle(t)
	apiServerCA := testCAPEM(t)
	described := &eks.DescribeClusterOutput{Cluster: &ekstypes.Cluster{
		Version: aws.String("1.34"), Endpoint: aws.String("https://ABC.gr7.us-east-1.eks.amazonaws.com"),
		CertificateAuthority:    &ekstypes.Certificate{Data: aws.String(ca)},
		KubernetesNetworkConfig: &ekstypes.KubernetesNetworkConfigResponse{ServiceIpv4Cidr: aws.String("172.20.0.0/16")},
	}}
	apiServer := fakeServerVersion{info: &version.Info{Major: "1", Minor: "33+"}}
	tests := []struct {
		name  string
		flags Options
		src   ClusterSources
		want  []string // version, endpoint, CA, CIDR
	}{
		{
			name: "everything from EKS",
			src:  ClusterSources{EKS: &fakeEKS{out: described}, APIServer: apiServer, CAData: apiServerCA},
			want: []string{"1.34", "https://ABC.gr7.us-east-1.eks.amazonaws.com", ca, "172.20.0.0/16"},
		},
		{
			name:  "flags win over EKS",
			flags: Options{KubernetesVersion: "1.35", ClusterCIDR: "10.100.0.0/16"},
			src:   ClusterSources{EKS: &fakeEKS{out: described}},
			want:  []string{"1.35", "https://ABC.gr7.us-east-1.eks.amazonaws.com", ca, "10.100.0.0/16"},
		},
		{
			name:  "EKS refused: version and CA from the API server, the rest from flags",
			flags: Options{ClusterEndpoint: "https://api.example", ClusterCIDR: "10.100.0.0/16"},
			src:   ClusterSources{EKS: &fakeEKS{err: errors.New("AccessDeniedException")}, APIServer: apiServer, CAData: apiServerCA},
			want:  []string{"1.33", "https://api.example", base64.StdEncoding.EncodeToString(apiServerCA), "10.100.0.0/16"},
		},
		{
			name: "no sources: nothing invented",
			want: []string{"", "", "", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.flags
			o.Region, o.ClusterName = "us-east-1", "prod"
			o.DiscoverCluster(t.Context(), tt.src)
			got := []string{o.KubernetesVersion, o.ClusterEndpoint, o.ClusterCABundle, o.ClusterCIDR}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("discovered (-want +got):\n%s", diff)
			}
			if f, ok := tt.src.EKS.(*fakeEKS); ok && (len(f.in) != 1 || f.in[0] != "prod") {
				t.Errorf("DescribeCluster calls = %v, want one for prod", f.in)
			}
		})
	}
}

func TestDiscoverClusterSkipsEKSWhenFlagsSayAll(t *testing.T) {
	f := &fakeEKS{err: errors.New("must not be called")}
	o := Options{KubernetesVersion: "1.35", ClusterEndpoint: "https://api", ClusterCABundle: testCABundle(t), ClusterCIDR: "10.100.0.0/16"}
	o.DiscoverCluster(t.Context(), ClusterSources{EKS: f})
	if len(f.in) != 0 {
		t.Errorf("DescribeCluster called %d times although every flag was set", len(f.in))
	}
}

func TestRequireJoinSettings(t *testing.T) {
	ca := testCABundle(t)
	good := Options{KubernetesVersion: "1.35", ClusterEndpoint: "https://api.example", ClusterCABundle: ca, ClusterCIDR: "10.100.0.0/16"}
	published := fakeSSM{params: map[string]string{
		"/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id": "ami-1",
	}}
	tests := []struct {
		name   string
		mutate func(*Options)
		want   []string // substrings of the error; none means no error
	}{
		{name: "all good", mutate: func(*Options) {}},
		{name: "nothing set", mutate: func(o *Options) { *o = Options{} },
			want: []string{"--kubernetes-version is not set", "--cluster-endpoint is not set", "--cluster-ca-bundle is not set", "--service-cidr is not set"}},
		{name: "version not major.minor", mutate: func(o *Options) { o.KubernetesVersion = "v1.35.2" }, want: []string{"--kubernetes-version \"v1.35.2\": must be major.minor"}},
		{name: "no AMIs for the version", mutate: func(o *Options) { o.KubernetesVersion = "1.99" },
			want: []string{"--kubernetes-version 1.99: EKS publishes no AMI for it"}},
		{name: "endpoint not https", mutate: func(o *Options) { o.ClusterEndpoint = "http://api.example" }, want: []string{"--cluster-endpoint \"http://api.example\": must be an https:// URL"}},
		{name: "CA not base64", mutate: func(o *Options) { o.ClusterCABundle = "-----BEGIN CERTIFICATE-----" }, want: []string{"--cluster-ca-bundle: not base64"}},
		{name: "CA not PEM", mutate: func(o *Options) { o.ClusterCABundle = "Q0E=" }, want: []string{"--cluster-ca-bundle: holds no PEM certificate"}},
		{name: "CA PEM but no certificate", mutate: func(o *Options) {
			o.ClusterCABundle = base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
		}, want: []string{"--cluster-ca-bundle: certificate 1 does not parse"}},
		{name: "CIDR does not parse", mutate: func(o *Options) { o.ClusterCIDR = "10.100.0.0" }, want: []string{"--service-cidr: service CIDR \"10.100.0.0\""}},
		{name: "CIDR too small for the DNS address", mutate: func(o *Options) { o.ClusterCIDR = "10.100.0.0/30" }, want: []string{"--service-cidr: service CIDR \"10.100.0.0/30\" is too small"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.mutate(&o)
			err := o.RequireJoinSettings(t.Context(), published)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("RequireJoinSettings: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("RequireJoinSettings accepted %+v", o)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestUserDataCarriesTheClusterIdentity(t *testing.T) {
	ca := testCABundle(t)
	b := bootstrap{
		clusterName: "prod", clusterEndpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com", clusterCABundle: ca,
		clusterCIDR: "172.20.0.0/16", maxPods: 29, evictionHard: map[string]string{"memory.available": "100Mi"},
	}
	t.Run("AL2023", func(t *testing.T) {
		ud, err := userData(AMIFamilyAL2023, b)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := parseMIME(ud)
		if err != nil || len(parts) != 1 {
			t.Fatalf("parts = %v, %v", parts, err)
		}
		var nc nodeConfig
		if err := yaml.Unmarshal([]byte(parts[0].body), &nc); err != nil {
			t.Fatal(err)
		}
		want := nodeConfigCluster{Name: "prod", APIServerEndpoint: b.clusterEndpoint, CertificateAuthority: ca, CIDR: "172.20.0.0/16"}
		if diff := cmp.Diff(want, nc.Spec.Cluster); diff != "" {
			t.Errorf("NodeConfig spec.cluster (-want +got):\n%s", diff)
		}
	})
	t.Run("AL2", func(t *testing.T) {
		ud, err := userData(AMIFamilyAL2, b)
		if err != nil {
			t.Fatal(err)
		}
		want := "/etc/eks/bootstrap.sh 'prod' --apiserver-endpoint 'https://ABC.gr7.us-east-1.eks.amazonaws.com' --b64-cluster-ca '" + ca + "' --dns-cluster-ip '172.20.0.10' "
		if !strings.Contains(ud, want) {
			t.Errorf("AL2 user data lacks %q:\n%s", want, ud)
		}
	})
	t.Run("Bottlerocket", func(t *testing.T) {
		ud, err := userData(AMIFamilyBottlerocket, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`api-server = 'https://ABC.gr7.us-east-1.eks.amazonaws.com'`, `cluster-certificate = '` + ca + `'`, `cluster-dns-ip = '172.20.0.10'`} {
			if !strings.Contains(ud, want) {
				t.Errorf("Bottlerocket settings lack %s:\n%s", want, ud)
			}
		}
	})
}

// Against ec2sim and the documented IAM policy: the controller discovers from EKS what the flags leave out, and the
// result passes the start-up checks, including that EKS publishes AMIs for the version.
func TestSimDiscoverClusterFromEKS(t *testing.T) {
	ca := testCABundle(t)
	cfg := ec2sim.DefaultConfig(testCluster)
	cfg.EKS.Endpoint = "https://ABC.gr7.us-east-1.eks.amazonaws.com"
	cfg.EKS.CertificateAuthority = ca
	cfg.EKS.ServiceIPv4CIDR = "172.20.0.0/16"
	e := newSimEnvConfig(t, cfg, simTypes(), nil)

	o := Options{Region: testRegion, ClusterName: testCluster, ClusterCIDR: "10.100.0.0/16"} // the CIDR flag wins
	o.DiscoverCluster(t.Context(), ClusterSources{EKS: e.clients.EKS, APIServer: fakeServerVersion{info: &version.Info{Major: "1", Minor: "37"}}})
	got := []string{o.KubernetesVersion, o.ClusterEndpoint, o.ClusterCABundle, o.ClusterCIDR}
	if diff := cmp.Diff([]string{"1.35", cfg.EKS.Endpoint, ca, "10.100.0.0/16"}, got); diff != "" {
		t.Errorf("discovered (-want +got):\n%s", diff)
	}
	if err := o.RequireJoinSettings(t.Context(), e.clients.SSM); err != nil {
		t.Errorf("RequireJoinSettings: %v", err)
	}
	// The API server's own version, had EKS not answered, has no AMIs in this region: refused at start.
	o.KubernetesVersion = "1.37"
	if err := o.RequireJoinSettings(t.Context(), e.clients.SSM); err == nil || !strings.Contains(err.Error(), "--kubernetes-version 1.37: EKS publishes no AMI") {
		t.Errorf("RequireJoinSettings with 1.37 = %v, want the AMI check to refuse it", err)
	}
}
