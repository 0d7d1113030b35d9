package catalog

import (
	"bytes"
	"testing"
)

// BenchmarkParse measures reading and validating the embedded catalogue from JSON (done once per process).
func BenchmarkParse(b *testing.B) {
	data, err := embedded.ReadFile("data/" + DefaultName + ".json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad measures Load after the first call: a copy of the cached catalogue.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(DefaultName); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToInstanceTypes(b *testing.B) {
	c := MustLoad(DefaultName)
	for b.Loop() {
		if len(c.ToInstanceTypes(Options{})) == 0 {
			b.Fatal("no instance types")
		}
	}
}
