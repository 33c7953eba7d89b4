// Package httpx holds what the two HTTP front ends, the API (httpapi) and
// the dashboard (web), must answer alike: the HTTP status of each domain
// error code and the client address they record. It lives outside the
// domain because HTTP statuses are an adapter's concern, and outside
// httpapi so that the dashboard need not import the API.
package httpx

import (
	"net"
	"net/http"

	"github.com/tierup/tierup"
)

// MaxBody bounds every request body, API call or dashboard form: none of
// them needs more.
const MaxBody = 64 << 10

// Status maps a domain error code to its HTTP status; codes it does not
// know, CodeInternal included, are 500.
func Status(code tierup.Code) int {
	switch code {
	case tierup.CodeInvalid, tierup.CodeUnknownPlan, tierup.CodePlanUnavailable, tierup.CodeSamePlan,
		tierup.CodeNotAnUpgrade, tierup.CodeCurrencyMismatch, tierup.CodeRemainingExceedsNewPeriod,
		tierup.CodeClockNotForward, tierup.CodeInvalidCard, tierup.CodeTermsNotAccepted, tierup.CodeIdempotencyKeyReused,
		tierup.CodeQuoteExpired, tierup.CodeQuoteInvalid, tierup.CodeMigrationNotPossible:
		return http.StatusUnprocessableEntity
	case tierup.CodeUpgradeInProgress, tierup.CodeEmailTaken, tierup.CodeConflict, tierup.CodeQuoteUsed, tierup.CodeInvalidState,
		tierup.CodePaymentMethodInUse:
		return http.StatusConflict
	case tierup.CodeTooManyPaymentAttempts:
		return http.StatusTooManyRequests
	case tierup.CodeGatewayUnavailable, tierup.CodeClusterUnreachable, tierup.CodeNotReady, tierup.CodeDatabaseUnavailable:
		return http.StatusServiceUnavailable
	case tierup.CodeNotFound, tierup.CodeSandboxDisabled:
		return http.StatusNotFound
	case tierup.CodeUnauthenticated:
		return http.StatusUnauthorized
	case tierup.CodeForbidden:
		return http.StatusForbidden
	case tierup.CodeInternal, tierup.CodeResourceShortage, tierup.CodeMigrationFailed:
		// Failures of the workflow, not of the request: their details stay
		// in the log.
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

// StatusOf is Status of err's code: 500 for an error that is not a domain
// error.
func StatusOf(err error) int { return Status(tierup.ErrorCode(err)) }

// ClientIP is the address a request came from, as both front ends record
// it (terms acceptance, logs): the peer's host, without the port. Headers
// are never read here; BehindProxy, when configured, has already put the
// proxy's client into the request's remote address.
func ClientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
