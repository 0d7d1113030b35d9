package testenv

import "syscall"

// sysProcAttr puts the child in its own process group (so Stop can kill all it spawned) and asks the kernel to
// SIGKILL it when the test process dies, even by SIGKILL.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
