// Package awshttp holds the HTTP transport Tailor gives aws-sdk-go-v2, shared by the AWS provider and the clients
// that talk to ec2sim.
//
// Why it exists: smithy-go (v1.28.9) wraps request bodies in a reader whose WriteTo returns io.EOF once the SDK has
// closed it, and the SDK closes it as soon as the response headers arrive. net/http's transport, after writing a
// body of known length, copies the rest of the body to check it is empty; when that copy goes through WriteTo after
// the SDK's close it gets io.EOF as an error and closes the connection while the SDK is still reading the response.
// Over a long network path the response never arrives that early; on loopback (ec2sim) or a fast VPC endpoint it
// can, and large responses then fail with "use of closed network connection". Hiding WriteTo makes the transport use
// Read, which returns a plain EOF after the close. Nothing else changes.
package awshttp

import (
	"io"
	"net/http"
)

// Client is an HTTP client for aws-sdk-go-v2 (config.WithHTTPClient) over a clone of the default transport.
func Client() *http.Client {
	return &http.Client{Transport: Wrap(http.DefaultTransport.(*http.Transport).Clone())}
}

// Wrap returns a RoundTripper that sends requests through next with their bodies' WriteTo hidden.
func Wrap(next http.RoundTripper) http.RoundTripper { return readOnlyBodies{next: next} }

type readOnlyBodies struct{ next http.RoundTripper }

func (t readOnlyBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		// RoundTrip must not modify the caller's request; a shallow copy with another Body is allowed.
		r := *req
		r.Body = readCloserOnly{req.Body}
		req = &r
	}
	return t.next.RoundTrip(req)
}

// readCloserOnly exposes Read and Close and nothing else, so io.Copy never reaches the wrapped WriteTo.
type readCloserOnly struct{ io.ReadCloser }
