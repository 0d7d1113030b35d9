package iampolicy

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestDocumentedPolicyIsTheFile proves docs/aws-iam.md shows the embedded policy verbatim: its one JSON block is
// byte-equal to controller-policy.json.
func TestDocumentedPolicyIsTheFile(t *testing.T) {
	doc, err := os.ReadFile("../../docs/aws-iam.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```json\n(.*?)^```$").FindAllSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("docs/aws-iam.md has %d JSON blocks, want exactly the controller's policy", len(blocks))
	}
	if got := blocks[0][1]; !bytes.Equal(got, Controller) {
		t.Errorf("the JSON block of docs/aws-iam.md differs from internal/iampolicy/controller-policy.json; copy the file into the doc.\ndoc:\n%s\nfile:\n%s", got, Controller)
	}
}

func TestSubstituteLeavesValidJSONWithoutPlaceholders(t *testing.T) {
	out := Substitute(Controller, Values{Cluster: "c1", Region: "us-east-1", Account: "123456789012", Queue: "q", NodeRole: "r"})
	if m := regexp.MustCompile(`<[a-z-]+>`).Find(out); m != nil {
		t.Errorf("placeholder %s left after Substitute", m)
	}
	var v struct {
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("substituted policy is not JSON: %v", err)
	}
	if len(v.Statement) == 0 {
		t.Error("substituted policy has no statements")
	}
	if !bytes.Contains(out, []byte(`"aws:ResourceTag/tailor.sh/cluster": "c1"`)) {
		t.Error("cluster placeholder not substituted in conditions")
	}
}
