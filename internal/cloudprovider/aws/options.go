package aws

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/tailor-sh/tailor/internal/awshttp"
	"github.com/tailor-sh/tailor/internal/catalog"
)

// Defaults of Options.
const (
	DefaultMaxAttempts             = 10
	DefaultMaxBackoff              = 20 * time.Second
	DefaultInstanceTypesTTL        = 5 * time.Minute
	DefaultPricesTTL               = time.Hour
	DefaultUnavailableOfferingsTTL = 3 * time.Minute
	DefaultVMMemoryOverheadPercent = 0.075
	defaultPricingRegion           = "us-east-1"
	maxFleetOverrides              = 60
	defaultRootVolumeGiB           = 20
	launchTemplateNamePrefix       = "tailor"
)

// Options configure the provider. Region and ClusterName are required; every other field has a default.
type Options struct {
	// Region is the AWS region, such as us-east-1.
	Region string
	// ClusterName names the cluster; it is in every tag that marks an instance as this cluster's.
	ClusterName string
	// ClusterUID identifies this cluster among clusters of the same name in one account (Tailor passes the UID of
	// the kube-system namespace). Set, it is tagged on everything the provider creates (TagClusterUID), and an
	// instance or launch template carrying the cluster's name but another UID is not this cluster's. Empty, ownership
	// is by name alone.
	ClusterUID string
	// EndpointURL, when set, replaces the AWS endpoints of every service (EC2, SSM, SQS, Pricing), for ec2sim.
	EndpointURL string
	// KubernetesVersion, such as "1.35", picks the EKS-optimized AMIs an alias (al2023@latest) resolves to.
	// ClusterEndpoint (https), ClusterCABundle (base64 PEM) and ClusterCIDR (the service CIDR) go into the nodes'
	// user data so the kubelet can join the cluster. Flags set them; DiscoverCluster fills in what they leave out
	// (from EKS, then the API server) and RequireJoinSettings checks that all four are there and usable.
	KubernetesVersion string
	ClusterEndpoint   string
	ClusterCABundle   string
	ClusterCIDR       string
	// MaxAttempts and MaxBackoff tune the SDK's standard retryer: attempts per call (including the first) and the
	// longest wait between two, with exponential backoff and jitter in between. Throttling and 5xx are retried.
	MaxAttempts int
	MaxBackoff  time.Duration
	// InstanceTypesTTL is how long instance types and their zone offerings are cached; PricesTTL the same for spot
	// and on-demand prices; UnavailableOfferingsTTL how long an offering stays out after EC2 had no capacity.
	InstanceTypesTTL        time.Duration
	PricesTTL               time.Duration
	UnavailableOfferingsTTL time.Duration
	// VMMemoryOverheadPercent is the share of advertised memory a node never sees (hypervisor, firmware).
	VMMemoryOverheadPercent float64
	// HTTPClient, when set, carries every AWS request (for a proxy, or for tests that watch the traffic).
	HTTPClient aws.HTTPClient
	// Catalog is the offline price table: on-demand prices for instance types the Pricing API does not price (or
	// when it cannot be reached). Nil loads the embedded catalogue of the region, if there is one.
	Catalog *catalog.Catalog
}

var (
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	clusterNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	k8sVersionRE  = regexp.MustCompile(`^1\.[0-9]+$`)
	clusterUIDRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
)

// Complete checks the options and fills in the defaults.
func (o *Options) Complete() error {
	if err := o.validateIdentity(); err != nil {
		return err
	}
	o.setDefaults()
	if err := o.validateJoinSettings(false); err != nil {
		return err
	}
	if o.MaxAttempts < 1 || o.MaxBackoff < 0 || o.InstanceTypesTTL < 0 || o.PricesTTL < 0 || o.UnavailableOfferingsTTL < 0 {
		return fmt.Errorf("aws retry attempts must be at least 1 and durations must not be negative")
	}
	if o.VMMemoryOverheadPercent < 0 || o.VMMemoryOverheadPercent >= 1 {
		return fmt.Errorf("vm memory overhead %v: must be a fraction in [0, 1), such as 0.075", o.VMMemoryOverheadPercent)
	}
	if o.Catalog == nil {
		for _, name := range catalog.Names() {
			c, err := catalog.Load(name)
			if err == nil && c.Region == o.Region {
				o.Catalog = c
				break
			}
		}
	}
	return nil
}

