package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Kill ends the process and its group at once with SIGKILL — no SIGTERM first, so it gets no chance to release a
// leader election Lease or finish a request — and waits for it to be gone.
func (p *Process) Kill() error {
	select {
	case <-p.p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.p.cmd.Process.Kill()
	select {
	case <-p.p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.p.name, p.p.cmd.Process.Pid)
	}
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.p.cmd.Process.Pid }

// KillController ends the controller with SIGKILL (see Process.Kill); StartController starts it again.
func (s *Stack) KillController() error {
	if s.Controller == nil {
		return nil
	}
	err := s.Controller.Kill()
	s.Controller = nil
	return err
}

// StateFile is the file ec2sim keeps its state in (the last --state-file among its arguments).
func (s *Stack) StateFile() string {
	file := ""
	for _, a := range s.simArgs {
		if v, ok := strings.CutPrefix(a, "--state-file="); ok {
			file = v
		}
	}
	return file
}

// RestartEC2Sim stops ec2sim (SIGTERM, SIGKILL after grace) and starts it again with the same arguments on the same
// address, so the controller's endpoint stays valid; with its state file it carries on with the same instances,
// capacity, faults and queued messages.
func (s *Stack) RestartEC2Sim(ctx context.Context, grace time.Duration) error {
	u, err := url.Parse(s.EC2Endpoint)
	if err != nil {
		return fmt.Errorf("parsing ec2sim's endpoint %q: %w", s.EC2Endpoint, err)
	}
	if err := s.EC2Sim.Stop(grace); err != nil {
		return fmt.Errorf("stopping ec2sim: %w", err)
	}
	_ = os.Remove(s.simEndpoint)
	args := append(append([]string{}, s.simArgs...), "--addr="+u.Host)
	sim, err := s.env.StartProcess("ec2sim", filepath.Join(s.opts.BinDir, "ec2sim"), args, nil)
	if err != nil {
		return err
	}
	s.EC2Sim = sim
	endpoint, err := waitEndpoint(ctx, sim, s.simEndpoint)
	if err != nil {
		return err
	}
	if endpoint != s.EC2Endpoint {
		return fmt.Errorf("ec2sim came back on %s, not %s", endpoint, s.EC2Endpoint)
	}
	return nil
}
