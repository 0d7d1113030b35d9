package ec2sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a running simulated region: the cloud model, its protocol front ends, the admin API and (with a kube
// client) Node registration.
type Sim struct {
	opts  Options
	cloud *cloud
	json  []*jsonService
	admin http.Handler
	iam   atomic.Pointer[iamEnforcer] // nil when no IAM policy is enforced

	mu  sync.Mutex
	url string
}

// New builds a simulator from options, restoring the state file if there is one.
func New(opts Options) (*Sim, error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}
	c, err := newCloud(&opts)
	if err != nil {
		return nil, err
	}
	s := &Sim{opts: opts, cloud: c, json: jsonServices()}
	if err := s.SetIAMPolicy(opts.IAMPolicy); err != nil {
		return nil, err
	}
	s.admin = s.adminHandler()
	return s, nil
}

// SetEndpoint tells the simulator the URL clients reach it at; queue URLs are built from it. Serve sets it.
func (s *Sim) SetEndpoint(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.url = strings.TrimSuffix(u, "/")
}

func (s *Sim) endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Endpoint is the URL the simulator serves at, once Serve has started.
func (s *Sim) Endpoint() string { return s.endpoint() }

// Region is the simulated region's name.
func (s *Sim) Region() string { return s.cloud.cfg.Region }

// ListenAndServe listens on the configured loopback address and serves until ctx ends. ready, when set, is called
// with the endpoint URL once the listener is open.
func (s *Sim) ListenAndServe(ctx context.Context, ready func(endpoint string)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.SetEndpoint("http://" + ln.Addr().String())
	if ready != nil {
		ready(s.Endpoint())
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln and moves the simulation along every tick until ctx ends; then it stops the
// listener, waits for requests in flight and saves the state.
func (s *Sim) Serve(ctx context.Context, ln net.Listener) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return fmt.Errorf("ec2sim serves only on loopback, not on %s", ln.Addr())
	}
	if s.endpoint() == "" {
		s.SetEndpoint("http://" + ln.Addr().String())
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	ticker := s.opts.Clock.NewTicker(s.opts.Timing.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			err := srv.Shutdown(shutdownCtx)
			if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
				err = errors.Join(err, serr)
			}
			s.cloud.mu.Lock()
			s.cloud.save()
			s.cloud.mu.Unlock()
			return err
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("serving: %w", err)
		case <-ticker.C():
			if err := s.Tick(ctx); err != nil {
				s.opts.Log.Error(err, "ec2sim tick")
			}
		}
	}
}

// ServeHTTP routes a request: /admin/… to the admin API, /clusters/… to EKS, X-Amz-Target to a JSON service, the
// rest to EC2.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/admin/") {
		s.admin.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	rid := s.cloud.requestID()
	if strings.HasPrefix(r.URL.Path, "/clusters/") {
		s.serveEKS(w, r, rid)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, r, target, body, rid)
		return
	}
	s.serveEC2(w, r, body, rid)
}

