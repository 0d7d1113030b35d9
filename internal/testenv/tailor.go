package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// BuildTailor builds bin/tailor and bin/ec2sim from this repository's current source into dir, so end-to-end tests
// and the demo run the code as it is, not a stale build.
func BuildTailor(ctx context.Context, dir string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/tailor", "./cmd/ec2sim")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building tailor and ec2sim: %w\n%s", err, out)
	}
	return nil
}

// StackOptions configure the simulated AWS and Tailor's controller started next to the control plane.
type StackOptions struct {
	// BinDir holds tailor and ec2sim (see BuildTailor).
	BinDir string
	// ClusterName is the cluster both are told about; ec2sim tags its subnets and security groups
	// tailor.sh/discovery=<ClusterName>.
	ClusterName string
	// EC2SimArgs and ControllerArgs are added to the defaults (fast launches and boots; ec2sim enforcing the
	// documented IAM policy, --iam-policy=off to lift it; metrics and probes off).
	EC2SimArgs     []string
	ControllerArgs []string
	// ControllerEnv is added to the controller's environment (such as GOMEMLIMIT=1073741824).
	ControllerEnv []string
	// WithoutController starts ec2sim alone.
	WithoutController bool
}

// Stack is ec2sim and Tailor's controller running against an Environment.
type Stack struct {
	EC2Endpoint string
	EC2Sim      *Process
	Controller  *Process
	opts        StackOptions
	env         *Environment
	simArgs     []string // ec2sim's arguments, so RestartEC2Sim starts it the same way
	simEndpoint string   // the file ec2sim writes its endpoint URL to
}

// StartStack starts ec2sim (registering its instances as KWOK Nodes in the environment's cluster) and then Tailor's
// controller pointed at it with static test credentials.
func (e *Environment) StartStack(ctx context.Context, opts StackOptions) (*Stack, error) {
	if opts.ClusterName == "" {
		opts.ClusterName = "demo-cluster"
	}
	endpointFile := filepath.Join(e.Dir, "ec2sim-endpoint")
	_ = os.Remove(endpointFile)
	args := append([]string{
		"--addr=127.0.0.1:0",
		"--endpoint-file=" + endpointFile,
		"--kubeconfig=" + e.KubeconfigPath,
		"--cluster-name=" + opts.ClusterName,
		"--state-file=" + filepath.Join(e.Dir, "ec2sim-state.json"),
		"--launch-latency=300ms",
		"--boot-latency=500ms",
		"--terminate-latency=300ms",
		// Every call Tailor makes must pass the controller policy docs/aws-iam.md documents, as on AWS.
		"--iam-policy=builtin",
	}, opts.EC2SimArgs...)
	sim, err := e.StartProcess("ec2sim", filepath.Join(opts.BinDir, "ec2sim"), args, nil)
	if err != nil {
		return nil, err
	}
	s := &Stack{EC2Sim: sim, opts: opts, env: e, simArgs: args, simEndpoint: endpointFile}
	if s.EC2Endpoint, err = waitEndpoint(ctx, sim, endpointFile); err != nil {
		return nil, err
	}
	if !opts.WithoutController {
		if err := s.StartController(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// waitEndpoint waits for ec2sim to write its endpoint URL to file.
func waitEndpoint(ctx context.Context, sim *Process, file string) (string, error) {
	var endpoint string
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		if err := sim.Exited(); err != nil {
			return false, err
		}
		b, err := os.ReadFile(file)
		endpoint = strings.TrimSpace(string(b))
		return err == nil && endpoint != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for ec2sim's endpoint: %w", err)
	}
	return endpoint, nil
}

// StartController starts (or, after StopController, restarts) Tailor's controller.
func (s *Stack) StartController() error {
	p, err := s.StartReplica("tailor-controller")
	if err != nil {
		return err
	}
	s.Controller = p
	return nil
}

// StartReplica starts one more controller process, its output in LogDir/<name>.log, with the stack's arguments and
// extraArgs after them (later flags win). The caller stops it; Environment.Stop does too.
func (s *Stack) StartReplica(name string, extraArgs ...string) (*Process, error) {
	args := append([]string{
		"controller",
		"--cluster-name=" + s.opts.ClusterName,
		"--aws-region=us-east-1",
		"--aws-endpoint-url=" + s.EC2Endpoint,
		"--kubeconfig=" + s.env.KubeconfigPath,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--batch-idle-duration=500ms",
		"--batch-max-duration=5s",
		"--log-level=debug",
	}, s.opts.ControllerArgs...)
	args = append(args, extraArgs...)
	// Static credentials and no instance metadata: the SDK's default chain must not look beyond this process.
	// No custom CA bundle either: ec2sim speaks plain HTTP, and a bundle would keep the SDK on its own HTTP client.
	env := []string{"AWS_ACCESS_KEY_ID=tailor-test", "AWS_SECRET_ACCESS_KEY=tailor-test", "AWS_EC2_METADATA_DISABLED=true", "AWS_CA_BUNDLE="}
	env = append(env, s.opts.ControllerEnv...)
	return s.env.StartProcess(name, filepath.Join(s.opts.BinDir, "tailor"), args, env)
}

// StopController ends the controller (SIGTERM, then SIGKILL after grace).
func (s *Stack) StopController(grace time.Duration) error {
	if s.Controller == nil {
		return nil
	}
	err := s.Controller.Stop(grace)
	s.Controller = nil
	return err
}

// Stop ends the controller, then ec2sim.
func (s *Stack) Stop() error {
	err := s.StopController(10 * time.Second)
	if serr := s.EC2Sim.Stop(10 * time.Second); err == nil {
		err = serr
	}
	return err
}

// StopOnCleanup stops the stack when the test ends; when the test failed it first logs the last n lines of the
// controller's and ec2sim's logs.
func (s *Stack) StopOnCleanup(t testing.TB, n int) {
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []*Process{s.Controller, s.EC2Sim} {
				if p != nil {
					t.Logf("last lines of %s:\n%s", p.LogPath(), LastLines(p.LogPath(), n))
				}
			}
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stopping ec2sim and the controller: %v", err)
		}
	})
}

// LastLines is the end of a log file, at most n lines (or the error reading it).
func LastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitFor polls cond every 250 ms until it holds, failing the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func(context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		return cond(ctx), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
