package ec2sim

import (
	"io"
	"net/http"
)

// SDKHTTPClient is the HTTP client to give aws-sdk-go-v2 (aws.Config.HTTPClient) when it talks to ec2sim.
//
// Why: smithy-go (v1.28.9) wraps request bodies in a reader whose WriteTo returns io.EOF once the SDK has closed
// it, and the SDK closes it as soon as the response headers arrive. net/http's transport, after writing a body of
// known length, copies the rest of the body to check it is empty; when that copy goes through WriteTo after the
// SDK's close it gets io.EOF as an error and closes the connection — while the SDK is still reading the response.
// Over a real network the response never arrives that early; on loopback it does, and large responses then fail
// with "use of closed network connection". Hiding WriteTo makes the transport use Read, which returns a plain EOF
// after the close. Nothing else changes.
func SDKHTTPClient() *http.Client {
	return &http.Client{Transport: readOnlyBodies{next: http.DefaultTransport.(*http.Transport).Clone()}}
}

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
