package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/tailor-sh/tailor/internal/catalog"
)

func TestRunServesUntilCancelled(t *testing.T) {
	endpointFile := filepath.Join(t.TempDir(), "endpoint")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := newCommand()
	cmd.SetArgs([]string{"--addr=127.0.0.1:0", "--endpoint-file=" + endpointFile, "--cluster-name=cmdtest",
		"--state-file=" + filepath.Join(t.TempDir(), "state.json")})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	var endpoint string
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		b, err := os.ReadFile(endpointFile)
		endpoint = strings.TrimSpace(string(b))
		return err == nil && endpoint != "", nil
	})
	if err != nil {
		t.Fatalf("no endpoint written: %v", err)
	}
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", endpoint)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/admin/info", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /admin/info: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var info struct {
		ClusterName      string   `json:"clusterName"`
		Queues           []string `json:"queues"`
		InstanceTypes    int      `json:"instanceTypes"`
		NodeRegistration bool     `json:"nodeRegistration"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatalf("decoding /admin/info: %v", err)
	}
	cat := catalog.MustLoad(catalog.DefaultName)
	if info.ClusterName != "cmdtest" || len(info.Queues) != 1 || info.Queues[0] != "cmdtest" ||
		info.InstanceTypes != len(cat.InstanceTypes) || info.NodeRegistration {
		t.Errorf("info %+v: want cluster and queue cmdtest, %d instance types, no node registration", info, len(cat.InstanceTypes))
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("ec2sim did not stop cleanly: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr=0.0.0.0:0"}, "loopback"},
		{[]string{"--catalog=nowhere"}, "unknown catalogue"},
		{[]string{"--throttle-rate=2"}, "throttleRate"},
		{[]string{"--config=/nonexistent/ec2sim.yaml"}, "reading ec2sim config"},
		{[]string{"--iam-policy=/nonexistent/policy.json"}, "reading the IAM policy"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			cmd := newCommand()
			cmd.SetArgs(tc.args)
			err := cmd.ExecuteContext(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}
