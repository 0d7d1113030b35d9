//go:build !linux

package scheduling

// peakRSS is not measured outside Linux (ru_maxrss is in other units or absent there).
func peakRSS() (int64, bool) { return 0, false }
