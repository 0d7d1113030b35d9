package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runTailor(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

func TestCatalogListCommand(t *testing.T) {
	out, err := runTailor(t, "catalog", "list")
	if err != nil {
		t.Fatalf("catalog list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 502 {
		t.Fatalf("catalog list printed %d lines, want a header, at least 500 types and a summary", len(lines))
	}
	if !strings.HasPrefix(lines[0], "NAME ") || !strings.HasSuffix(lines[len(lines)-1], "instance types in aws-us-east-1 version 2026-01-19.2") {
		t.Errorf("header %q / summary %q", lines[0], lines[len(lines)-1])
	}
	var m5 string
	for _, l := range lines {
		if strings.HasPrefix(l, "m5.large ") {
			m5 = strings.Join(strings.Fields(l), " ")
		}
	}
	if want := "m5.large amd64 2 8Gi 29 - 0.0960"; !strings.HasPrefix(m5, want) {
		t.Errorf("m5.large row = %q, want it to start with %q", m5, want)
	}
}

func TestCatalogListJSONThroughInstanceTypes(t *testing.T) {
	out, err := runTailor(t, "catalog", "list", "-o", "json")
	if err != nil {
		t.Fatalf("catalog list -o json: %v", err)
	}
	file := filepath.Join(t.TempDir(), "types.json")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := runTailor(t, "catalog", "list", "-o", "json", "--instance-types", file)
	if err != nil {
		t.Fatalf("catalog list --instance-types: %v", err)
	}
	if again != out {
		t.Error("listing the json output as a custom catalogue printed different json")
	}
}

func TestCatalogListFlagErrors(t *testing.T) {
	_, err := runTailor(t, "catalog", "list", "--catalog", "aws-us-east-1", "--instance-types", "x.json")
	if err == nil || !strings.Contains(err.Error(), "[catalog instance-types] were all set") {
		t.Errorf("both sources: error = %v, want cobra's mutually exclusive flags error", err)
	}
	_, err = runTailor(t, "catalog", "list", "--instance-types", filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "opening instance types file") {
		t.Errorf("missing file: error = %v", err)
	}
}