func (s *Sim) serveEC2(w http.ResponseWriter, r *http.Request, body []byte, rid string) {
	values, err := url.ParseQuery(string(body))
	if err != nil {
		writeEC2Error(w, errBadRequest("MalformedQueryString", "The query string is malformed: %v", err), rid)
		return
	}
	for k, v := range r.URL.Query() {
		values[k] = append(values[k], v...)
	}
	f := form(values)
	if err := s.checkAuth(r, "ec2", false); err != nil {
		writeEC2Error(w, err, rid)
		return
	}
	action := f.str("Action")
	handler, ok := ec2Actions[action]
	if !ok {
		writeEC2Error(w, errBadRequest("InvalidAction", "The action %s is not valid for this web service.", action), rid)
		return
	}
	if err := s.injectFaults(r.Context(), action, "RequestLimitExceeded"); err != nil {
		writeEC2Error(w, err, rid)
		return
	}
	allowed := true
	if iam := s.iam.Load(); iam != nil {
		if denied := iam.authorizeEC2(s.cloud, iam.principalARN(r), action, f); denied != nil {
			handler, allowed = denied, false
		}
	}
	if action == "TerminateInstances" && allowed {
		s.reclaimBeforeTerminate(r.Context(), f.list("InstanceId"))
	}
	resp, err := handler(s.cloud, f, rid)
	if err != nil {
		writeEC2Error(w, asAPIError(err), rid)
		return
	}
	out, err := xml.Marshal(resp)
	if err != nil {
		writeEC2Error(w, asAPIError(fmt.Errorf("encoding %s response: %w", action, err)), rid)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-RequestId", rid)
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(out)))
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func writeEC2Error(w http.ResponseWriter, e *apiError, rid string) {
	out, _ := xml.Marshal(xmlErrorResponse{Code: e.Code, Message: e.Message, RequestID: rid})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-RequestId", rid)
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func (s *Sim) serveJSON(w http.ResponseWriter, r *http.Request, target string, body []byte, rid string) {
	var svc *jsonService
	for _, js := range s.json {
		if strings.HasPrefix(target, js.prefix) {
			svc = js
		}
	}
	if svc == nil {
		writeJSONError(w, nil, &apiError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Sender: true,
			Message: "The operation " + target + " is not known to ec2sim."}, rid)
		return
	}
	if err := s.checkAuth(r, svc.signingName, svc.anyRegion); err != nil {
		writeJSONError(w, svc, exceptionSuffix(err), rid)
		return
	}
	action := strings.TrimPrefix(target, svc.prefix)
	handler, ok := svc.actions[action]
	if !ok {
		writeJSONError(w, svc, &apiError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Sender: true,
			Message: "The operation " + action + " is not supported by ec2sim's " + svc.name + "."}, rid)
		return
	}
	throttle := "ThrottlingException"
	if svc.name == "sqs" {
		throttle = "RequestThrottled"
	}
	if err := s.injectFaults(r.Context(), action, throttle); err != nil {
		writeJSONError(w, svc, err, rid)
		return
	}
	if iam := s.iam.Load(); iam != nil {
		if err := iam.authorizeJSON(svc.name, iam.principalARN(r), action, body); err != nil {
			writeJSONError(w, svc, err, rid)
			return
		}
	}
	resp, err := handler(r.Context(), s, body)
	if err != nil {
		writeJSONError(w, svc, asAPIError(err), rid)
		return
	}
	out, err := json.Marshal(resp)
	if err != nil {
		writeJSONError(w, svc, asAPIError(fmt.Errorf("encoding %s response: %w", action, err)), rid)
		return
	}
	w.Header().Set("Content-Type", svc.contentType)
	w.Header().Set("X-Amzn-RequestId", rid)
	_, _ = w.Write(out)
}

// sqsQueryCodes are the Query-protocol codes SQS reports next to its JSON error types.
var sqsQueryCodes = map[string]string{
	"QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
}

