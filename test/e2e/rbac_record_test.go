package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// apiRequest is what RBAC authorizes a resource request on: the verb, the group, resource and subresource, and the
// namespace and name it names (empty for cluster-scoped objects and for collections).
type apiRequest struct {
	verb, group, resource, subresource, namespace, name string
}

func (r apiRequest) String() string {
	res := r.resource
	if r.subresource != "" {
		res += "/" + r.subresource
	}
	return fmt.Sprintf("%s %s.%s ns=%q name=%q", r.verb, res, r.group, r.namespace, r.name)
}

// requestRecorder is a reverse proxy on loopback between the controller and the API server. It forwards every request
// as the impersonated user and records each resource request the API server did not refuse (401/403), parsed by the
// API server's own RequestInfoFactory, so the verbs it records are the ones RBAC checked.
type requestRecorder struct {
	mu       sync.Mutex
	requests map[apiRequest]int
	parser   *request.RequestInfoFactory
}

// startRequestRecorder starts the proxy and returns the recorder and a kubeconfig file that reaches the API server
// through it. The kubeconfig carries no credentials: the proxy adds the admin's and impersonates user.
func startRequestRecorder(t *testing.T, admin *rest.Config, user string) (*requestRecorder, string) {
	t.Helper()
	cfg := rest.CopyConfig(admin)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	rec := &requestRecorder{
		requests: map[apiRequest]int{},
		parser:   &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")},
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
		},
		Transport:     transport,
		FlushInterval: -1, // watches stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if !errors.Is(err, context.Canceled) { // a watch the controller ended is no error
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				rec.record(resp.Request)
			}
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})

	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["recorder"] = &clientcmdapi.Cluster{Server: srv.URL}
	kubeconfig.AuthInfos["recorder"] = &clientcmdapi.AuthInfo{}
	kubeconfig.Contexts["recorder"] = &clientcmdapi.Context{Cluster: "recorder", AuthInfo: "recorder"}
	kubeconfig.CurrentContext = "recorder"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	return rec, path
}

func (r *requestRecorder) record(req *http.Request) {
	info, err := r.parser.NewRequestInfo(req)
	if err != nil || !info.IsResourceRequest {
		return // discovery and other non-resource URLs: the chart grants none, system:discovery does
	}
	q := apiRequest{verb: info.Verb, group: info.APIGroup, resource: info.Resource,
		subresource: info.Subresource, namespace: info.Namespace, name: info.Name}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[q]++
	// An informer lists by watching (sendInitialEvents, WatchListClient) where the API server streams lists, and falls
	// back to a plain LIST where it does not (servers before WatchList, or with it off): the list is needed too.
	if q.verb == "watch" && req.URL.Query().Get("sendInitialEvents") == "true" {
		q.verb = "list"
		r.requests[q]++
	}
}

func (r *requestRecorder) recorded() []apiRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]apiRequest, 0, len(r.requests))
	for q := range r.requests {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// grant is one verb on one resource of one rule of the chart's ClusterRole or Role: the smallest piece of the chart
// that can be removed.
type grant struct {
	role      string // "ClusterRole" or "Role"
	rule      int    // index in the role's rules
	namespace string // the Role's namespace; empty for the ClusterRole
	group     string
	resource  string // resource or resource/subresource
	verb      string
	names     []string // the rule's resourceNames; empty allows every name
}

func (g grant) String() string {
	s := fmt.Sprintf("%s rule %d grants %s on %s", g.role, g.rule, g.verb, g.resource)
	if g.group != "" {
		s += "." + g.group
	}
	if len(g.names) > 0 {
		s += " " + fmt.Sprint(g.names)
	}
	return s
}

// key names the grant for the allow-list: "<group>/<resource> <verb>".
func (g grant) key() string { return g.group + "/" + g.resource + " " + g.verb }

// allows is RBAC's rule match for one grant: verb, group, resource (with subresource), resourceNames, and, for a Role,
// the namespace.
func (g grant) allows(q apiRequest) bool {
	if g.role == "Role" && q.namespace != g.namespace {
		return false
	}
	res := q.resource
	if q.subresource != "" {
		res += "/" + q.subresource
	}
	return (g.verb == "*" || g.verb == q.verb) && (g.group == "*" || g.group == q.group) &&
		(g.resource == "*" || g.resource == res) && (len(g.names) == 0 || (q.name != "" && contains(g.names, q.name)))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// chartGrants splits the rendered chart's ClusterRole and Role into grants.
func chartGrants(t *testing.T, docs []string) []grant {
	t.Helper()
	var grants []grant
	split := func(role, ns string, rules []rbacv1.PolicyRule) {
		for i, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						grants = append(grants, grant{role: role, rule: i, namespace: ns, group: g, resource: res, verb: v, names: r.ResourceNames})
					}
				}
			}
		}
	}
	for _, doc := range docs {
		switch {
		case strings.Contains(doc, "\nkind: ClusterRole\n"):
			var cr rbacv1.ClusterRole
			if err := yaml.Unmarshal([]byte(doc), &cr); err != nil {
				t.Fatalf("the chart's ClusterRole: %v", err)
			}
			split("ClusterRole", "", cr.Rules)
		case strings.Contains(doc, "\nkind: Role\n"):
			var r rbacv1.Role
			if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
				t.Fatalf("the chart's Role: %v", err)
			}
			split("Role", r.Namespace, r.Rules)
		}
	}
	return grants
}

