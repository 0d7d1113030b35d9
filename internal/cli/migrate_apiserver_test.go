package cli

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestMigrateOutputIsAccepted converts Karpenter objects, prints them as `tailor migrate` does, and creates what it
// printed on a real kube-apiserver with Tailor's CRDs: the CRDs' validation is the judge of the output.
func TestMigrateOutputIsAccepted(t *testing.T) {
	env := testenv.StartAPIServer(t)
	kube, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// Dry runs, but the issue's Provisioner (last, since names repeat) is really stored, as kubectl apply would.
	inputs := []struct{ name, input string }{
		{"Provisioner with providerRef", provisionerWithProviderRef},
		{"v1beta1 NodePool", v1beta1NodePool},
		{"v1 NodePool", v1NodePool},
		{"AWSNodeTemplate shared by two", sharedTemplate},
		{"Provisioner that keeps nodes", provisionerKeep},
		{"inline provider named like an AWSNodeTemplate", inlineClash},
		{"the issue's Provisioner", issueProvisioner},
	}
	for _, tc := range inputs {
		name, input := tc.name, tc.input
		t.Run(name, func(t *testing.T) {
			m, err := Migrate([]byte(input))
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			var out bytes.Buffer
			if err := m.WriteYAML(&out); err != nil {
				t.Fatal(err)
			}
			docs, err := splitDocuments(out.Bytes())
			if err != nil {
				t.Fatalf("reading the output back: %v\n%s", err, out.String())
			}
			if len(docs) != len(m.Objects) {
				t.Fatalf("printed %d documents for %d objects", len(docs), len(m.Objects))
			}
			for _, doc := range docs {
				obj := &unstructured.Unstructured{Object: doc}
				opts := []client.CreateOption{client.DryRunAll}
				if input == issueProvisioner {
					opts = nil
				}
				if err := kube.Create(t.Context(), obj, opts...); err != nil {
					t.Errorf("the API server rejected %s %s: %v\n%s", obj.GetKind(), obj.GetName(), err, out.String())
				}
			}
		})
	}
}