func writeJSONError(w http.ResponseWriter, svc *jsonService, e *apiError, rid string) {
	contentType := "application/x-amz-json-1.1"
	typ := e.Code
	if svc != nil {
		contentType = svc.contentType
		if svc.queryCompatible {
			typ = "com.amazonaws." + svc.name + "#" + e.Code
			queryCode := e.Code
			if qc, ok := sqsQueryCodes[e.Code]; ok {
				queryCode = qc
			}
			fault := "Receiver"
			if e.Status < 500 {
				fault = "Sender"
			}
			w.Header().Set("X-Amzn-Query-Error", queryCode+";"+fault)
		}
	}
	body, _ := json.Marshal(map[string]string{"__type": typ, "message": e.Message})
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", rid)
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// exceptionSuffix names authentication errors as the JSON services do (…Exception).
func exceptionSuffix(e *apiError) *apiError {
	c := *e
	if !strings.HasSuffix(c.Code, "Exception") {
		c.Code += "Exception"
	}
	return &c
}

// ---- authentication ----

var (
	sigV4Pattern = regexp.MustCompile(
		`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request,\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$`)
	amzDatePattern = regexp.MustCompile(`^\d{8}T\d{6}Z$`)
)

// checkAuth requires a well-formed SigV4 Authorization header scoped to this service and (unless anyRegion) this
// region. Any credentials are accepted: the signature's shape is checked, not its value.
func (s *Sim) checkAuth(r *http.Request, service string, anyRegion bool) *apiError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Sender: true,
			Message: "Request is missing Authentication Token"}
	}
	m := sigV4Pattern.FindStringSubmatch(auth)
	if m == nil {
		return &apiError{Status: http.StatusBadRequest, Code: "IncompleteSignature", Sender: true,
			Message: "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' of AWS4-HMAC-SHA256 (SigV4): " + auth}
	}
	date, region, svc, signed := m[2], m[3], m[4], strings.Split(m[5], ";")
	amzDate := r.Header.Get("X-Amz-Date")
	if !amzDatePattern.MatchString(amzDate) || !strings.HasPrefix(amzDate, date) {
		return &apiError{Status: http.StatusBadRequest, Code: "IncompleteSignature", Sender: true,
			Message: "X-Amz-Date must be set as YYYYMMDD'T'HHMMSS'Z' and match the credential scope's date " + date}
	}
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return &apiError{Status: http.StatusBadRequest, Code: "IncompleteSignature", Sender: true,
			Message: "SignedHeaders must include host and x-amz-date"}
	}
	if svc != service {
		return &apiError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Sender: true,
			Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)}
	}
	if !anyRegion && region != s.cloud.cfg.Region {
		return &apiError{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch", Sender: true,
			Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'; ec2sim simulates '%s'.", region, s.cloud.cfg.Region)}
	}
	return nil
}

// ---- faults ----

// injectFaults applies the configured faults to one API call: it waits the added latency and may answer with a
// throttling error (code throttleCode) or a server error instead of the action.
func (s *Sim) injectFaults(ctx context.Context, action, throttleCode string) *apiError {
	latency, kind := s.cloud.apiFault(action)
	if latency > 0 {
		select {
		case <-ctx.Done():
			return &apiError{Status: http.StatusServiceUnavailable, Code: "RequestCanceled", Message: ctx.Err().Error()}
		case <-s.opts.Clock.After(latency):
		}
	}
	switch kind {
	case faultThrottle:
		return &apiError{Status: http.StatusServiceUnavailable, Code: throttleCode, Sender: true,
			Message: "Request limit exceeded."}
	case faultInternal:
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalError",
			Message: "An internal error has occurred (injected by ec2sim)."}
	case faultUnavailable:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "Unavailable",
			Message: "The service is unavailable. Please try again shortly (injected by ec2sim)."}
	}
	return nil
}

type faultKind int

const (
	faultNone faultKind = iota
	faultThrottle
	faultInternal
	faultUnavailable
)

// apiFault draws whether this call fails. Draws come from their own seeded source, so injecting API faults does
// not change instance IDs or placements.
func (c *cloud) apiFault(action string) (time.Duration, faultKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.faults
	if len(f.Actions) > 0 && !slices.Contains(f.Actions, action) {
		return 0, faultNone
	}
	if f.ThrottleRate == 0 && f.ServerErrorRate == 0 {
		return f.Latency.Duration, faultNone
	}
	r := c.faultRNG.Float64()
	switch {
	case r < f.ThrottleRate:
		return f.Latency.Duration, faultThrottle
	case r < f.ThrottleRate+f.ServerErrorRate/2:
		return f.Latency.Duration, faultInternal
	case r < f.ThrottleRate+f.ServerErrorRate:
		return f.Latency.Duration, faultUnavailable
	}
	return f.Latency.Duration, faultNone
}

// requestID is a UUID-shaped ID for the x-amzn-RequestId header and error bodies, derived from the seed and a
// counter so it draws nothing from the simulation's random sources.
func (c *cloud) requestID() string {
	n := c.requests.Add(1)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d/%d", c.seed, n)))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}
