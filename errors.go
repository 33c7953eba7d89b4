package tierup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Code is a stable, machine-readable error code. Clients switch on it; the
// HTTP API returns it as the "code" member of an RFC 9457 problem.
type Code string

// Error codes. Each names one reason a request was refused.
const (
	CodeInvalid                   Code = "validation_failed"
	CodeNotFound                  Code = "not_found"
	CodeUnauthenticated           Code = "unauthenticated"
	CodeForbidden                 Code = "forbidden"
	CodeConflict                  Code = "conflict"
	CodeInternal                  Code = "internal"
	CodeUnknownPlan               Code = "unknown_plan"
	CodePlanUnavailable           Code = "plan_unavailable"
	CodeSamePlan                  Code = "same_plan"
	CodeNotAnUpgrade              Code = "not_an_upgrade"
	CodeCurrencyMismatch          Code = "currency_mismatch"
	CodeRemainingExceedsNewPeriod Code = "remaining_exceeds_new_period"
	CodeUpgradeInProgress         Code = "upgrade_in_progress"
	CodeEmailTaken                Code = "email_taken"
	CodeClockNotForward           Code = "clock_not_forward"
	CodeSandboxDisabled           Code = "sandbox_disabled"
	CodeResourceShortage          Code = "resource_shortage"
	CodeClusterUnreachable        Code = "cluster_unreachable"
	CodeGatewayUnavailable        Code = "gateway_unavailable"
	CodeInvalidCard               Code = "invalid_card"
	CodeTermsNotAccepted          Code = "terms_not_accepted"
	CodeIdempotencyKeyReused      Code = "idempotency_key_reused"
	CodeTooManyPaymentAttempts    Code = "too_many_payment_attempts"
	CodeQuoteExpired              Code = "quote_expired"
	CodeQuoteUsed                 Code = "quote_used"
	CodeQuoteInvalid              Code = "quote_invalid"
	CodeInvalidState              Code = "invalid_state"
	CodeMigrationFailed           Code = "migration_failed"
	CodePaymentMethodInUse        Code = "payment_method_in_use"
	CodeMigrationNotPossible      Code = "migration_not_possible"
	// CodeNotReady: a readiness check failed (the database, its schema or
	// the job queue); the process should get no traffic for now.
	CodeNotReady Code = "not_ready"
	// CodeDatabaseUnavailable: the database cannot be reached or cannot
	// write (its disk is full); nothing was changed, and the same request
	// succeeds once it is back.
	CodeDatabaseUnavailable Code = "database_unavailable"
)

// Error is a domain error: a code for machines, a message for people and,
// for validation failures, the offending fields. Compare with errors.Is
// against a sentinel of the same code, e.g. errors.Is(err, ErrNotAnUpgrade).
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
}

// FieldError names one bad input field. Location is a JSON path such as
// "body.timezone"; Message says what is wrong without echoing secrets.
type FieldError struct {
	Location string
	Message  string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return e.Message
}

// Is matches any *Error with the same code, so sentinels work with errors.Is.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error listing the bad fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Message
	}
	return &Error{Code: CodeInvalid, Message: msg, Fields: fields}
}

// ErrorCode returns the code of err, CodeInternal for errors that are not
// domain errors.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinels for errors.Is, one per code. errors.Is(err, ErrInternal)
// matches only an *Error of CodeInternal, not every error ErrorCode calls
// internal.
var (
	ErrInvalid                   = &Error{Code: CodeInvalid}
	ErrNotFound                  = &Error{Code: CodeNotFound}
	ErrUnauthenticated           = &Error{Code: CodeUnauthenticated}
	ErrForbidden                 = &Error{Code: CodeForbidden}
	ErrConflict                  = &Error{Code: CodeConflict}
	ErrInternal                  = &Error{Code: CodeInternal}
	ErrUnknownPlan               = &Error{Code: CodeUnknownPlan}
	ErrPlanUnavailable           = &Error{Code: CodePlanUnavailable}
	ErrSamePlan                  = &Error{Code: CodeSamePlan}
	ErrNotAnUpgrade              = &Error{Code: CodeNotAnUpgrade}
	ErrCurrencyMismatch          = &Error{Code: CodeCurrencyMismatch}
	ErrRemainingExceedsNewPeriod = &Error{Code: CodeRemainingExceedsNewPeriod}
	ErrUpgradeInProgress         = &Error{Code: CodeUpgradeInProgress}
	ErrEmailTaken                = &Error{Code: CodeEmailTaken}
	ErrClockNotForward           = &Error{Code: CodeClockNotForward}
	ErrSandboxDisabled           = &Error{Code: CodeSandboxDisabled}
	ErrResourceShortage          = &Error{Code: CodeResourceShortage}
	ErrClusterUnreachable        = &Error{Code: CodeClusterUnreachable}
	ErrGatewayUnavailable        = &Error{Code: CodeGatewayUnavailable}
	ErrDatabaseUnavailable       = &Error{Code: CodeDatabaseUnavailable}
	ErrInvalidCard               = &Error{Code: CodeInvalidCard}
	ErrTermsNotAccepted          = &Error{Code: CodeTermsNotAccepted}
	ErrIdempotencyKeyReused      = &Error{Code: CodeIdempotencyKeyReused}
	ErrTooManyPaymentAttempts    = &Error{Code: CodeTooManyPaymentAttempts}
	ErrQuoteExpired              = &Error{Code: CodeQuoteExpired}
	ErrQuoteUsed                 = &Error{Code: CodeQuoteUsed}
	ErrQuoteInvalid              = &Error{Code: CodeQuoteInvalid}
	ErrInvalidState              = &Error{Code: CodeInvalidState}
	ErrMigrationFailed           = &Error{Code: CodeMigrationFailed}
	ErrMigrationNotPossible      = &Error{Code: CodeMigrationNotPossible}
	ErrPaymentMethodInUse        = &Error{Code: CodePaymentMethodInUse}
	ErrNotReady                  = &Error{Code: CodeNotReady}
)

// MissingDeps returns an error naming, in order, the dependencies of
// component that present reports absent, or nil when none is: a
// constructor's check that a missing part fails at start-up, never as a
// nil at run time.
func MissingDeps(component string, present map[string]bool) error {
	var missing []string
	for name, ok := range present {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%s: missing dependencies: %s", component, strings.Join(missing, ", "))
}
