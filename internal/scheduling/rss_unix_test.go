//go:build linux

package scheduling

import (
	"syscall"
	"time"
)

// processUsage is the CPU time (user and system, every thread) the process has used so far and its peak resident
// set in bytes (getrusage; ru_maxrss is in KiB on Linux).
func processUsage() (cpu time.Duration, peakRSS int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss << 10, true
}
