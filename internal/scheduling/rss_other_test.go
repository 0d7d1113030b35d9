//go:build !linux

package scheduling

import "time"

// processUsage is not measured outside Linux (ru_maxrss is in other units or absent there).
func processUsage() (cpu time.Duration, peakRSS int64, ok bool) { return 0, 0, false }
