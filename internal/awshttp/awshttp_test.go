package awshttp

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

type recordingTransport struct{ body io.ReadCloser }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.body = req.Body
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// writerToBody is a request body that, like smithy-go's, offers WriteTo.
type writerToBody struct{ *bytes.Reader }

func (writerToBody) Close() error { return nil }

func TestWrapHidesWriteTo(t *testing.T) {
	body := writerToBody{bytes.NewReader([]byte("Action=DescribeInstances"))}
	if _, ok := io.ReadCloser(body).(io.WriterTo); !ok {
		t.Fatal("test body should offer WriteTo")
	}
	rec := &recordingTransport{}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://127.0.0.1:1/", body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Wrap(rec).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.body.(io.WriterTo); ok {
		t.Errorf("the transport still sees WriteTo on the body")
	}
	got, err := io.ReadAll(rec.body)
	if err != nil || string(got) != "Action=DescribeInstances" {
		t.Errorf("body read back %q, %v", got, err)
	}
	if req.Body != io.ReadCloser(body) {
		t.Errorf("the caller's request was modified")
	}
}
