package ec2sim

import (
	"errors"
	"fmt"
	"net/http"
)

// apiError is an error AWS would answer: an HTTP status, an error code clients switch on, and a message.
type apiError struct {
	Status  int
	Code    string
	Message string
	// Sender is true for client faults (4xx); JSON protocols that are query-compatible (SQS) report it.
	Sender bool
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// asAPIError turns any error into an apiError, an internal one unless it already is an API error.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
}

func errBadRequest(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...), Sender: true}
}

func errMissingParameter(name string) *apiError {
	return errBadRequest("MissingParameter", "The request must contain the parameter %s", name)
}

func errInvalidParameterValue(format string, args ...any) *apiError {
	return errBadRequest("InvalidParameterValue", format, args...)
}
