package ec2sim

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	post := func(headers map[string]string, body string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	valid := "AWS4-HMAC-SHA256 Credential=AKID/20260302/us-east-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"no signature", nil, "Action=DescribeInstances", 403, "<Code>MissingAuthenticationToken</Code>"},
		{"not SigV4", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, "Action=DescribeInstances", 400, "<Code>IncompleteSignature</Code>"},
		{"short signature", map[string]string{"Authorization": strings.TrimSuffix(valid, "ef"), "X-Amz-Date": "20260302T100000Z"}, "Action=DescribeInstances", 400, "<Code>IncompleteSignature</Code>"},
		{"date outside the scope", map[string]string{"Authorization": valid, "X-Amz-Date": "20260303T100000Z"}, "Action=DescribeInstances", 400, "<Code>IncompleteSignature</Code>"},
		{"well formed, unknown action", map[string]string{"Authorization": valid, "X-Amz-Date": "20260302T100000Z"}, "Action=LaunchRockets", 400, "<Code>InvalidAction</Code>"},
		{"well formed", map[string]string{"Authorization": valid, "X-Amz-Date": "20260302T100000Z"}, "Action=DescribeAvailabilityZones", 200, "<zoneName>us-east-1a</zoneName>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.headers, tc.body)
			if status != tc.status || !strings.Contains(body, tc.code) || !strings.Contains(body, "equestI") {
				t.Errorf("got %d %s, want %d with %s and a request ID", status, body, tc.status, tc.code)
			}
		})
	}

	// The real SDK, signing for another region or calling an action ec2sim does not serve.
	other := h.cfg.Copy()
	other.Region = "eu-west-1"
	_, err := ec2.NewFromConfig(other, func(o *ec2.Options) { o.BaseEndpoint = aws.String(h.url) }).
		DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if got := errorCode(err); got != "SignatureDoesNotMatch" {
		t.Errorf("wrong region: code %q, want SignatureDoesNotMatch", got)
	}
	_, err = h.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-1"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if got := errorCode(err); got != "InvalidAction" {
		t.Errorf("RunInstances: code %q, want InvalidAction", got)
	}
	_, err = h.ssm.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/x"), Value: aws.String("y")})
	if got := errorCode(err); got != "UnknownOperationException" {
		t.Errorf("SSM PutParameter: code %q, want UnknownOperationException", got)
	}
}

func TestAPIFaults(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		faults   Faults
		ec2Code  string
		ssmCode  string
		zonesErr string
	}{
		{"throttling everything", Faults{ThrottleRate: 1}, "RequestLimitExceeded", "ThrottlingException", "RequestLimitExceeded"},
		{"server errors", Faults{ServerErrorRate: 1}, "5xx", "5xx", "5xx"},
		{"throttling one action", Faults{ThrottleRate: 1, Actions: []string{"DescribeInstances"}}, "RequestLimitExceeded", "", ""},
		{"no faults", Faults{}, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var answer Faults
			if code := h.admin(http.MethodPut, "/admin/faults", tc.faults, &answer); code != http.StatusOK {
				t.Fatalf("PUT /admin/faults: %d", code)
			}
			if diff := cmp.Diff(tc.faults, answer); diff != "" {
				t.Errorf("faults in force (-want +got):\n%s", diff)
			}
			classify := func(err error) string {
				c := errorCode(err)
				if c == "InternalError" || c == "Unavailable" {
					return "5xx"
				}
				return c
			}
			_, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
			if got := classify(err); got != tc.ec2Code {
				t.Errorf("DescribeInstances: %q, want %q", got, tc.ec2Code)
			}
			_, err = h.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
			if got := classify(err); got != tc.zonesErr {
				t.Errorf("DescribeAvailabilityZones: %q, want %q", got, tc.zonesErr)
			}
			_, err = h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/eks/optimized-ami/1.34/amazon-linux-2-arm64/recommended/image_id")})
			if got := classify(err); got != tc.ssmCode {
				t.Errorf("GetParameter: %q, want %q", got, tc.ssmCode)
			}
		})
	}

	// The SDK's own retryer gets through a half-throttled API.
	if code := h.admin(http.MethodPut, "/admin/faults", Faults{ThrottleRate: 0.5}, nil); code != http.StatusOK {
		t.Fatalf("PUT /admin/faults: %d", code)
	}
	retrying := h.cfg.Copy()
	retrying.RetryMaxAttempts = 20
	client := ec2.NewFromConfig(retrying, func(o *ec2.Options) { o.BaseEndpoint = aws.String(h.url) })
	for range 5 {
		if _, err := client.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{}); err != nil {
			t.Errorf("with retries: %v", err)
		}
	}

	var bad map[string]string
	if code := h.admin(http.MethodPut, "/admin/faults", map[string]any{"throttleRate": 2}, &bad); code != http.StatusBadRequest ||
		!strings.Contains(bad["error"], "throttleRate") {
		t.Errorf("a rate above 1: %d %v, want 400 naming throttleRate", code, bad)
	}
}

