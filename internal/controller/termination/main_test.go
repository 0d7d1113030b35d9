package termination

import (
	"os"
	"testing"

	"github.com/tailor-sh/tailor/internal/testenv"
)

var env *testenv.Environment

// The full control plane: the disruption controller of kube-controller-manager keeps PodDisruptionBudgets' status,
// which the Eviction API reads, and KWOK runs and deletes the pods.
func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{}, &env))
}
