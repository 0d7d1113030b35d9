package v1_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// One real kube-apiserver (with etcd) for the package, with the generated CRDs installed.
var (
	kube    client.Client
	restCfg *rest.Config
	root    string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	//nolint:forbidigo // TestMain has no *testing.T and so no t.Context(); the control plane outlives every test.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	root, err = testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the repository root:", err)
		return 1
	}
	env, err := testenv.Start(ctx, testenv.Options{
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd")},
		APIServerOnly:     true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the API server:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the API server:", err)
		}
	}()
	restCfg = env.Config
	scheme := runtime.NewScheme()
	if err := apiv1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, "building the scheme:", err)
		return 1
	}
	kube, err = client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the client:", err)
		return 1
	}
	return m.Run()
}

// object parses one YAML document into an unstructured object.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("parsing YAML: %v\n%s", err, doc)
	}
	return &unstructured.Unstructured{Object: m}
}

// mergePatch applies a JSON merge patch (RFC 7386, written as YAML) to a copy of base: maps merge, null deletes,
// anything else (lists included) replaces.
func mergePatch(t *testing.T, base *unstructured.Unstructured, patch string) *unstructured.Unstructured {
	t.Helper()
	var p map[string]any
	if err := yaml.Unmarshal([]byte(patch), &p); err != nil {
		t.Fatalf("parsing patch: %v\n%s", err, patch)
	}
	return &unstructured.Unstructured{Object: merge(base.DeepCopy().Object, p)}
}

func merge(dst, patch map[string]any) map[string]any {
	for k, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if d, ok := dst[k].(map[string]any); ok {
				dst[k] = merge(d, v)
			} else {
				dst[k] = merge(map[string]any{}, v)
			}
		default:
			dst[k] = v
		}
	}
	return dst
}

// causes lists the field errors of an Invalid API error, one per line, for failure messages.
func causes(err error) string {
	var lines []string
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			lines = append(lines, fmt.Sprintf("  %s: %s", c.Field, c.Message))
		}
	}
	return strings.Join(lines, "\n")
}

// hasCause reports whether err is an Invalid error with a cause on field whose message contains msg.
func hasCause(err error, field, msg string) bool {
	if !apierrors.IsInvalid(err) {
		return false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == field && strings.Contains(c.Message, msg) {
			return true
		}
	}
	return false
}
