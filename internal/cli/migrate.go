package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// MigrateOptions are the inputs of `tailor migrate`.
type MigrateOptions struct {
	// File is the YAML file to convert, or "-" for Stdin.
	File string
	// Stdin is read when File is "-".
	Stdin io.Reader
	// Out receives the Tailor objects as multi-document YAML.
	Out io.Writer
	// Warnings receives one line per Karpenter field Tailor cannot express.
	Warnings io.Writer
}

// RunMigrate reads Karpenter objects from opts.File, writes the Tailor objects they become to opts.Out and a warning
// for every field that could not be carried over to opts.Warnings. It returns an error, and writes nothing to Out,
// when the input is not valid YAML or holds an invalid Karpenter object.
func RunMigrate(opts MigrateOptions) error {
	if opts.File == "" {
		return errors.New("no input: pass -f FILE, or -f - to read standard input")
	}
	var input []byte
	var err error
	if opts.File == "-" {
		if opts.Stdin == nil {
			return errors.New("reading standard input: no reader")
		}
		input, err = io.ReadAll(opts.Stdin)
	} else {
		input, err = os.ReadFile(opts.File)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", opts.File, err)
	}
	m, err := Migrate(input)
	if err != nil {
		return err
	}
	for _, w := range m.Warnings {
		if _, err := fmt.Fprintln(opts.Warnings, "warning: "+w); err != nil {
			return fmt.Errorf("writing warnings: %w", err)
		}
	}
	return m.WriteYAML(opts.Out)
}

// Migration is the outcome of converting Karpenter objects.
type Migration struct {
	// Objects are the *apiv1.NodePool and *apiv1.EC2NodeClass objects, in input order (an inline provider's
	// EC2NodeClass follows its NodePool).
	Objects []runtime.Object
	// Sources says, for each object, which Karpenter object it came from ("karpenter.sh/v1alpha5 Provisioner default").
	Sources []string
	// Warnings name each Karpenter field that Tailor cannot express, and what happened to it.
	Warnings []string
}

// WriteYAML writes the objects as multi-document YAML, each preceded by a comment naming its source.
func (m *Migration) WriteYAML(w io.Writer) error {
	var buf bytes.Buffer
	for i, obj := range m.Objects {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("encoding %T: %w", obj, err)
		}
		delete(u, "status")
		if meta, ok := u["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		b, err := yaml.Marshal(u)
		if err != nil {
			return fmt.Errorf("encoding %T: %w", obj, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		fmt.Fprintf(&buf, "# From %s\n", m.Sources[i])
		buf.Write(b)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Migrate converts the Karpenter objects in input (multi-document YAML; `kind: List` documents are unpacked) to
// Tailor objects. It understands karpenter.sh/v1alpha5 Provisioner, karpenter.k8s.aws/v1alpha1 AWSNodeTemplate,
// karpenter.sh/v1beta1 and v1 NodePool, and karpenter.k8s.aws/v1beta1 and v1 EC2NodeClass. Other kinds are skipped
// with a warning. It fails when the input is not YAML, an object has no apiVersion, kind or name, a field has the
// wrong type, or an object breaks a rule Karpenter itself enforces.
func Migrate(input []byte) (*Migration, error) {
	docs, err := splitDocuments(input)
	if err != nil {
		return nil, err
	}
	c := newConverter()
	for i, raw := range docs {
		if err := c.convert(i+1, raw); err != nil {
			return nil, err
		}
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	if len(c.objects) == 0 {
		return nil, errors.New("found no Karpenter Provisioner, AWSNodeTemplate, NodePool or EC2NodeClass to migrate")
	}
	m := &Migration{Warnings: c.warnings}
	for _, o := range c.objects {
		m.Objects = append(m.Objects, o.obj)
		m.Sources = append(m.Sources, o.source)
	}
	return m, nil
}

// splitDocuments parses multi-document YAML into objects, unpacking lists. Numbers stay json.Number so integers
// are told apart from fractions.
func splitDocuments(input []byte) ([]map[string]any, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(input)))
	var out []map[string]any
	for n := 1; ; n++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML document %d: %w", n, err)
		}
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("parsing YAML document %d: %w", n, err)
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue // empty document, or only comments
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("parsing YAML document %d: want an object: %w", n, err)
		}
		if obj["kind"] == "List" || strings.HasSuffix(fmt.Sprint(obj["kind"]), "List") && obj["items"] != nil {
			items, ok := obj["items"].([]any)
			if !ok {
				return nil, fmt.Errorf("YAML document %d: items: want a list", n)
			}
			for i, item := range items {
				m, ok := item.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("YAML document %d: items[%d]: want an object", n, i)
				}
				out = append(out, m)
			}
			continue
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		return nil, errors.New("the input holds no objects")
	}
	return out, nil
}

// objectMeta carries over a Karpenter object's name, labels and annotations, dropping what the API server or
// Karpenter set.
func objectMeta(n node) metav1.ObjectMeta {
	meta := metav1.ObjectMeta{}
	md, ok := n.obj("metadata")
	if !ok {
		return meta
	}
	meta.Name, _ = md.str("name")
	if labels, ok := md.strMap("labels"); ok && len(labels) > 0 {
		meta.Labels = labels
	}
	if annotations, ok := md.strMap("annotations"); ok {
		for k, v := range annotations {
			if k == "kubectl.kubernetes.io/last-applied-configuration" || isKarpenterKey(k) {
				continue
			}
			if meta.Annotations == nil {
				meta.Annotations = map[string]string{}
			}
			meta.Annotations[k] = v
		}
	}
	md.ignore("namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
		"deletionGracePeriodSeconds", "managedFields", "selfLink", "finalizers", "ownerReferences", "generateName")
	return meta
}

func isKarpenterKey(k string) bool {
	domain, _, found := strings.Cut(k, "/")
	if !found {
		return false
	}
	for _, d := range []string{"karpenter.sh", "karpenter.k8s.aws"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}
