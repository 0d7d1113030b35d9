package v1

import (
	"fmt"
	"time"
)

// DoNotDisruptForever is the tailor.sh/do-not-disrupt value that protects a pod or node for as long as it carries it.
const DoNotDisruptForever = "true"

// DoNotDisrupt reads a tailor.sh/do-not-disrupt value set on an object that started at start (a pod's
// status.startTime, or its creation before it started; a node's or NodeClaim's creation).
//
//   - "true" protects for ever (until is zero);
//   - a positive duration ("30m", "2h", "90s") protects until start+duration;
//   - "" (or no annotation) and "false" do not protect;
//   - anything else protects for ever and returns an error naming the annotation and the fix: a typo must not be
//     what lets a node go.
func DoNotDisrupt(value string, start, now time.Time) (protected bool, until time.Time, err error) {
	switch value {
	case "", "false":
		return false, time.Time{}, nil
	case DoNotDisruptForever:
		return true, time.Time{}, nil
	}
	d, perr := time.ParseDuration(value)
	if perr != nil || d <= 0 {
		return true, time.Time{}, fmt.Errorf("annotation %s=%q is neither %q nor a positive duration such as \"30m\"; "+
			"treated as %q (never disrupted) until it is fixed", DoNotDisruptAnnotationKey, value, DoNotDisruptForever, DoNotDisruptForever)
	}
	until = start.Add(d)
	return now.Before(until), until, nil
}
