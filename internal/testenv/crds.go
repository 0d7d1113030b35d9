package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"
)

// applyCRDs creates every CustomResourceDefinition found in the configured folders and waits until each is
// Established, so a test can use the kinds at once.
func (e *Environment) applyCRDs(ctx context.Context) error {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, dir := range e.opts.CRDDirectoryPaths {
		found, err := readCRDs(dir)
		if err != nil {
			return err
		}
		crds = append(crds, found...)
	}
	if len(crds) == 0 {
		if len(e.opts.CRDDirectoryPaths) > 0 {
			return fmt.Errorf("no CustomResourceDefinitions found in %s", strings.Join(e.opts.CRDDirectoryPaths, ", "))
		}
		return nil
	}
	client, err := apiextensionsclient.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("building the apiextensions client: %w", err)
	}
	for _, crd := range crds {
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established: %w", crd.Name, err)
		}
	}
	if err := e.waitServed(ctx, crds); err != nil {
		return err
	}
	e.opts.Logf("installed %d CRDs", len(crds))
	return nil
}

// waitServed waits until discovery serves every CRD's kinds: Established comes first, and a client built in between
// finds no match for the kind.
func (e *Environment) waitServed(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	disco, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("building the discovery client: %w", err)
	}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := crd.Spec.Group + "/" + v.Name
			err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
				list, err := disco.ServerResourcesForGroupVersion(gv)
				if err != nil {
					return false, nil //nolint:nilerr // not served yet: poll again
				}
				for _, r := range list.APIResources {
					if r.Kind == crd.Spec.Names.Kind {
						return true, nil
					}
				}
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("waiting for discovery to serve %s in %s: %w", crd.Spec.Names.Kind, gv, err)
			}
		}
	}
	return nil
}

// readCRDs reads every .yaml/.yml/.json file in dir (not recursive), in name order, keeping the documents that are
// CustomResourceDefinitions.
func readCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CRD folder: %w", err)
	}
	var names []string
	for _, entry := range entries {
		switch filepath.Ext(entry.Name()) {
		case ".yaml", ".yml", ".json":
			names = append(names, entry.Name())
		}
	}
	sort.Strings(names)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, crd); err != nil {
				return nil, fmt.Errorf("parsing %s: %w", name, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			crds = append(crds, crd)
		}
	}
	return crds, nil
}
