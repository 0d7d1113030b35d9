// Package operator turns `tailor controller`'s flags into a validated Options and a controller-runtime manager with
// leader election, health probes, metrics and structured logs. The controllers themselves are wired in
// cmd/tailor; this package knows none of them.
package operator
