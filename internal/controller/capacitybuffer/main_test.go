package capacitybuffer

import (
	"os"
	"testing"

	"github.com/tailor-sh/tailor/internal/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{APIServerOnly: true}, &env))
}
