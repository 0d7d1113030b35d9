package v1_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// TestExamplesApply creates every object in examples/ (but examples/simulate/, which holds simulator inputs) on the
// API server.
func TestExamplesApply(t *testing.T) {
	dir := filepath.Join(root, "examples")
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path == filepath.Join(dir, "simulate") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d example files, want the reference scenario and at least four patterns", len(files))
	}
	for _, file := range files {
		name, _ := filepath.Rel(dir, file)
		t.Run(name, func(t *testing.T) {
			docs := splitYAML(t, file)
			if len(docs) == 0 {
				t.Fatal("no objects in file")
			}
			for _, doc := range docs {
				obj := object(t, doc)
				// Dry run: the examples share EC2NodeClass names with each other.
				if err := kube.Create(t.Context(), obj, client.DryRunAll); err != nil {
					t.Errorf("%s %s rejected: %v\n%s", obj.GetKind(), obj.GetName(), err, causes(err))
				}
			}
		})
	}
}

func splitYAML(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs []string
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		if strings.TrimSpace(stripComments(string(doc))) != "" {
			docs = append(docs, string(doc))
		}
	}
}

func stripComments(doc string) string {
	var out []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestDefaults checks the defaults the CRDs fill in for a minimal NodePool and EC2NodeClass.
func TestDefaults(t *testing.T) {
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: "default"},
		}}},
	}
	if err := kube.Create(t.Context(), np, client.DryRunAll); err != nil {
		t.Fatalf("creating a minimal NodePool: %v", err)
	}
	wantDisruption := apiv1.Disruption{
		ConsolidationPolicy:    apiv1.ConsolidationPolicyBalanced,
		ConsolidationThreshold: &apiv1.ConsolidationThreshold{Savings: apiv1.DefaultConsolidationSavings, MinimumHourly: apiv1.DefaultConsolidationMinimumHourly},
		ConsolidateAfter:       "0s",
		Budgets:                []apiv1.Budget{{Nodes: "10%"}},
	}
	if diff := cmp.Diff(wantDisruption, np.Spec.Disruption); diff != "" {
		t.Errorf("NodePool spec.disruption defaults (-want +got):\n%s", diff)
	}
	if got, want := np.Spec.Template.Spec.ExpireAfter, apiv1.NillableDuration("720h"); got != want {
		t.Errorf("NodePool spec.template.spec.expireAfter = %q, want %q", got, want)
	}

	nc := &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{ID: "subnet-0abc"}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Name: "nodes"}},
			InstanceProfile:            "TailorNodeInstanceProfile",
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			BlockDeviceMappings: []apiv1.BlockDeviceMapping{{
				DeviceName: "/dev/xvda",
				EBS:        apiv1.BlockDevice{VolumeSize: ptr.To(resource.MustParse("20Gi"))},
			}},
		},
	}
	if err := kube.Create(t.Context(), nc, client.DryRunAll); err != nil {
		t.Fatalf("creating a minimal EC2NodeClass: %v", err)
	}
	wantMetadata := &apiv1.MetadataOptions{
		HTTPEndpoint:            "enabled",
		HTTPProtocolIPv6:        "disabled",
		HTTPPutResponseHopLimit: ptr.To[int64](1),
		HTTPTokens:              "required",
	}
	if diff := cmp.Diff(wantMetadata, nc.Spec.MetadataOptions); diff != "" {
		t.Errorf("EC2NodeClass spec.metadataOptions defaults (-want +got):\n%s", diff)
	}
	wantEBS := apiv1.BlockDevice{VolumeSize: ptr.To(resource.MustParse("20Gi")), Encrypted: ptr.To(true), DeleteOnTermination: ptr.To(true)}
	if diff := cmp.Diff(wantEBS, nc.Spec.BlockDeviceMappings[0].EBS); diff != "" {
		t.Errorf("EC2NodeClass ebs defaults (-want +got):\n%s", diff)
	}
}