// unneededGrants returns, for each grant not in allowed, an error when no recorded request needed it: a request needs
// a grant when that grant allows it and no other grant does, so removing the grant would have refused the request.
func unneededGrants(grants []grant, requests []apiRequest, allowed map[string]string) []string {
	var unneeded []string
	for i, g := range grants {
		if _, ok := allowed[g.key()]; ok {
			continue
		}
		needed := false
		for _, q := range requests {
			if !g.allows(q) {
				continue
			}
			alone := true
			for j, other := range grants {
				if j != i && other.allows(q) {
					alone = false
					break
				}
			}
			if alone {
				needed = true
				break
			}
		}
		if !needed {
			unneeded = append(unneeded, fmt.Sprintf("%s but no request the controller made needed it: remove it, or add the path that needs it to the scenario", g))
		}
	}
	return unneeded
}

// TestChartRBACGrantMatching checks the least-privilege rule of TestChartRBACIsEnough on its own: a grant is needed
// only by a request it alone allows.
func TestChartRBACGrantMatching(t *testing.T) {
	pods := grant{role: "ClusterRole", group: "", resource: "pods", verb: "list"}
	podsAgain := grant{role: "ClusterRole", rule: 1, group: "", resource: "pods", verb: "list"}
	status := grant{role: "ClusterRole", group: "", resource: "pods/status", verb: "patch"}
	lease := grant{role: "Role", namespace: "tailor-system", group: "coordination.k8s.io", resource: "leases", verb: "get", names: []string{"leader"}}
	listPods := apiRequest{verb: "list", resource: "pods"}
	patchStatus := apiRequest{verb: "patch", resource: "pods", subresource: "status", namespace: "a", name: "p"}
	getLease := apiRequest{verb: "get", group: "coordination.k8s.io", resource: "leases", namespace: "tailor-system", name: "leader"}
	tests := []struct {
		name     string
		grants   []grant
		requests []apiRequest
		unneeded int
	}{
		{"used", []grant{pods, status}, []apiRequest{listPods, patchStatus}, 0},
		{"unused", []grant{pods, status}, []apiRequest{listPods}, 1},
		{"a subresource is not its resource", []grant{pods}, []apiRequest{patchStatus}, 1},
		{"two rules allow the same request: neither is needed", []grant{pods, podsAgain}, []apiRequest{listPods}, 2},
		{"resourceNames honoured", []grant{lease}, []apiRequest{getLease}, 0},
		{"another name", []grant{lease}, []apiRequest{{verb: "get", group: "coordination.k8s.io", resource: "leases", namespace: "tailor-system", name: "other"}}, 1},
		{"a Role only in its namespace", []grant{lease}, []apiRequest{{verb: "get", group: "coordination.k8s.io", resource: "leases", namespace: "default", name: "leader"}}, 1},
	}
	for _, tt := range tests {
		if got := unneededGrants(tt.grants, tt.requests, nil); len(got) != tt.unneeded {
			t.Errorf("%s: %d unneeded grants %q, want %d", tt.name, len(got), got, tt.unneeded)
		}
	}
	if got := unneededGrants([]grant{pods}, nil, map[string]string{"/pods list": "reason"}); len(got) != 0 {
		t.Errorf("an allow-listed grant was reported: %q", got)
	}
}
