package cloudprovider

import "errors"

// NodeClaimNotFoundError means the machine behind a NodeClaim does not exist (any more). Callers treat it as done:
// a deleted machine stays deleted.
type NodeClaimNotFoundError struct {
	err error
}

// NewNodeClaimNotFoundError wraps err, which says what was looked for.
func NewNodeClaimNotFoundError(err error) *NodeClaimNotFoundError {
	return &NodeClaimNotFoundError{err: err}
}

func (e *NodeClaimNotFoundError) Error() string { return "nodeclaim not found: " + errString(e.err) }

// Unwrap returns the wrapped error.
func (e *NodeClaimNotFoundError) Unwrap() error { return e.err }

// IsNodeClaimNotFoundError reports whether err is, or wraps, a NodeClaimNotFoundError.
func IsNodeClaimNotFoundError(err error) bool {
	var target *NodeClaimNotFoundError
	return errors.As(err, &target)
}

// IgnoreNodeClaimNotFoundError returns nil for a NodeClaimNotFoundError and err otherwise.
func IgnoreNodeClaimNotFoundError(err error) error {
	if IsNodeClaimNotFoundError(err) {
		return nil
	}
	return err
}

// InsufficientCapacityError means no offering the NodeClaim allows had capacity. The offerings that failed are
// marked unavailable for a while, so planning again picks others.
type InsufficientCapacityError struct {
	err error
}

// NewInsufficientCapacityError wraps err, which says which offerings were tried.
func NewInsufficientCapacityError(err error) *InsufficientCapacityError {
	return &InsufficientCapacityError{err: err}
}

func (e *InsufficientCapacityError) Error() string {
	return "insufficient capacity: " + errString(e.err)
}

// Unwrap returns the wrapped error.
func (e *InsufficientCapacityError) Unwrap() error { return e.err }

// IsInsufficientCapacityError reports whether err is, or wraps, an InsufficientCapacityError.
func IsInsufficientCapacityError(err error) bool {
	var target *InsufficientCapacityError
	return errors.As(err, &target)
}

// IgnoreInsufficientCapacityError returns nil for an InsufficientCapacityError and err otherwise.
func IgnoreInsufficientCapacityError(err error) error {
	if IsInsufficientCapacityError(err) {
		return nil
	}
	return err
}

// NodeClassNotReadyError means the node class a NodePool or NodeClaim refers to is missing or has not resolved
// (its Ready condition is not True); nothing can launch from it until it does.
type NodeClassNotReadyError struct {
	err error
}

// NewNodeClassNotReadyError wraps err, which names the node class and why it is not ready.
func NewNodeClassNotReadyError(err error) *NodeClassNotReadyError {
	return &NodeClassNotReadyError{err: err}
}

func (e *NodeClassNotReadyError) Error() string { return "node class not ready: " + errString(e.err) }

// Unwrap returns the wrapped error.
func (e *NodeClassNotReadyError) Unwrap() error { return e.err }

// IsNodeClassNotReadyError reports whether err is, or wraps, a NodeClassNotReadyError.
func IsNodeClassNotReadyError(err error) bool {
	var target *NodeClassNotReadyError
	return errors.As(err, &target)
}

// IgnoreNodeClassNotReadyError returns nil for a NodeClassNotReadyError and err otherwise.
func IgnoreNodeClassNotReadyError(err error) error {
	if IsNodeClassNotReadyError(err) {
		return nil
	}
	return err
}

func errString(err error) string {
	if err == nil {
		return "(no detail)"
	}
	return err.Error()
}

// Compile-time checks that the typed errors are errors.
var (
	_ error = (*NodeClaimNotFoundError)(nil)
	_ error = (*InsufficientCapacityError)(nil)
	_ error = (*NodeClassNotReadyError)(nil)
)
