// Package version reports the build's version, stamped with -ldflags "-X".
package version

import (
	"fmt"
	"runtime"
)

// Version and Commit are set at build time: -X github.com/tailor-sh/tailor/internal/version.Version=v0.1.0.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is the one-line form printed by `tailor version`.
func String() string {
	return fmt.Sprintf("tailor %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