// TestImmutableFields checks the rules that compare an update with the stored object.
func TestImmutableFields(t *testing.T) {
	claim := object(t, baseNodeClaim)
	claim.SetName("immutable")
	if err := kube.Create(t.Context(), claim); err != nil {
		t.Fatalf("creating NodeClaim: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), claim) })
	changed := mergePatch(t, claim, `{spec: {requirements: [{key: node.kubernetes.io/instance-type, operator: In, values: [m7i.xlarge]}]}}`)
	err := kube.Update(t.Context(), changed)
	if !hasCause(err, "spec", "spec is immutable: delete the NodeClaim and create a new one") {
		t.Errorf("changing a NodeClaim's spec: want spec is immutable, got %v\n%s", err, causes(err))
	}

	class := object(t, baseEC2NodeClass)
	class.SetName("immutable")
	if err := kube.Create(t.Context(), class); err != nil {
		t.Fatalf("creating EC2NodeClass: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), class) })
	err = kube.Update(t.Context(), mergePatch(t, class, `{spec: {role: OtherRole}}`))
	if !hasCause(err, "spec.role", "role is immutable: create a new EC2NodeClass to use another role") {
		t.Errorf("changing an EC2NodeClass's role: want role is immutable, got %v\n%s", err, causes(err))
	}
	// Other fields stay mutable.
	if err := kube.Update(t.Context(), mergePatch(t, class, `{spec: {tags: {team: web}}}`)); err != nil {
		t.Errorf("changing an EC2NodeClass's tags: %v", err)
	}
}

// TestRequirementKeysMatchGo checks that the CEL rules on requirement keys and template labels agree with
// ValidateRequirementKey and ValidateTemplateLabelKey, which carry the same lists for tools such as migrate.
func TestRequirementKeysMatchGo(t *testing.T) {
	keys := slices.Concat(apiv1.WellKnownLabelKeys, []string{
		apiv1.HostnameLabelKey, apiv1.RegisteredLabelKey, apiv1.InitializedLabelKey,
		apiv1.DoNotDisruptAnnotationKey, "tailor.sh/instance-colour", "x.tailor.sh/thing",
		"kubernetes.io/role", "k8s.io/owner", "kops.k8s.io/instancegroup", "beta.kubernetes.io/arch",
		"node.kubernetes.io/lifecycle", "node-restriction.kubernetes.io/team", "example.com/team", "team",
		"karpenter.sh/capacity-type",
	})
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			req := mergePatch(t, object(t, baseNodePool), requirement(`{key: "`+key+`", operator: Exists}`))
			serverErr := kube.Create(t.Context(), req, client.DryRunAll)
			goErr := apiv1.ValidateRequirementKey(key)
			if (serverErr == nil) != (goErr == nil) {
				t.Errorf("requirement key %q: API server says %v, ValidateRequirementKey says %v", key, serverErr, goErr)
			}
			label := mergePatch(t, object(t, baseNodePool), templateLabels(`{"`+key+`": "x"}`))
			serverErr = kube.Create(t.Context(), label, client.DryRunAll)
			goErr = apiv1.ValidateTemplateLabelKey(key)
			if (serverErr == nil) != (goErr == nil) {
				t.Errorf("template label %q: API server says %v, ValidateTemplateLabelKey says %v", key, serverErr, goErr)
			}
		})
	}
}

// TestPrinterColumns reads NodePools and NodeClaims the way kubectl get does (as a Table) and checks the columns and
// the cells filled from status and labels.
func TestPrinterColumns(t *testing.T) {
	np := object(t, baseNodePool)
	np.SetName("printer")
	np = mergePatch(t, np, `{spec: {weight: 10}}`)
	if err := kube.Create(t.Context(), np); err != nil {
		t.Fatalf("creating NodePool: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), np) })
	typed := &apiv1.NodePool{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: "printer"}, typed); err != nil {
		t.Fatal(err)
	}
	typed.Status.Nodes = 3
	typed.Status.Resources = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("12"), corev1.ResourceMemory: resource.MustParse("48Gi")}
	typed.StatusConditions().Set(someTime, apiv1.ConditionTypeReady, metav1.ConditionTrue, "Ready", "")
	if err := kube.Status().Update(t.Context(), typed); err != nil {
		t.Fatalf("updating NodePool status: %v", err)
	}

	claim := object(t, baseNodeClaim)
	claim.SetName("printer")
	claim.SetLabels(map[string]string{
		apiv1.InstanceTypeLabelKey: "m7i.large",
		apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeSpot,
		apiv1.ZoneLabelKey:         "us-east-1a",
	})
	if err := kube.Create(t.Context(), claim); err != nil {
		t.Fatalf("creating NodeClaim: %v", err)
	}
	t.Cleanup(func() { _ = kube.Delete(t.Context(), claim) })
	typedClaim := &apiv1.NodeClaim{}
	if err := kube.Get(t.Context(), client.ObjectKey{Name: "printer"}, typedClaim); err != nil {
		t.Fatal(err)
	}
	typedClaim.Status.NodeName = "ip-10-0-0-1.ec2.internal"
	typedClaim.StatusConditions().Set(someTime, apiv1.ConditionTypeReady, metav1.ConditionFalse, "NotRegistered", "waiting for the node")
	if err := kube.Status().Update(t.Context(), typedClaim); err != nil {
		t.Fatalf("updating NodeClaim status: %v", err)
	}

	cases := []struct {
		path      string
		wantCols  []string
		wantCells []any // all but Name's and Age's
	}{
		{"/apis/tailor.sh/v1/nodepools/printer",
			[]string{"Name", "NodeClass", "Nodes", "Ready", "Weight", "CPU", "Memory", "Age"},
			[]any{"default", float64(3), "True", float64(10), "12", "48Gi"}},
		{"/apis/tailor.sh/v1/nodeclaims/printer",
			[]string{"Name", "Type", "Capacity", "Zone", "Node", "Ready", "Age"},
			[]any{"m7i.large", "spot", "us-east-1a", "ip-10-0-0-1.ec2.internal", "False"}},
	}
	for _, tc := range cases {
		table := getTable(t, tc.path)
		var cols []string
		var idx []int
		for i, c := range table.ColumnDefinitions {
			if c.Priority == 0 {
				cols = append(cols, c.Name)
				idx = append(idx, i)
			}
		}
		if diff := cmp.Diff(tc.wantCols, cols); diff != "" {
			t.Errorf("%s: columns (-want +got):\n%s", tc.path, diff)
		}
		if len(table.Rows) != 1 || len(idx) != len(tc.wantCols) {
			t.Fatalf("%s: got %d rows", tc.path, len(table.Rows))
		}
		var cells []any
		for _, i := range idx[1 : len(idx)-1] {
			cells = append(cells, table.Rows[0].Cells[i])
		}
		if diff := cmp.Diff(tc.wantCells, cells); diff != "" {
			t.Errorf("%s: cells (-want +got):\n%s", tc.path, diff)
		}
	}
}

var someTime = metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))

func getTable(t *testing.T, path string) *metav1.Table {
	t.Helper()
	httpClient, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, restCfg.Host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(body, table); err != nil {
		t.Fatalf("decoding table: %v", err)
	}
	return table
}
