// Package chaos holds Tailor's chaos suite: a seeded random workload runs against the real control plane, ec2sim
// and KWOK while the controller is SIGKILLed, its leader is killed, ec2sim injects cloud faults and restarts, and
// bad input is sent — and invariants (no leaked instance, no lost NodeClaim, no PodDisruptionBudget violated, no
// lost pod, every pod that fits Running, launches close to a fault-free run, goroutines stable) are checked on
// every change and at the end. `make test` runs a short version, `make chaos` the long one; see
// docs/reliability.md.
package chaos
