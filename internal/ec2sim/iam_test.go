package ec2sim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/tailor-sh/tailor/internal/iampolicy"
)

func TestIAMConditions(t *testing.T) {
	ctx := map[string][]string{"aws:requesttag/team": {"a"}, "aws:tagkeys": {"team", "Name"}}
	for _, tc := range []struct {
		name string
		cond iamCondition
		want bool
	}{
		{"equals", iamCondition{Operator: "StringEquals", Key: "aws:requesttag/team", Values: []string{"b", "a"}}, true},
		{"equals other value", iamCondition{Operator: "StringEquals", Key: "aws:requesttag/team", Values: []string{"b"}}, false},
		{"equals missing key", iamCondition{Operator: "StringEquals", Key: "aws:resourcetag/team", Values: []string{"a"}}, false},
		{"equals missing key if exists", iamCondition{Operator: "StringEquals", IfExists: true, Key: "aws:resourcetag/team", Values: []string{"a"}}, true},
		{"not equals", iamCondition{Operator: "StringNotEquals", Key: "aws:requesttag/team", Values: []string{"a"}}, false},
		{"not equals missing key", iamCondition{Operator: "StringNotEquals", Key: "aws:resourcetag/team", Values: []string{"a"}}, true},
		{"like", iamCondition{Operator: "StringLike", Key: "aws:requesttag/team", Values: []string{"?"}}, true},
		{"not like", iamCondition{Operator: "StringNotLike", Key: "aws:requesttag/team", Values: []string{"*"}}, false},
		{"for all values", iamCondition{Operator: "StringEquals", Set: "ForAllValues", Key: "aws:tagkeys", Values: []string{"team", "Name"}}, true},
		{"for all values with one outside", iamCondition{Operator: "StringEquals", Set: "ForAllValues", Key: "aws:tagkeys", Values: []string{"team"}}, false},
		{"for all values of nothing", iamCondition{Operator: "StringEquals", Set: "ForAllValues", Key: "aws:none", Values: []string{"x"}}, true},
		{"for any value", iamCondition{Operator: "StringEquals", Set: "ForAnyValue", Key: "aws:tagkeys", Values: []string{"Name"}}, true},
		{"for any value of nothing", iamCondition{Operator: "StringEquals", Set: "ForAnyValue", Key: "aws:none", Values: []string{"x"}}, false},
	} {
		if got := tc.cond.holds(ctx); got != tc.want {
			t.Errorf("%s: holds = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIAMEvaluateDenyWinsAndDefaultDenies(t *testing.T) {
	p, err := parseIAMPolicy([]byte(`{"Version": "2012-10-17", "Statement": [
		{"Sid": "All", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
		{"Sid": "NoTerminate", "Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "arn:aws:ec2:*:*:instance/*",
		 "Condition": {"StringNotEquals": {"aws:ResourceTag/Team": "a"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	inst := "arn:aws:ec2:us-east-1:1:instance/i-1"
	for _, tc := range []struct {
		req  authzRequest
		want decision
	}{
		{authzRequest{Action: "ec2:DescribeInstances", Resource: "*"}, allowed},
		{authzRequest{Action: "EC2:describeinstances", Resource: "*"}, allowed},
		{authzRequest{Action: "ec2:TerminateInstances", Resource: inst, Context: map[string][]string{"aws:resourcetag/team": {"a"}}}, allowed},
		{authzRequest{Action: "ec2:TerminateInstances", Resource: inst, Context: map[string][]string{"aws:resourcetag/team": {"b"}}}, explicitDeny},
		{authzRequest{Action: "ec2:TerminateInstances", Resource: inst}, explicitDeny},
		{authzRequest{Action: "ssm:GetParameter", Resource: "*"}, implicitDeny},
	} {
		if got, _ := p.evaluate(tc.req); got != tc.want {
			t.Errorf("%s on %s with %v = %v, want %v", tc.req.Action, tc.req.Resource, tc.req.Context, got, tc.want)
		}
	}
}

func TestIAMPolicyRefusesWhatItCannotEvaluate(t *testing.T) {
	for name, doc := range map[string]string{
		"NotAction":     `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "ec2:*", "Resource": "*"}]}`,
		"operator":      `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"ArnLike": {"aws:SourceArn": "x"}}}]}`,
		"old version":   `{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}`,
		"no effect":     `{"Version": "2012-10-17", "Statement": [{"Action": "ec2:*", "Resource": "*"}]}`,
		"set qualifier": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"ForSome:StringEquals": {"k": "v"}}}]}`,
	} {
		if _, err := parseIAMPolicy([]byte(doc)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
	if _, err := newIAMEnforcer([]byte(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "<vpc>"}]}`), DefaultConfig("c")); err == nil {
		t.Error("a placeholder ec2sim does not fill was accepted")
	}
	if _, err := newIAMEnforcer(iampolicy.Controller, DefaultConfig("c")); err != nil {
		t.Errorf("the documented controller policy: %v", err)
	}
}

// withPolicy enforces the documented controller policy plus extra statements.
func withPolicy(t testing.TB, extra ...string) func(*Options) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(iampolicy.Controller, &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range extra {
		var st any
		if err := json.Unmarshal([]byte(s), &st); err != nil {
			t.Fatal(err)
		}
		doc["Statement"] = append(doc["Statement"].([]any), st)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep the <placeholders> as they are
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return func(o *Options) { o.IAMPolicy = b.Bytes() }
}

// unauthorized checks err is the EC2 UnauthorizedOperation (403) naming action and resource, with a decodable
// encoded message.
func unauthorized(t *testing.T, err error, action, resource string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnauthorizedOperation" {
		t.Fatalf("error = %v, want UnauthorizedOperation", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("status of %v: want 403", err)
	}
	checkMessage(t, ae.ErrorMessage(), action, resource)
}

func checkMessage(t *testing.T, msg, action, resource string) {
	t.Helper()
	want := "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/TailorController/AKIDEXAMPLE is not authorized to perform: " +
		action + " on resource: " + resource + " "
	if !strings.HasPrefix(msg, want) {
		t.Fatalf("message\n%s\nwant it to start with\n%s", msg, want)
	}
	_, enc, ok := strings.Cut(msg, "Encoded authorization failure message: ")
	if !ok {
		t.Fatalf("message has no encoded authorization failure message: %s", msg)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("encoded message is not base64: %v", err)
	}
	var decoded struct {
		Allowed bool
		Context struct{ Action, Resource string }
	}
	if err := json.Unmarshal(raw, &decoded); err != nil || decoded.Allowed || decoded.Context.Action != action || decoded.Context.Resource != resource {
		t.Errorf("decoded message %s (%v), want the denied %s on %s", raw, err, action, resource)
	}
}

func clusterTags(resourceTypes ...ec2types.ResourceType) []ec2types.TagSpecification {
	var out []ec2types.TagSpecification
	for _, rt := range resourceTypes {
		out = append(out, ec2types.TagSpecification{ResourceType: rt, Tags: []ec2types.Tag{{Key: aws.String("tailor.sh/cluster"), Value: aws.String("tailor")}}})
	}
	return out
}

// allLaunchTags are what Tailor tags on a spot launch.
var allLaunchTags = []ec2types.ResourceType{ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume,
	ec2types.ResourceTypeNetworkInterface, ec2types.ResourceTypeSpotInstancesRequest}

// clusterTemplate creates a launch template tagged for the cluster, as Tailor does.
func clusterTemplate(t *testing.T, h *harness, name string) string {
	t.Helper()
	out, err := h.ec2.CreateLaunchTemplate(t.Context(), &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
			ImageId:          aws.String("resolve:ssm:/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id"),
			SecurityGroupIds: []string{h.sim.cloud.cfg.SecurityGroups[0].ID},
		},
		TagSpecifications: clusterTags(ec2types.ResourceTypeLaunchTemplate),
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate tagged for the cluster: %v", err)
	}
	return aws.ToString(out.LaunchTemplate.LaunchTemplateId)
}

func TestIAMDescribeAndLaunchTemplates(t *testing.T) {
	h := newHarness(t, withPolicy(t))
	ctx := t.Context()
	if _, err := h.ec2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{}); err != nil {
		t.Errorf("DescribeInstanceTypes: %v", err)
	}
	_, err := h.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	unauthorized(t, err, "ec2:DescribeAvailabilityZones", "*")

	_, err = h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("untagged"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(h.sim.cloud.cfg.Images[0].ID)},
	})
	unauthorized(t, err, "ec2:CreateLaunchTemplate", "arn:aws:ec2:us-east-1:123456789012:launch-template/*")
	id := clusterTemplate(t, h, "tagged")
	if _, err := h.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)}); err != nil {
		t.Errorf("DeleteLaunchTemplate of the cluster's template: %v", err)
	}
	_, err = h.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{h.sim.cloud.cfg.Subnets[0].ID},
		Tags: []ec2types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	unauthorized(t, err, "ec2:CreateTags", "arn:aws:ec2:us-east-1:123456789012:subnet/"+h.sim.cloud.cfg.Subnets[0].ID)
}

// TestIAMForeignResources: a statement lets the test create untagged resources; the documented policy then refuses
// to delete, terminate or launch from them.
func TestIAMForeignResources(t *testing.T) {
	h := newHarness(t, withPolicy(t, `{"Sid": "TestSetup", "Effect": "Allow", "Action": ["ec2:CreateLaunchTemplate", "ec2:CreateFleet", "ec2:RunInstances"],
		"Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/test": "setup"}}}`,
		`{"Sid": "TestSetupTemplates", "Effect": "Allow", "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
		"Resource": "*", "Condition": {"StringEquals": {"ec2:ResourceTag/launchable": "yes"}}}`))
	ctx := t.Context()
	setup := []ec2types.Tag{{Key: aws.String("test"), Value: aws.String("setup")}}
	lt, err := h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("foreign"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(h.sim.cloud.cfg.Images[0].ID), SecurityGroupIds: []string{h.sim.cloud.cfg.SecurityGroups[0].ID}},
		TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: setup}},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate for the setup: %v", err)
	}
	foreignLT := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
	_, err = h.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(foreignLT)})
	unauthorized(t, err, "ec2:DeleteLaunchTemplate", "arn:aws:ec2:us-east-1:123456789012:launch-template/"+foreignLT)

	// Launching from a template not tagged for the cluster fails the call, however well the request is tagged.
	in := h.fleetInput(foreignLT, "spot", 1, [2]string{"m5.large", "us-east-1a"})
	in.TagSpecifications = clusterTags(allLaunchTags...)
	_, err = h.ec2.CreateFleet(ctx, in)
	unauthorized(t, err, "ec2:CreateFleet", "arn:aws:ec2:us-east-1:123456789012:launch-template/"+foreignLT)

	// An instance without the cluster tag cannot be terminated.
	lt, err = h.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("launchable"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(h.sim.cloud.cfg.Images[0].ID), SecurityGroupIds: []string{h.sim.cloud.cfg.SecurityGroups[0].ID}},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate,
			Tags: append([]ec2types.Tag{{Key: aws.String("launchable"), Value: aws.String("yes")}}, setup...)}},
	})
	if err != nil {
		t.Fatalf("CreateLaunchTemplate for the setup: %v", err)
	}
	in = h.fleetInput(aws.ToString(lt.LaunchTemplate.LaunchTemplateId), "on-demand", 1, [2]string{"m5.large", "us-east-1a"})
	in.TagSpecifications = nil
	for _, rt := range []ec2types.ResourceType{ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume, ec2types.ResourceTypeNetworkInterface} {
		in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{ResourceType: rt, Tags: setup})
	}
	out, err := h.ec2.CreateFleet(ctx, in)
	if err != nil || len(launchedIDs(out)) != 1 {
		t.Fatalf("setup launch: %v, %+v", err, out)
	}
	id := launchedIDs(out)[0]
	_, err = h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	unauthorized(t, err, "ec2:TerminateInstances", "arn:aws:ec2:us-east-1:123456789012:instance/"+id)
}

// TestIAMCreateFleetNeedsEveryCreatedResourceTagged: Tailor's launch passes; leaving out any of the tag
// specifications the policy requires fails the call, naming the resource.
func TestIAMCreateFleetNeedsEveryCreatedResourceTagged(t *testing.T) {
	h := newHarness(t, withPolicy(t))
	ctx := t.Context()
	lt := clusterTemplate(t, h, "tailor-lt")
	in := h.fleetInput(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"})
	in.TagSpecifications = clusterTags(allLaunchTags...)
	out, err := h.ec2.CreateFleet(ctx, in)
	if err != nil || len(launchedIDs(out)) != 1 {
		t.Fatalf("fully tagged spot launch: %v, %+v", err, out)
	}
	if _, err := h.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: launchedIDs(out)}); err != nil {
		t.Errorf("terminating the cluster's instance: %v", err)
	}
	for i, rt := range allLaunchTags {
		in := h.fleetInput(lt, "spot", 1, [2]string{"m5.large", "us-east-1a"})
		in.TagSpecifications = clusterTags(append(append([]ec2types.ResourceType{}, allLaunchTags[:i]...), allLaunchTags[i+1:]...)...)
		_, err := h.ec2.CreateFleet(ctx, in)
		unauthorized(t, err, "ec2:CreateFleet", "arn:aws:ec2:us-east-1:123456789012:"+string(rt)+"/*")
	}
	// On demand, no spot request is created, so none needs tagging.
	in = h.fleetInput(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"})
	in.TagSpecifications = clusterTags(allLaunchTags[:4]...)
	if out, err := h.ec2.CreateFleet(ctx, in); err != nil || len(launchedIDs(out)) != 1 {
		t.Errorf("on-demand launch without a spot request tag: %v, %+v", err, out)
	}
}

// TestIAMRunInstancesDenialIsAFleetError: when the policy allows CreateFleet but not the RunInstances it makes, the
// call succeeds and each override reports UnauthorizedOperation, as EC2 answers.
func TestIAMRunInstancesDenialIsAFleetError(t *testing.T) {
	h := newHarness(t, withPolicy(t, `{"Sid": "NoInstances", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:instance/*"}`))
	lt := clusterTemplate(t, h, "tailor-lt")
	in := h.fleetInput(lt, "on-demand", 1, [2]string{"m5.large", "us-east-1a"}, [2]string{"m5.large", "us-east-1b"})
	in.TagSpecifications = clusterTags(allLaunchTags[:4]...)
	out, err := h.ec2.CreateFleet(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateFleet: %v", err)
	}
	if len(out.Instances) != 0 || len(out.Errors) != 2 {
		t.Fatalf("launched %d, %d errors; want nothing launched and one error per override", len(out.Instances), len(out.Errors))
	}
	for _, e := range out.Errors {
		if aws.ToString(e.ErrorCode) != "UnauthorizedOperation" || e.LaunchTemplateAndOverrides == nil {
			t.Errorf("fleet error %s for %+v, want UnauthorizedOperation for an override", aws.ToString(e.ErrorCode), e.LaunchTemplateAndOverrides)
		}
		msg := aws.ToString(e.ErrorMessage)
		checkMessage(t, msg, "ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/*")
		if !strings.Contains(msg, "with an explicit deny in an identity-based policy") {
			t.Errorf("message does not say the deny was explicit: %s", msg)
		}
	}
}

func TestIAMJSONServices(t *testing.T) {
	h := newHarness(t, withPolicy(t))
	ctx := t.Context()
	if _, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id")}); err != nil {
		t.Errorf("GetParameter of an EKS alias: %v", err)
	}
	_, err := h.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/team/secret")})
	accessDenied(t, err, "AccessDeniedException", http.StatusBadRequest,
		"is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:123456789012:parameter/team/secret because")
	_, err = h.ssm.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/aws/service/eks/optimized-ami/1.34/amazon-linux-2023/x86_64/standard/recommended/image_id"}})
	accessDenied(t, err, "AccessDeniedException", http.StatusBadRequest, "ssm:GetParameters on resource: arn:aws:ssm:us-east-1::parameter/aws/service/")

	url := h.queueURL()
	if _, err := h.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); err != nil {
		t.Errorf("ReceiveMessage: %v", err)
	}
	_, err = h.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("{}")})
	accessDenied(t, err, "AccessDenied", http.StatusForbidden,
		"is not authorized to perform: sqs:sendmessage on resource: arn:aws:sqs:us-east-1:123456789012:tailor because no identity-based policy allows the sqs:sendmessage action")
	_, err = h.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("other")})
	accessDenied(t, err, "AccessDenied", http.StatusForbidden, "sqs:getqueueurl on resource: arn:aws:sqs:us-east-1:123456789012:other")

	if _, err := h.pricing.GetProducts(ctx, &pricing.GetProductsInput{ServiceCode: aws.String("AmazonEC2")}); err != nil {
		t.Errorf("GetProducts: %v", err)
	}
}

func accessDenied(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("error = %v, want %s containing %q", err, code, msg)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Errorf("status of %v: want %d", err, status)
	}
}

func TestLoadIAMPolicy(t *testing.T) {
	for setting, want := range map[string][]byte{"": nil, "off": nil, "builtin": iampolicy.Controller} {
		got, err := LoadIAMPolicy(setting)
		if err != nil || string(got) != string(want) {
			t.Errorf("LoadIAMPolicy(%q) = %d bytes, %v", setting, len(got), err)
		}
	}
	if _, err := LoadIAMPolicy(t.TempDir() + "/missing.json"); err == nil {
		t.Error("a missing policy file was accepted")
	}
}

func TestIAMAdminLiftsAndRestoresTheConfiguredPolicy(t *testing.T) {
	h := newHarness(t, withPolicy(t))
	send := func() error {
		_, err := h.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(h.queueURL()), MessageBody: aws.String("{}")})
		return err
	}
	if err := send(); errorCode(err) != "AccessDenied" {
		t.Fatalf("SendMessage under the controller policy = %v, want AccessDenied", err)
	}
	var st IAMState
	if code := h.admin(http.MethodPut, "/admin/iam", IAMState{Enforce: false}, &st); code != http.StatusOK || st.Enforce {
		t.Fatalf("PUT /admin/iam enforce=false: %d %+v", code, st)
	}
	if err := send(); err != nil {
		t.Errorf("SendMessage with the policy lifted: %v", err)
	}
	if code := h.admin(http.MethodPut, "/admin/iam", IAMState{Enforce: true}, &st); code != http.StatusOK || !st.Enforce {
		t.Fatalf("PUT /admin/iam enforce=true: %d %+v", code, st)
	}
	if err := send(); errorCode(err) != "AccessDenied" {
		t.Errorf("SendMessage with the policy restored = %v, want AccessDenied", err)
	}
	off := newHarness(t, nil)
	if code := off.admin(http.MethodPut, "/admin/iam", IAMState{Enforce: true}, nil); code != http.StatusBadRequest {
		t.Errorf("enforcing without a configured policy answered %d, want 400", code)
	}
}
