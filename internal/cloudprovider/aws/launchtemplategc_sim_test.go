package aws

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apiv1 "github.com/tailor-sh/tailor/api/v1"
)

// templateNames lists every launch template ec2sim holds, whoever made it, sorted.
func (e *simEnv) templateNames() []string {
	e.t.Helper()
	out, err := e.clients.EC2.DescribeLaunchTemplates(e.t.Context(), &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		e.t.Fatalf("DescribeLaunchTemplates: %v", err)
	}
	var names []string
	for _, lt := range out.LaunchTemplates {
		names = append(names, aws.ToString(lt.LaunchTemplateName))
	}
	slices.Sort(names)
	return names
}

// foreignTemplate makes a template of another cluster, named for the same node class, which the collector must
// never touch.
func (e *simEnv) foreignTemplate(name string) {
	e.t.Helper()
	liftIAMPolicy(e.t, e) // another cluster's controller, with its own policy
	defer restoreIAMPolicy(e.t, e)
	_, err := e.clients.EC2.CreateLaunchTemplate(e.t.Context(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeM5Large},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: toEC2Tags(map[string]string{
			TagCluster: "another-cluster", TagEC2NodeClass: "default"})}},
	})
	if err != nil {
		e.t.Fatalf("CreateLaunchTemplate %s: %v", name, err)
	}
}

func (e *simEnv) addNodePool(name, nodeClass string) {
	e.t.Helper()
	np := &apiv1.NodePool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: apiv1.NodePoolSpec{Template: apiv1.NodeClaimTemplate{Spec: apiv1.NodeClaimTemplateSpec{
			NodeClassRef: apiv1.NodeClassReference{Group: apiv1.Group, Kind: apiv1.EC2NodeClassKind, Name: nodeClass}}}},
	}
	if err := e.kube.Create(e.t.Context(), np); err != nil {
		e.t.Fatalf("creating NodePool: %v", err)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func (e *simEnv) collect() []string {
	e.t.Helper()
	deleted, err := e.provider.GarbageCollectLaunchTemplates(e.t.Context())
	if err != nil {
		e.t.Fatalf("GarbageCollectLaunchTemplates: %v", err)
	}
	return deleted
}

func TestSimLaunchTemplateGC(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	e.addNodePool("default", "default")
	e.foreignTemplate("someone-elses")
	launch := func(name string) {
		t.Helper()
		if _, err := e.provider.Create(t.Context(), testNodeClaim(name, "1")); err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
	}
	ours := func(except ...string) []string {
		return slices.DeleteFunc(e.templateNames(), func(n string) bool { return n == "someone-elses" || slices.Contains(except, n) })
	}
	// One launch makes a template per distinct user data of its options (max pods differ by instance type).
	launch("nc-1")
	first := ours()
	if len(first) == 0 {
		t.Fatalf("no template of ours after a launch: %v", e.templateNames())
	}

	// A template in use is kept, young or not.
	if got := e.collect(); len(got) != 0 {
		t.Fatalf("deleted %v right after the launch", got)
	}
	e.step(11 * time.Minute)
	if got := e.collect(); len(got) != 0 {
		t.Fatalf("deleted %v while the node class and pool still resolve to it", got)
	}

	// The node class changes: the next launch makes new templates; the old ones (past the grace) go.
	e.updateNodeClass("default", func(nc *apiv1.EC2NodeClass) {
		nc.Spec.MetadataOptions = &apiv1.MetadataOptions{HTTPPutResponseHopLimit: aws.Int64(2)}
	})
	launch("nc-2")
	second := ours(first...)
	if len(second) == 0 {
		t.Fatalf("templates after the change: %v, want new ones beside %v", e.templateNames(), first)
	}
	if diff := cmp.Diff(first, sorted(e.collect())); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sorted(append(slices.Clone(second), "someone-elses")), e.templateNames()); diff != "" {
		t.Errorf("templates left (-want +got):\n%s", diff)
	}

	// No NodePool uses the node class any more: its templates go too once past the grace, and a pool added back
	// launches again (the provider forgot the deleted templates and makes them anew).
	if err := e.kube.Delete(t.Context(), &apiv1.NodePool{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.collect(); len(got) != 0 {
		t.Fatalf("deleted %v within the grace period", got)
	}
	e.step(11 * time.Minute)
	if diff := cmp.Diff(second, sorted(e.collect())); diff != "" {
		t.Errorf("deleted without a NodePool (-want +got):\n%s", diff)
	}
	e.addNodePool("default", "default")
	launch("nc-3")
	if diff := cmp.Diff(sorted(append(slices.Clone(second), "someone-elses")), e.templateNames()); diff != "" {
		t.Errorf("templates after launching again (-want +got):\n%s", diff)
	}
}

func TestSimLaunchTemplatesOfDeletedNodeClass(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	e.addNodePool("default", "default")
	e.foreignTemplate("someone-elses")
	if _, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	before := e.templateNames()
	if len(before) < 2 {
		t.Fatalf("templates %v, want ours and the foreign one", before)
	}
	// While the node class exists, the deletion hook keeps its templates.
	if err := e.provider.DeleteNodeClassLaunchTemplates(t.Context(), "default"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, e.templateNames()); diff != "" {
		t.Fatalf("templates changed by the hook for a node class that exists (-before +after):\n%s", diff)
	}
	if err := e.kube.Delete(t.Context(), &apiv1.EC2NodeClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.kube.Get(t.Context(), client.ObjectKey{Name: "default"}, &apiv1.EC2NodeClass{}); err == nil {
		t.Fatal("node class still there")
	}
	if err := e.provider.DeleteNodeClassLaunchTemplates(t.Context(), "default"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"someone-elses"}, e.templateNames()); diff != "" {
		t.Errorf("templates after the node class was deleted (-want +got):\n%s", diff)
	}
}

func TestSimLaunchTemplatesUnusedForADay(t *testing.T) {
	e := newSimEnv(t)
	e.addNodeClass(nodeClass("default"))
	e.addNodePool("default", "default")
	amd64 := requirement(apiv1.ArchLabelKey, "In", "amd64")
	if _, err := e.provider.Create(t.Context(), testNodeClaim("nc-1", "1", amd64)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	before := e.templateNames()
	if len(before) < 2 {
		t.Fatalf("templates %v, want one per max-pods value of the amd64 types", before)
	}
	e.step(23 * time.Hour)
	if got := e.collect(); len(got) != 0 {
		t.Fatalf("deleted %v before the process was up a day", got)
	}
	// One template is used again; a day after the first launch the others go, the one used an hour ago stays.
	e.step(30 * time.Minute)
	if _, err := e.provider.Create(t.Context(), testNodeClaim("nc-2", "1", amd64, requirement(apiv1.InstanceTypeLabelKey, "In", "m5.large"))); err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.step(time.Hour)
	deleted := e.collect()
	left := e.templateNames()
	if len(left) != 1 || len(deleted) != len(before)-1 {
		t.Errorf("after a day: deleted %v, left %v; want all but the template used lately (of %v)", deleted, left, before)
	}
}
