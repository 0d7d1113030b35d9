package v1

import (
	"fmt"
	"time"
)

// NillableDuration is a duration written with hours, minutes and seconds the way Go writes them ("720h", "1h30m",
// "30s"), or "Never". It travels as a plain string so the API server can validate it and "Never" needs no special
// encoding.
type NillableDuration string

// Never turns a NillableDuration limit off.
const Never NillableDuration = "Never"

// IsNever reports whether d is Never.
func (d NillableDuration) IsNever() bool { return d == Never }

// Duration parses d. ok is false when d is Never or empty (no limit). The API server only admits values that parse;
// err is for values built in code.
func (d NillableDuration) Duration() (dur time.Duration, ok bool, err error) {
	if d == "" || d.IsNever() {
		return 0, false, nil
	}
	dur, err = time.ParseDuration(string(d))
	if err != nil {
		return 0, false, fmt.Errorf("parsing duration %q: %w", string(d), err)
	}
	if dur < 0 {
		return 0, false, fmt.Errorf("parsing duration %q: must not be negative", string(d))
	}
	return dur, true, nil
}

// NewNillableDuration writes dur the way the API server accepts it ("1h30m0s"), dropping any fraction of a second.
// dur must not be negative.
func NewNillableDuration(dur time.Duration) NillableDuration {
	return NillableDuration(dur.Truncate(time.Second).String())
}
