package e2e

import (
	"os"
	"testing"

	"github.com/tailor-sh/tailor/internal/testenv"
)

// env is the control plane every test in this package shares; each test works in its own namespace.
var env *testenv.Environment

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{}, &env))
}
