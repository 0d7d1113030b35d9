//go:build linux

package scheduling

import "syscall"

// peakRSS is the process's peak resident set in bytes (getrusage ru_maxrss, in KiB on Linux).
func peakRSS() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Maxrss << 10, true
}
