package ec2sim

import (
	"net/http"

	"github.com/tailor-sh/tailor/internal/awshttp"
)

// SDKHTTPClient is the HTTP client to give aws-sdk-go-v2 (aws.Config.HTTPClient) when it talks to ec2sim; see
// package awshttp for why a plain one is not enough on loopback.
func SDKHTTPClient() *http.Client { return awshttp.Client() }
