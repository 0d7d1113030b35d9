package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/tailor-sh/tailor/internal/operator"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// chartValueSets are the installations the chart must render into objects the real API server accepts.
var chartValueSets = map[string][]string{
	"minimal": {"clusterName=demo"},
	"production": {
		"clusterName=prod-cluster", "clusterEndpoint=https://ABCD.gr7.us-east-1.eks.amazonaws.com",
		"interruptionQueue=prod-cluster", "aws.region=us-east-1", "replicas=3",
		"serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/TailorController",
		"image.digest=sha256:" + strings.Repeat("ab", 32),
	},
	"ec2sim": {
		"clusterName=demo", "aws.endpointURL=http://127.0.0.1:4566", "logLevel=debug",
		"batching.idleDuration=500ms", "batching.maxDuration=5s",
	},
	"external-service-account": {"clusterName=demo", "serviceAccount.create=false", "serviceAccount.name=tailor-irsa"},
	"service-monitor":          {"clusterName=demo", "metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.additionalLabels.release=prom"},
}

// TestHelmChart lints the chart, renders it with several value sets and has the real API server validate every
// rendered object with a server-side dry run.
func TestHelmChart(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "charts", "tailor")
	helm := filepath.Join(root, "bin", "helm")
	kubectl := filepath.Join(root, "bin", "kubectl")
	installServiceMonitorCRD(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)

	if out, err := exec.CommandContext(t.Context(), helm, "lint", "--strict", chart, "--set", "clusterName=demo").CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	for name, values := range chartValueSets {
		t.Run(name, func(t *testing.T) {
			ns := createNamespace(t, cs, "chart-"+name)
			args := []string{"template", "tailor", chart, "--namespace", ns, "--include-crds"}
			for _, v := range values {
				args = append(args, "--set", v)
			}
			rendered, err := exec.CommandContext(t.Context(), helm, args...).Output()
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, stderr(err))
			}
			for _, kind := range []string{"Deployment", "ServiceAccount", "ClusterRole", "Role", "PodDisruptionBudget", "Service", "CustomResourceDefinition"} {
				if kind == "ServiceAccount" && name == "external-service-account" {
					continue
				}
				if !bytes.Contains(rendered, []byte("\nkind: "+kind+"\n")) {
					t.Errorf("rendered chart has no %s", kind)
				}
			}
			if name == "service-monitor" && !bytes.Contains(rendered, []byte("kind: ServiceMonitor")) {
				t.Errorf("serviceMonitor.enabled=true rendered no ServiceMonitor")
			}
			if name == "external-service-account" && bytes.Contains(rendered, []byte("\nkind: ServiceAccount\n")) {
				t.Errorf("serviceAccount.create=false still rendered a ServiceAccount")
			}
			cmd := exec.CommandContext(t.Context(), kubectl, "--kubeconfig", env.KubeconfigPath, "apply",
				"--server-side", "--dry-run=server", "--namespace", ns, "-f", "-")
			cmd.Stdin = bytes.NewReader(rendered)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the API server rejected the rendered chart: %v\n%s", err, out)
			}
		})
	}
}

