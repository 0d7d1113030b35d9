package main

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
	"github.com/tailor-sh/tailor/internal/cli"
	"github.com/tailor-sh/tailor/internal/testenv"
)

// TestExplainCommand runs `tailor explain` through the cobra root against a real kube-apiserver, reached through
// the kubeconfig file as a user would. internal/cli's tests cover what explain says; this one covers the wiring:
// flags, the client, the namespace default and the output formats.
func TestExplainCommand(t *testing.T) {
	env := testenv.StartAPIServer(t)
	kube := env.DirectClient(t)
	seedSpotOnlyCluster(t, kube)
	kubeconfig := "--kubeconfig=" + env.KubeconfigPath

	out, err := runTailor(t, "explain", "pod", "od", kubeconfig)
	if err != nil {
		t.Fatalf("explain pod: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "Pod default/od\n") {
		t.Errorf("output does not start with the pod:\n%s", out)
	}
	for _, want := range []string{
		"    spot-only  no  requirement tailor.sh/capacity-type In [spot] conflicts with pod nodeSelector tailor.sh/capacity-type=on-demand\n",
		"  Decision:   none: Tailor cannot launch a node for it\n",
		"Instance types and prices: catalogue aws-us-east-1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain pod lacks %q:\n%s", want, out)
		}
	}

	out, err = runTailor(t, "explain", "--pending", "-o", "json", kubeconfig)
	if err != nil {
		t.Fatalf("explain --pending -o json: %v\n%s", err, out)
	}
	var res cli.ExplainResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("reading the JSON: %v\n%s", err, out)
	}
	if len(res.Pods) != 1 || res.Pods[0].Pod != "default/od" || res.Pods[0].Decision.Kind != cli.DecisionUnschedulable ||
		len(res.Pods[0].NodePools) != 1 || res.Pods[0].NodePools[0].CanHost {
		t.Errorf("explain --pending in the kubeconfig's namespace: %+v", res)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", kubeconfig}, "say what to explain: tailor explain pod NAME, tailor explain nodeclaim NAME or tailor explain --pending"},
		{[]string{"explain", "nodeclaim", "nope", kubeconfig}, "nodeclaim nope not found"},
		{[]string{"explain", "pod", "od", "-n", "elsewhere", kubeconfig}, "pod elsewhere/od not found"},
		{[]string{"explain", "pod", "od", "--catalog", "aws-us-east-1", "--instance-types", "t.json", kubeconfig}, "if any flags in the group [catalog instance-types] are set none of the others can be; [catalog instance-types] were all set"},
	} {
		if _, err := runTailor(t, tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("tailor %s: error %v, want %q", strings.Join(tc.args[:len(tc.args)-1], " "), err, tc.want)
		}
	}
}

// seedSpotOnlyCluster makes a ready node class, a spot-only NodePool and a pending pod that asks for on-demand.
func seedSpotOnlyCluster(t *testing.T, kube client.Client) {
	t.Helper()
	ctx := t.Context()
	class := &apiv1.EC2NodeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: apiv1.EC2NodeClassSpec{
			SubnetSelectorTerms:        []apiv1.SubnetSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			SecurityGroupSelectorTerms: []apiv1.SecurityGroupSelectorTerm{{Tags: map[string]string{"tailor.sh/discovery": "demo"}}},
			AMISelectorTerms:           []apiv1.AMISelectorTerm{{Alias: "al2023@latest"}},
			Role:                       "TailorNodeRole",
		},
	}
	pool := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: "spot-only"},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: "EC2NodeClass", Name: "default"},
			Requirements: []apiv1.NodeSelectorRequirementWithMinValues{
				{Key: apiv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{apiv1.CapacityTypeSpot}},
			},
		}}},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "od"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{apiv1.CapacityTypeLabelKey: apiv1.CapacityTypeOnDemand},
			Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}}},
		},
	}
	// No controller-manager runs to create the service account pods need.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}
	for _, obj := range []client.Object{class, pool, sa, pod} {
		if err := kube.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}
	class.StatusConditions().Set(metav1.Now(), apiv1.ConditionTypeReady, metav1.ConditionTrue, "Resolved", "")
	if err := kube.Status().Update(ctx, class); err != nil {
		t.Fatal(err)
	}
}