func (o *Options) validateIdentity() error {
	if !regionRE.MatchString(o.Region) {
		return fmt.Errorf("aws region %q: set --aws-region to a region such as us-east-1", o.Region)
	}
	if !clusterNameRE.MatchString(o.ClusterName) {
		return fmt.Errorf("cluster name %q: set --cluster-name to 1-100 letters, digits, '-', '_' or '.', starting with a letter or digit", o.ClusterName)
	}
	if o.ClusterUID != "" && !clusterUIDRE.MatchString(o.ClusterUID) {
		return fmt.Errorf("cluster uid %q: set --cluster-uid to 1-128 letters, digits, '-', '_', '.' or ':' (such as the kube-system namespace's UID), or leave it empty to use that", o.ClusterUID)
	}
	if o.EndpointURL != "" {
		u, err := url.Parse(o.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("aws endpoint url %q: must be an absolute http(s) URL such as http://127.0.0.1:4566", o.EndpointURL)
		}
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.InstanceTypesTTL == 0 {
		o.InstanceTypesTTL = DefaultInstanceTypesTTL
	}
	if o.PricesTTL == 0 {
		o.PricesTTL = DefaultPricesTTL
	}
	if o.UnavailableOfferingsTTL == 0 {
		o.UnavailableOfferingsTTL = DefaultUnavailableOfferingsTTL
	}
	if o.VMMemoryOverheadPercent == 0 {
		o.VMMemoryOverheadPercent = DefaultVMMemoryOverheadPercent
	}
}

// Clients are the SDK clients the provider uses, behind the narrow interfaces.
type Clients struct {
	EC2     EC2API
	SSM     SSMAPI
	Pricing PricingAPI
	SQS     SQSAPI
	EKS     EKSAPI
}

// NewClients builds the real SDK clients from completed options: credentials from the SDK's default chain
// (environment, shared files, web identity, container and instance roles), the standard retryer with opts'
// attempts and backoff, and opts.EndpointURL in place of the AWS endpoints when set.
func NewClients(ctx context.Context, opts Options) (Clients, error) {
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(opts.Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = opts.MaxAttempts
				so.MaxBackoff = opts.MaxBackoff
			})
		}),
	}
	switch {
	case opts.HTTPClient != nil:
		loadOpts = append(loadOpts, config.WithHTTPClient(opts.HTTPClient))
	case os.Getenv("AWS_CA_BUNDLE") == "":
		// The SDK can add a custom CA bundle only to its own buildable client, which cannot carry awshttp's body
		// wrapper; without a bundle, take the wrapper (see package awshttp).
		loadOpts = append(loadOpts, config.WithHTTPClient(awshttp.Client()))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return Clients{}, fmt.Errorf("loading aws configuration: %w", err)
	}
	if opts.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(opts.EndpointURL)
	}
	pricingRegion := opts.Region
	switch opts.Region {
	case "us-east-1", "eu-central-1", "ap-south-1":
	default:
		// The Pricing API is served from a few regions only; us-east-1 answers for all of them.
		pricingRegion = defaultPricingRegion
	}
	return Clients{
		EC2:     ec2.NewFromConfig(cfg),
		SSM:     ssm.NewFromConfig(cfg),
		Pricing: pricing.NewFromConfig(cfg, func(o *pricing.Options) { o.Region = pricingRegion }),
		SQS:     sqs.NewFromConfig(cfg),
		EKS:     eks.NewFromConfig(cfg),
	}, nil
}
