package cloudprovider

import (
	"errors"
	"fmt"
	"testing"
)

func TestTypedErrors(t *testing.T) {
	cause := errors.New("instance i-1 is gone")
	tests := []struct {
		name          string
		err           error
		notFound      bool
		insufficient  bool
		nodeClassNotR bool
		message       string
	}{
		{name: "not found", err: NewNodeClaimNotFoundError(cause), notFound: true,
			message: "nodeclaim not found: instance i-1 is gone"},
		{name: "not found wrapped", err: fmt.Errorf("deleting: %w", NewNodeClaimNotFoundError(cause)), notFound: true,
			message: "deleting: nodeclaim not found: instance i-1 is gone"},
		{name: "insufficient capacity", err: NewInsufficientCapacityError(cause), insufficient: true,
			message: "insufficient capacity: instance i-1 is gone"},
		{name: "node class not ready", err: fmt.Errorf("x: %w", NewNodeClassNotReadyError(nil)), nodeClassNotR: true,
			message: "x: node class not ready: (no detail)"},
		{name: "plain", err: cause, message: "instance i-1 is gone"},
		{name: "nil", err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNodeClaimNotFoundError(tt.err); got != tt.notFound {
				t.Errorf("IsNodeClaimNotFoundError = %v, want %v", got, tt.notFound)
			}
			if got := IsInsufficientCapacityError(tt.err); got != tt.insufficient {
				t.Errorf("IsInsufficientCapacityError = %v, want %v", got, tt.insufficient)
			}
			if got := IsNodeClassNotReadyError(tt.err); got != tt.nodeClassNotR {
				t.Errorf("IsNodeClassNotReadyError = %v, want %v", got, tt.nodeClassNotR)
			}
			checkIgnore(t, "IgnoreNodeClaimNotFoundError", IgnoreNodeClaimNotFoundError(tt.err), tt.err, tt.notFound)
			checkIgnore(t, "IgnoreInsufficientCapacityError", IgnoreInsufficientCapacityError(tt.err), tt.err, tt.insufficient)
			checkIgnore(t, "IgnoreNodeClassNotReadyError", IgnoreNodeClassNotReadyError(tt.err), tt.err, tt.nodeClassNotR)
			if tt.err != nil && tt.err.Error() != tt.message {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.message)
			}
		})
	}
}

func checkIgnore(t *testing.T, name string, got, in error, ignored bool) {
	t.Helper()
	want := in
	if ignored {
		want = nil
	}
	if !errors.Is(got, want) || (want == nil) != (got == nil) {
		t.Errorf("%s(%v) = %v, want %v", name, in, got, want)
	}
}

func TestTypedErrorsUnwrapToCause(t *testing.T) {
	cause := errors.New("cause")
	for _, err := range []error{
		NewNodeClaimNotFoundError(cause), NewInsufficientCapacityError(cause), NewNodeClassNotReadyError(cause),
	} {
		if !errors.Is(err, cause) {
			t.Errorf("%T does not unwrap to its cause", err)
		}
	}
}
