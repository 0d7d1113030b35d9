package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// ApplyExample creates the NodePools and EC2NodeClasses of a file in examples/ and returns them.
func ApplyExample(ctx context.Context, kube client.Client, name string) ([]client.Object, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		return nil, err
	}
	var created []client.Object
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj client.Object
		switch {
		case strings.Contains(doc, "kind: NodePool"):
			obj = &apiv1.NodePool{}
		case strings.Contains(doc, "kind: EC2NodeClass"):
			obj = &apiv1.EC2NodeClass{}
		default:
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return created, fmt.Errorf("parsing examples/%s: %w", name, err)
		}
		if err := kube.Create(ctx, obj); err != nil {
			return created, fmt.Errorf("creating %s %q from examples/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), name, err)
		}
		created = append(created, obj)
	}
	return created, nil
}
