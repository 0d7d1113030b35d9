package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

// process is one child of the control plane, its output going to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, valid once done is closed
}

// run starts bin/NAME with args, its output in LogDir/NAME.log. The child gets SIGKILL if this process dies
// (Linux parent-death signal), so a crashed test leaves no orphans.
func (e *Environment) run(name string, args ...string) (*process, error) {
	return e.startProgram(name, filepath.Join(e.opts.BinDir, name), args, nil)
}

// Process is a program started alongside the control plane (a simulated cloud, Tailor's controller).
type Process struct{ p *process }

// StartProcess runs the program at path as part of the environment: its output goes to LogDir/name.log, extraEnv
// is added to this process's environment, and Stop (or Environment.Stop, which stops it before the control plane)
// ends it.
func (e *Environment) StartProcess(name, path string, args, extraEnv []string) (*Process, error) {
	p, err := e.startProgram(name, path, args, extraEnv)
	if err != nil {
		return nil, err
	}
	return &Process{p: p}, nil
}

// Stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) error { return p.p.stop(grace) }

// Exited returns an error, with the end of the log, if the process is no longer running.
func (p *Process) Exited() error { return p.p.exited() }

// LogPath is the file holding the process's output.
func (p *Process) LogPath() string { return p.p.logPath }

func (e *Environment) startProgram(name, path string, args, extraEnv []string) (*process, error) {
	logPath := filepath.Join(e.opts.LogDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s's log: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	if len(extraEnv) > 0 {
		cmd.Env = append(os.Environ(), extraEnv...)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	e.procs = append(e.procs, p)
	e.opts.Logf("started %s (pid %d, log %s)", name, cmd.Process.Pid, logPath)
	return p, nil
}

// exited reports an error naming the process and the end of its log if it has already exited.
func (p *process) exited() error {
	select {
	case <-p.done:
		status := p.err
		if status == nil {
			status = errors.New("exit status 0")
		}
		return fmt.Errorf("%s exited (%w); last lines of %s:\n%s", p.name, status, p.logPath, LastLines(p.logPath, 20))
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs the process group.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// checkAlive fails when any started process has exited.
func (e *Environment) checkAlive() error {
	for _, p := range e.procs {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

// waitHTTP polls url until it answers 200, failing early if p exits. cfg, when set, supplies TLS and the token.
func waitHTTP(ctx context.Context, p *process, url string, cfg *rest.Config, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var token string
	if cfg != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cfg.CAData)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		token = cfg.BearerToken
	}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		_ = resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s at %s (last: %s; log %s): %w", p.name, url, last, p.logPath, err)
	}
	return nil
}

// waitFile waits for path to exist with content, failing early if p exits.
func waitFile(ctx context.Context, p *process, path string, timeout time.Duration) error {
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		st, err := os.Stat(path)
		return err == nil && st.Size() > 0, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to write %s: %w", p.name, path, err)
	}
	return nil
}

func checkBinaries(opts Options) error {
	names := []string{"etcd", "kube-apiserver"}
	if !opts.APIServerOnly {
		names = append(names, "kube-controller-manager", "kube-scheduler")
		if !opts.WithoutKWOK {
			names = append(names, "kwok")
		}
	}
	var missing []string
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(opts.BinDir, n)); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("control plane binaries missing from %s: %s; build them with `make tools`",
			opts.BinDir, strings.Join(missing, ", "))
	}
	return nil
}

// DefaultBinDir is $TAILOR_BIN_DIR, or bin/ at the root of the repository that holds the working directory.
func DefaultBinDir() (string, error) {
	if d := os.Getenv("TAILOR_BIN_DIR"); d != "" {
		return filepath.Abs(d)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// RepoRoot walks up from the working directory to the folder whose go.mod declares Tailor's module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/tailor-sh/tailor\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Tailor repository (no go.mod declaring github.com/tailor-sh/tailor above the working directory); set TAILOR_BIN_DIR")
		}
		dir = parent
	}
}