// TestHelmChartRejectsBadValues checks bad values fail rendering with a message naming the value and the fix.
func TestHelmChartRejectsBadValues(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "charts", "tailor")
	helm := filepath.Join(root, "bin", "helm")
	cases := map[string]struct {
		values []string
		want   string
	}{
		"no cluster name":    {nil, "clusterName is required"},
		"bad log level":      {[]string{"clusterName=demo", "logLevel=verbose"}, "/logLevel"},
		"replicas as text":   {[]string{"clusterName=demo", "replicas=two"}, "/replicas"},
		"endpoint not https": {[]string{"clusterName=demo", "clusterEndpoint=http://insecure"}, "/clusterEndpoint"},
		"unknown aws value":  {[]string{"clusterName=demo", "aws.regoin=us-east-1"}, "regoin"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "tailor", chart}
			for _, v := range tc.values {
				args = append(args, "--set", v)
			}
			out, err := exec.CommandContext(t.Context(), helm, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.values)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("error does not mention %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestHelmChartCRDsMatchGenerated keeps charts/tailor/crds identical to config/crd (make generate copies them).
func TestHelmChartCRDsMatchGenerated(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	generated, err := filepath.Glob(filepath.Join(root, "config", "crd", "*.yaml"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("no generated CRDs in config/crd (%v)", err)
	}
	inChart, err := filepath.Glob(filepath.Join(root, "charts", "tailor", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inChart) != len(generated) {
		t.Errorf("chart has %d CRDs, config/crd has %d: run make generate", len(inChart), len(generated))
	}
	for _, g := range generated {
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join(root, "charts", "tailor", "crds", filepath.Base(g)))
		if err != nil || !bytes.Equal(want, got) {
			t.Errorf("charts/tailor/crds/%s differs from config/crd (run make generate)", filepath.Base(g))
		}
	}
}

// installServiceMonitorCRD stands in for the Prometheus Operator's CRD, enough for the API server to accept a
// ServiceMonitor in a dry run.
func installServiceMonitorCRD(t *testing.T) {
	t.Helper()
	client := apiextensionsclient.NewForConfigOrDie(env.Config)
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "servicemonitors", Singular: "servicemonitor", Kind: "ServiceMonitor", ListKind: "ServiceMonitorList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
	_, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(t.Context(), crd, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("installing the ServiceMonitor CRD: %v", err)
	}
	waitForCRD(t, client, crd.Name)
}

func waitForCRD(t *testing.T, client apiextensionsclient.Interface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for CRD %s: %v", name, err)
	}
}

func stderr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// chartFlagsNotExposed are the controller flags the chart deliberately does not offer, with the reason.
var chartFlagsNotExposed = map[string]string{
	"kubeconfig":         "in a pod the controller uses its service account's in-cluster configuration",
	"cloud-provider":     "aws is the only provider; the chart passes it",
	"pprof-bind-address": "a debugging endpoint, off in production; `kubectl set args` or TAILOR_PPROF_BIND_ADDRESS turns it on",
}

// TestHelmChartExposesControllerFlags renders the chart with its defaults and with every tuning value set, and
// checks that each `tailor controller` flag is either rendered or deliberately left out, and that the rendered
// arguments parse and pass the controller's own validation: a flag added to the controller without a chart value
// (or a chart default the controller refuses) fails here, not in a user's cluster.
func TestHelmChartExposesControllerFlags(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "charts", "tailor")
	helm := filepath.Join(root, "bin", "helm")
	cases := map[string][]string{
		"defaults": {"clusterName=demo"},
		"tuned": {
			"clusterName=demo", "clusterEndpoint=https://ABCD.gr7.us-east-1.eks.amazonaws.com", "aws.region=us-east-1",
			"aws.endpointURL=http://127.0.0.1:4566", "interruptionQueue=demo", "clusterUID=0b5e3c1d-7f0e-4c1a-9d7e-2f8a6b4c1e90", "disruption.nodeRepair=false", "disruption.nodeRepairToleration=10m",
			"disruption.consolidationMaxCandidates=20", "scheduling.preferencePolicy=Respect",
			"leaderElection.leaseDuration=15s", "leaderElection.renewDeadline=10s", "leaderElection.retryPeriod=2s",
			"kubernetesVersion=1.35", "clusterCABundle=Q0E=", "serviceCIDR=172.20.0.0/16",
		},
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			container := renderController(t, helm, chart, values)
			if container == nil || len(container.Args) == 0 || container.Args[0] != "controller" {
				t.Fatalf("rendered Deployment has no controller container running `tailor controller`")
			}
			var opts operator.Options
			fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
			opts.AddFlags(fs)
			if err := fs.Parse(container.Args[1:]); err != nil {
				t.Fatalf("the controller would refuse the chart's arguments %q: %v", container.Args[1:], err)
			}
			// IRSA on EKS gives the pod AWS_REGION; nothing else comes from the environment.
			opts.Complete(func(k string) (string, bool) { return "us-east-1", k == "AWS_REGION" })
			if err := opts.Validate(); err != nil {
				t.Errorf("the controller would refuse the chart's settings: %v", err)
			}
			if name != "tuned" {
				return
			}
			fs.VisitAll(func(f *pflag.Flag) {
				if _, skip := chartFlagsNotExposed[f.Name]; skip || f.Changed {
					return
				}
				t.Errorf("controller flag --%s is not set by the chart: add a value for it (values.yaml, values.schema.json, deployment.yaml) or list it in chartFlagsNotExposed with the reason", f.Name)
			})
			for _, want := range []string{"--node-repair=false", "--node-repair-toleration=10m", "--consolidation-max-candidates=20", "--preference-policy=Respect", "--leader-election-lease-duration=15s"} {
				if !slices.Contains(container.Args, want) {
					t.Errorf("rendered arguments %q lack %s", container.Args, want)
				}
			}
		})
	}
}

// TestHelmChartSetsGOMEMLIMIT renders the chart with its default memory limit, with another, and with none: the
// controller's Go runtime gets GOMEMLIMIT from the container's memory limit (the Downward API, in bytes), so the
// garbage collector works harder before the kernel's OOM killer would act; without a limit nothing is set.
func TestHelmChartSetsGOMEMLIMIT(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "charts", "tailor")
	helm := filepath.Join(root, "bin", "helm")
	for name, tc := range map[string]struct {
		values []string
		want   bool
	}{
		"default limit": {values: []string{"clusterName=demo"}, want: true},
		"other limit":   {values: []string{"clusterName=demo", "resources.limits.memory=2Gi"}, want: true},
		"no limit":      {values: []string{"clusterName=demo", "resources.limits=null"}, want: false},
	} {
		t.Run(name, func(t *testing.T) {
			var env *corev1.EnvVar
			if c := renderController(t, helm, chart, tc.values); c != nil {
				for i := range c.Env {
					if c.Env[i].Name == "GOMEMLIMIT" {
						env = &c.Env[i]
					}
				}
			}
			if !tc.want {
				if env != nil {
					t.Errorf("GOMEMLIMIT set without a memory limit: %+v", env)
				}
				return
			}
			if env == nil || env.ValueFrom == nil || env.ValueFrom.ResourceFieldRef == nil {
				t.Fatal("the controller container has no GOMEMLIMIT from its memory limit")
			}
			ref := env.ValueFrom.ResourceFieldRef
			if ref.Resource != "limits.memory" || ref.ContainerName != "controller" {
				t.Errorf("GOMEMLIMIT comes from %s of container %q, want limits.memory of controller", ref.Resource, ref.ContainerName)
			}
		})
	}
}

// renderController renders the chart's Deployment with values (--set) and returns its controller container, or nil.
func renderController(t *testing.T, helm, chart string, values []string) *corev1.Container {
	t.Helper()
	args := []string{"template", "tailor", chart, "--show-only", "templates/deployment.yaml"}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	rendered, err := exec.CommandContext(t.Context(), helm, args...).Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr(err))
	}
	var deploy appsv1.Deployment
	if err := yaml.Unmarshal(rendered, &deploy); err != nil {
		t.Fatalf("decoding the rendered Deployment: %v", err)
	}
	for i := range deploy.Spec.Template.Spec.Containers {
		if deploy.Spec.Template.Spec.Containers[i].Name == "controller" {
			return &deploy.Spec.Template.Spec.Containers[i]
		}
	}
	return nil
}
