package chaos

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tailor-sh/tailor/internal/testenv"
)

var (
	cycles = flag.Int("chaos.cycles", 10, "controller SIGKILL-and-restart cycles of the crash scenario (make chaos: 100)")
	seed   = flag.Uint64("chaos.seed", 1, "seed of the workload sequence, the kill moments and ec2sim's faults")
	report = flag.String("chaos.report", "", "write the run's summary to this Markdown file (make chaos: docs/reliability.md)")
	// The NodeClaim liveness timeout (nodeclaim.RegistrationTTL, 15 minutes) is a constant, not a flag: the
	// never-registering-instance scenario has to wait it out, so only the long run includes it.
	liveness = flag.Bool("chaos.liveness", false, "also launch instances that never register and wait out the 15-minute liveness timeout")
	// With the controller's default lease (10 s lease, 2 s retry period) a follower retries every 2–4.4 s (client-go
	// jitters the period by up to 1.2×), sees the leader's last renewal up to 4.4 s late, and takes the Lease once
	// 10 s have passed since it saw it: 10–19 s after a SIGKILL, plus the new leader's start-up and its 0.5 s batch
	// window. make test asserts that arithmetic with margin (25 s), make chaos the 20 s target.
	failoverBudget = flag.Duration("chaos.failover-budget", 25*time.Second, "longest a leader failover may take (SIGKILL to the new leader's first action)")
	failovers      = flag.Int("chaos.failovers", 1, "leader kills of the failover scenario")
)

// env is the control plane every scenario shares; each scenario runs its own ec2sim and controller(s).
var env *testenv.Environment

// binDir holds tailor and ec2sim built once from the tree for every scenario.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	summary.readCommit()
	dir, err := os.MkdirTemp("", "tailor-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binDir = dir
	code := testenv.Main(m, testenv.Options{}, &env)
	fmt.Fprintln(os.Stderr, summary.table())
	if *report != "" {
		if err := summary.write(*report); err != nil {
			fmt.Fprintln(os.Stderr, "writing the report:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