func TestAddedLatency(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Faults.Latency = metav1.Duration{Duration: 5 * time.Second} })
	done := make(chan error, 1)
	go func() {
		_, err := h.ec2.DescribeAvailabilityZones(t.Context(), &ec2.DescribeAvailabilityZonesInput{})
		done <- err
	}()
	for !h.clock.HasWaiters() {
		time.Sleep(time.Millisecond) // waiting for the request to park on the fake clock, not for simulated time
	}
	select {
	case err := <-done:
		t.Fatalf("the call returned before the added latency passed: %v", err)
	default:
	}
	h.clock.Step(5 * time.Second)
	if err := <-done; err != nil {
		t.Errorf("after the latency: %v", err)
	}
}

func TestCapacityThroughAdmin(t *testing.T) {
	h := newHarness(t, nil)
	lt := h.launchTemplate("lt-default", "x86_64", "")
	rule := CapacityRule{InstanceType: "m5.*", Zone: "us-east-1a", CapacityType: "spot", Capacity: 1}
	var rules []CapacityRule
	if code := h.admin(http.MethodPost, "/admin/capacity", rule, &rules); code != http.StatusOK {
		t.Fatalf("POST /admin/capacity: %d", code)
	}
	if diff := cmp.Diff([]CapacityRule{rule}, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	out := h.fleet(lt, "spot", 2, [2]string{"m5.large", "us-east-1a"})
	launched, errs := placement(h, out)
	if diff := cmp.Diff([]string{"m5.large us-east-1a spot x1"}, launched); diff != "" {
		t.Errorf("launched (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"m5.large us-east-1a InsufficientInstanceCapacity"}, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	// Terminating the instance frees its place in the pool.
	if _, err := h.ec2.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: launchedIDs(out)}); err != nil {
		t.Fatalf("TerminateInstances: %v", err)
	}
	h.step(5 * time.Second)
	if ids := launchedIDs(h.fleet(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"})); len(ids) != 1 {
		t.Errorf("after termination the pool should have room again, launched %v", ids)
	}
	var list []AdminInstance
	if code := h.admin(http.MethodGet, "/admin/instances", nil, &list); code != http.StatusOK || len(list) != 2 {
		t.Errorf("GET /admin/instances: %d with %d instances, want 2", code, len(list))
	}
	var bad map[string]string
	if code := h.admin(http.MethodPut, "/admin/capacity", []map[string]any{{"capacityType": "reserved", "capacity": 1}}, &bad); code != http.StatusBadRequest {
		t.Errorf("bad capacity type: %d %v, want 400", code, bad)
	}
}

func TestPricingGetProducts(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	out, err := h.pricing.GetProducts(ctx, &pricing.GetProductsInput{
		ServiceCode: aws.String("AmazonEC2"),
		Filters: []pricingtypes.Filter{
			{Field: aws.String("instanceType"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("m5.xlarge")},
			{Field: aws.String("regionCode"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("us-east-1")},
			{Field: aws.String("operatingSystem"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("Linux")},
			{Field: aws.String("tenancy"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("Shared")},
			{Field: aws.String("capacitystatus"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("Used")},
			{Field: aws.String("preInstalledSw"), Type: pricingtypes.FilterTypeTermMatch, Value: aws.String("NA")},
		},
	})
	if err != nil {
		t.Fatalf("GetProducts: %v", err)
	}
	if len(out.PriceList) != 1 {
		t.Fatalf("got %d products, want 1", len(out.PriceList))
	}
	if got := onDemandUSD(t, out.PriceList[0]); got != "0.1920000000" {
		t.Errorf("m5.xlarge on-demand price %s, want 0.1920000000", got)
	}

	var all int
	p := pricing.NewGetProductsPaginator(h.pricing, &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2"), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetProducts page: %v", err)
		}
		all += len(page.PriceList)
	}
	if all != len(testTypes()) {
		t.Errorf("paginated %d products, want %d", all, len(testTypes()))
	}
	_, err = h.pricing.GetProducts(ctx, &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2"),
		Filters: []pricingtypes.Filter{{Field: aws.String("instanceType"), Type: "FUZZY", Value: aws.String("m5")}}})
	if got := errorCode(err); got != "ValidationException" {
		t.Errorf("bad filter type: code %q", got)
	}
}

// onDemandUSD reads the hourly USD price from a Pricing API product document.
func onDemandUSD(t *testing.T, doc string) string {
	t.Helper()
	var p struct {
		Terms struct {
			OnDemand map[string]struct {
				PriceDimensions map[string]struct {
					PricePerUnit map[string]string `json:"pricePerUnit"`
				} `json:"priceDimensions"`
			} `json:"OnDemand"`
		} `json:"terms"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("product document: %v", err)
	}
	for _, term := range p.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			return dim.PricePerUnit["USD"]
		}
	}
	return ""
}

func TestStateSurvivesRestart(t *testing.T) {
	stateFile := filepath.Join(t.TempDir(), "state.json")
	withState := func(o *Options) { o.StateFile = stateFile }

	// A simulator that never restarts, for comparison.
	steady := newHarness(t, nil)
	steadyLT := steady.launchTemplate("lt-default", "x86_64", "")
	steadyFirst := launchedIDs(steady.fleet(steadyLT, "spot", 2, [2]string{"m5.large", "us-east-1a"}))
	steady.step(2 * time.Second)
	if code := steady.admin(http.MethodPost, "/admin/instances/"+steadyFirst[0]+"/rebalance", nil, nil); code != http.StatusOK {
		t.Fatalf("rebalance: %d", code)
	}
	steadyNext := launchedIDs(steady.fleet(steadyLT, "spot", 1, [2]string{"m5.large", "us-east-1a"}))

	first := newHarness(t, withState)
	lt := first.launchTemplate("lt-default", "x86_64", "")
	before := launchedIDs(first.fleet(lt, "spot", 2, [2]string{"m5.large", "us-east-1a"}))
	first.step(2 * time.Second)
	if code := first.admin(http.MethodPut, "/admin/faults", Faults{NeverRegisterRate: 0.5}, nil); code != http.StatusOK {
		t.Fatalf("PUT /admin/faults: %d", code)
	}
	if code := first.admin(http.MethodPut, "/admin/faults", Faults{}, nil); code != http.StatusOK {
		t.Fatalf("PUT /admin/faults: %d", code)
	}
	if code := first.admin(http.MethodPost, "/admin/instances/"+before[0]+"/rebalance", nil, nil); code != http.StatusOK {
		t.Fatalf("rebalance: %d", code)
	}

	second := newHarness(t, withState)
	out, err := second.ec2.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}},
	})
	if err != nil {
		t.Fatalf("DescribeInstances after restart: %v", err)
	}
	var after []string
	for _, r := range out.Reservations {
		after = append(after, aws.ToString(r.Instances[0].InstanceId))
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("running instances after restart (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"EC2 Instance Rebalance Recommendation " + before[0]}, second.drain()); diff != "" {
		t.Errorf("queued messages after restart (-want +got):\n%s", diff)
	}
	// The random sequence carries on where it stopped: the next instance has the ID it would have had without
	// the restart.
	next := launchedIDs(second.fleet(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"}))
	if diff := cmp.Diff(steadyNext, next); diff != "" {
		t.Errorf("next instance ID after restart (-steady +restarted):\n%s", diff)
	}
	third := newHarness(t, withState)
	if n := len(third.sim.Instances()); n != 3 {
		t.Errorf("%d instances after a second restart, want 3", n)
	}
}
