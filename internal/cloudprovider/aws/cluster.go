package aws

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"k8s.io/apimachinery/pkg/version"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// ServerVersion is the API server's /version, as client-go's discovery client reads it.
type ServerVersion interface {
	ServerVersion() (*version.Info, error)
}

// ClusterSources are where DiscoverCluster looks for what the flags left out. A nil or empty source is skipped.
type ClusterSources struct {
	// EKS answers DescribeCluster for the cluster name: version, endpoint, CA and service CIDR.
	EKS EKSAPI
	// APIServer is the API server the controller talks to, for its version.
	APIServer ServerVersion
	// CAData is the PEM CA bundle the controller trusts that API server with (its rest config; in a pod, the
	// service account's ca.crt, which is what kube-root-ca.crt publishes).
	CAData []byte
}

// DiscoverCluster fills in the join settings (version, endpoint, CA, service CIDR) the options leave empty: first from EKS DescribeCluster, then the
// version from the API server's /version and the CA from the controller's own trust. What the options already
// hold (the flags) is kept. A source that fails is logged and skipped; RequireJoinSettings then names what is
// still missing and the flag that sets it.
func (o *Options) DiscoverCluster(ctx context.Context, src ClusterSources) {
	logger := log.FromContext(ctx)
	if src.EKS != nil && o.joinSettingsIncomplete() {
		out, err := src.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(o.ClusterName)})
		switch {
		case err != nil:
			logger.Info("could not describe the EKS cluster; the flags and the API server must say how nodes join",
				"cluster", o.ClusterName, "error", err.Error())
		case out.Cluster != nil:
			c := out.Cluster
			o.KubernetesVersion = firstSet(o.KubernetesVersion, aws.ToString(c.Version))
			o.ClusterEndpoint = firstSet(o.ClusterEndpoint, aws.ToString(c.Endpoint))
			if c.CertificateAuthority != nil {
				o.ClusterCABundle = firstSet(o.ClusterCABundle, aws.ToString(c.CertificateAuthority.Data))
			}
			if n := c.KubernetesNetworkConfig; n != nil {
				o.ClusterCIDR = firstSet(o.ClusterCIDR, aws.ToString(n.ServiceIpv4Cidr), aws.ToString(n.ServiceIpv6Cidr))
			}
		}
	}
	if o.KubernetesVersion == "" && src.APIServer != nil {
		info, err := src.APIServer.ServerVersion()
		if err != nil {
			logger.Info("could not read the API server's version", "error", err.Error())
		} else {
			// Some distributions mark the minor with a '+' ("35+").
			o.KubernetesVersion = info.Major + "." + strings.TrimSuffix(info.Minor, "+")
		}
	}
	if o.ClusterCABundle == "" && len(src.CAData) > 0 {
		o.ClusterCABundle = base64.StdEncoding.EncodeToString(src.CAData)
	}
}

func (o *Options) joinSettingsIncomplete() bool {
	return o.KubernetesVersion == "" || o.ClusterEndpoint == "" || o.ClusterCABundle == "" || o.ClusterCIDR == ""
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// RequireJoinSettings checks that the Kubernetes version, endpoint, CA bundle and service CIDR are all set and
// usable by a node joining the cluster, and that EKS publishes AL2023 AMIs for the version (through ssm; nil skips
// that check). Every problem names the flag that fixes it.
func (o *Options) RequireJoinSettings(ctx context.Context, ssmAPI SSMAPI) error {
	if err := o.validateJoinSettings(true); err != nil {
		return err
	}
	if ssmAPI == nil {
		return nil
	}
	name := fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/x86_64/standard/recommended/image_id", o.KubernetesVersion)
	_, err := ssmAPI.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var notFound *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("--kubernetes-version %s: EKS publishes no AMI for it (SSM parameter %s does not exist): set --kubernetes-version to the cluster's version, such as 1.35", o.KubernetesVersion, name)
	case err != nil:
		// Not a verdict on the version: the AMI aliases will report it on the node classes if it persists.
		log.FromContext(ctx).Info("could not check that EKS publishes AMIs for the Kubernetes version", "version", o.KubernetesVersion, "error", err.Error())
	}
	return nil
}

// validateJoinSettings checks the join settings that are set; with required, an empty one is an
// error too.
func (o *Options) validateJoinSettings(required bool) error {
	var errs []error
	missing := func(flag, what string) {
		if required {
			errs = append(errs, fmt.Errorf("%s is not set and could not be discovered (EKS DescribeCluster, the API server): set it to %s", flag, what))
		}
	}
	if o.KubernetesVersion == "" {
		missing("--kubernetes-version", "the cluster's Kubernetes version, such as 1.35")
	} else if !k8sVersionRE.MatchString(o.KubernetesVersion) {
		errs = append(errs, fmt.Errorf("--kubernetes-version %q: must be major.minor such as 1.35", o.KubernetesVersion))
	}
	if o.ClusterEndpoint == "" {
		missing("--cluster-endpoint", "the API server URL nodes join (aws eks describe-cluster --query cluster.endpoint)")
	} else if u, err := url.Parse(o.ClusterEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--cluster-endpoint %q: must be an https:// URL such as https://ABC123.gr7.us-east-1.eks.amazonaws.com", o.ClusterEndpoint))
	}
	if o.ClusterCABundle == "" {
		missing("--cluster-ca-bundle", "the base64 PEM CA of the API server (aws eks describe-cluster --query cluster.certificateAuthority.data)")
	} else if err := checkCABundle(o.ClusterCABundle); err != nil {
		errs = append(errs, fmt.Errorf("--cluster-ca-bundle: %w; use the base64 of the PEM CA certificate (aws eks describe-cluster --query cluster.certificateAuthority.data)", err))
	}
	if o.ClusterCIDR == "" {
		missing("--service-cidr", "the cluster's service CIDR, such as 10.100.0.0/16 (aws eks describe-cluster --query cluster.kubernetesNetworkConfig.serviceIpv4Cidr)")
	} else if _, err := clusterDNSIP(o.ClusterCIDR); err != nil {
		errs = append(errs, fmt.Errorf("--service-cidr: %w; use the cluster's service CIDR, such as 10.100.0.0/16", err))
	}
	return errors.Join(errs...)
}

// checkCABundle checks that bundle is base64 of PEM holding at least one certificate, each of which parses.
func checkCABundle(bundle string) error {
	data, err := base64.StdEncoding.DecodeString(bundle)
	if err != nil {
		return fmt.Errorf("not base64: %w", err)
	}
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %w", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no PEM certificate")
	}
	return nil
}
