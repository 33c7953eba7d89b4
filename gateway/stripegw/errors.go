package stripegw

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/stripe/stripe-go/v84"
	"github.com/tierup/tierup"
)

// PaymentError codes this package sets itself, named after the shared
// tierup.PaymentCode constants they are. Card failures keep Stripe's
// own codes instead (card_declined, expired_card, incorrect_cvc,
// processing_error, …) with Stripe's decline code, and other requests
// Stripe refuses keep Stripe's code when it gives one.
const (
	// CodeGatewayUnavailable: Stripe could not be reached (connection
	// refused, DNS, TLS); nothing was sent. Unavailable, and Retryable:
	// the same key is safe once Stripe is back.
	CodeGatewayUnavailable = tierup.PayCodeGatewayUnavailable
	// CodeMisconfigured: Stripe refused our API key (HTTP 401/403). Not the
	// customer's fault, so Unavailable and Retryable like an outage:
	// upgrades wait until the key is fixed. Stripe keeps no idempotent
	// result for unauthenticated requests.
	CodeMisconfigured = tierup.PayCodeGatewayMisconfigured
	// CodeTimeout: the request was sent (or may have been) but no answer
	// came in time. Retryable, OutcomeUnknown.
	CodeTimeout = tierup.PayCodeTimeout
	// CodeProcessingError: Stripe answered 5xx or something unreadable
	// (Retryable, OutcomeUnknown), or a card processing error (Retryable:
	// the card was not charged).
	CodeProcessingError = tierup.PayCodeProcessingError
	// CodeRateLimited: Stripe answered 429. Retryable.
	CodeRateLimited = tierup.PayCodeRateLimited
	// CodeIdempotencyKeyReused: the key was used before with other
	// parameters; Stripe did nothing.
	CodeIdempotencyKeyReused = tierup.PayCodeIdempotencyKeyReused
	// CodeIdempotencyKeyInUse: a request with the same key is still
	// running. Retryable, OutcomeUnknown.
	CodeIdempotencyKeyInUse = tierup.PayCodeIdempotencyKeyInUse
	// CodeInvalidRequest: Stripe refused the request without a more
	// specific code; retrying the same request cannot help.
	CodeInvalidRequest = tierup.PayCodeInvalidRequest
	// CodeAuthenticationRequired: the bank wants 3-D Secure, which a
	// server-side charge cannot do.
	CodeAuthenticationRequired = tierup.PayCodeAuthenticationRequired
	// CodePaymentFailed: the PaymentIntent ended unpaid without a card
	// error to explain it.
	CodePaymentFailed = tierup.PayCodePaymentFailed
	// CodePaymentPending: the PaymentIntent is still processing; its
	// outcome arrives by webhook (payment_intent.succeeded or
	// payment_intent.payment_failed). Retryable, although a retry with the
	// same key only replays "processing": it keeps the upgrade open until
	// someone looks, where a decline would invite the customer to pay again
	// with another card while this payment may still go through.
	CodePaymentPending = tierup.PayCodePaymentPending
	// CodeRefundFailed: Stripe created the refund but it failed or was
	// canceled.
	CodeRefundFailed = tierup.PayCodeRefundFailed
	// CodeTokenizationUnsupported: see Gateway.TokenizeCard.
	CodeTokenizationUnsupported = tierup.PayCodeTokenizationUnsupported
)

// mapError turns an error from stripe-go into a *tierup.PaymentError and
// logs what Stripe support would need. Only a cancellation by the caller
// stays a plain error (wrapping context.Canceled): nobody is waiting for
// the answer, and the outcome is unknown, so the caller retries with the
// same key.
func (g *Gateway) mapError(ctx context.Context, op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		perr := fromStripeError(se)
		attrs := []any{
			"op", op, "request_id", se.RequestID, "status", se.HTTPStatusCode,
			"type", string(se.Type), "stripe_code", string(se.Code), "decline_code", string(se.DeclineCode),
			"param", se.Param, "stripe_message", se.Msg, "code", perr.Code, "retryable", perr.Retryable,
		}
		if se.PaymentIntent != nil {
			attrs = append(attrs, "payment_intent", se.PaymentIntent.ID)
		}
		g.log.WarnContext(ctx, "stripe request failed", attrs...)
		return perr
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("stripegw: %s canceled: %w", op, err)
	}
	perr := fromTransportError(err)
	g.log.WarnContext(ctx, "stripe request failed", "op", op, "err", err.Error(), "code", perr.Code,
		"retryable", perr.Retryable, "unavailable", perr.Unavailable)
	return perr
}

// fromStripeError maps an error response from Stripe. The order matters:
// a 429 or 5xx is transient whatever its type, and card errors (HTTP 402)
// are checked before the catch-all for refused requests.
func fromStripeError(se *stripe.Error) *tierup.PaymentError {
	status := se.HTTPStatusCode
	switch {
	case se.Type == stripe.ErrorTypeIdempotency:
		return &tierup.PaymentError{
			Code:    CodeIdempotencyKeyReused,
			Message: "This payment conflicts with an earlier request that had different details, so it was not processed. You have not been charged for it.",
		}
	case se.Code == stripe.ErrorCodeIdempotencyKeyInUse:
		return &tierup.PaymentError{
			Code:           CodeIdempotencyKeyInUse,
			Message:        "This payment is already being processed. Please wait a moment.",
			Retryable:      true,
			OutcomeUnknown: true,
		}
	case status == http.StatusTooManyRequests:
		return &tierup.PaymentError{
			Code:      CodeRateLimited,
			Message:   "The payment service is busy right now. The payment will be tried again shortly; you won't be charged twice.",
			Retryable: true,
		}
	case status >= 500 || se.Type == stripe.ErrorTypeAPI:
		// Stripe: a 500 may or may not have been carried out.
		return &tierup.PaymentError{
			Code:           CodeProcessingError,
			Message:        "The payment service had a temporary problem. The payment will be tried again; you won't be charged twice.",
			Retryable:      true,
			OutcomeUnknown: true,
		}
	case se.Type == stripe.ErrorTypeCard:
		return cardError(tierup.PaymentCode(se.Code), string(se.DeclineCode))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &tierup.PaymentError{
			Code:        CodeMisconfigured,
			Message:     "Payments are temporarily unavailable. You have not been charged.",
			Retryable:   true,
			Unavailable: true,
		}
	case status == http.StatusConflict:
		// Stripe's lock conflicts: another request touched the same object.
		return &tierup.PaymentError{
			Code:      CodeProcessingError,
			Message:   "The payment service was busy with a related request. The payment will be tried again; you won't be charged twice.",
			Retryable: true,
		}
	}
	code := tierup.PaymentCode(se.Code)
	if code == "" {
		code = CodeInvalidRequest
	}
	return &tierup.PaymentError{Code: code, Message: invalidRequestMessage(se)}
}

// fromTransportError maps a failure below HTTP. Failing before a
// connection exists means Stripe never saw the request: Unavailable. Once
// the request may have been sent the outcome is unknown, and a retry with
// the same idempotency key is the only safe way to learn it: Retryable.
func fromTransportError(err error) *tierup.PaymentError {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		certErr *tls.CertificateVerificationError
		authErr x509.UnknownAuthorityError
		hostErr x509.HostnameError
	)
	switch {
	case errors.As(err, &dnsErr),
		errors.As(err, &opErr) && opErr.Op == "dial",
		errors.As(err, &certErr), errors.As(err, &authErr), errors.As(err, &hostErr):
		return &tierup.PaymentError{
			Code:        CodeGatewayUnavailable,
			Message:     "The payment service can't be reached right now. You have not been charged; the payment will be tried again when it is back.",
			Retryable:   true,
			Unavailable: true,
		}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &tierup.PaymentError{
			Code:           CodeTimeout,
			Message:        "The payment service didn't answer in time. The payment will be tried again; you won't be charged twice.",
			Retryable:      true,
			OutcomeUnknown: true,
		}
	}
	// A dropped connection, or an answer that was not Stripe's JSON (say a
	// proxy's HTML 502).
	return &tierup.PaymentError{
		Code:           CodeProcessingError,
		Message:        "The payment service had a temporary problem. The payment will be tried again; you won't be charged twice.",
		Retryable:      true,
		OutcomeUnknown: true,
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// intentError reports why a PaymentIntent returned without an error did
// not succeed, nil when it did.
func intentError(pi *stripe.PaymentIntent) *tierup.PaymentError {
	switch pi.Status {
	case stripe.PaymentIntentStatusSucceeded:
		return nil
	case stripe.PaymentIntentStatusProcessing:
		return &tierup.PaymentError{
			Code:           CodePaymentPending,
			Message:        "Your bank is still processing the payment. The upgrade continues as soon as it confirms.",
			Retryable:      true,
			OutcomeUnknown: true,
		}
	case stripe.PaymentIntentStatusRequiresPaymentMethod:
		if e := pi.LastPaymentError; e != nil && e.Type == stripe.ErrorTypeCard {
			return cardError(tierup.PaymentCode(e.Code), string(e.DeclineCode))
		}
	}
	return &tierup.PaymentError{
		Code:    CodePaymentFailed,
		Message: "The payment didn't go through and you have not been charged. Try again or use another card.",
	}
}

// cardError maps a Stripe card error. Code and decline code are kept as
// Stripe sends them; the message is ours and never repeats Stripe's (which
// is written for developers). Lost, stolen and fraudulent cards get the
// generic decline message, as Stripe advises, so a fraudster learns
// nothing. Only processing errors are retryable: every other decline
// repeats until the card holder changes something.
func cardError(code tierup.PaymentCode, declineCode string) *tierup.PaymentError {
	if code == "" {
		code = tierup.PayCodeCardDeclined
	}
	msg := declineMessage(declineCode)
	if msg == "" {
		msg = declineMessage(string(code))
	}
	if msg == "" {
		msg = msgGenericDecline
	}
	return &tierup.PaymentError{
		Code:        code,
		DeclineCode: declineCode,
		Message:     msg,
		Retryable:   code == tierup.PayCodeProcessingError || declineCode == string(tierup.PayCodeProcessingError),
	}
}

const msgGenericDecline = "Your card was declined. Try another card or contact your bank."

// declineMessage is the card holder's message for a Stripe error or
// decline code, "" for codes without a message of their own.
func declineMessage(code string) string {
	switch code {
	case "insufficient_funds":
		return "Your card was declined for insufficient funds. Try another card."
	case "expired_card":
		return "Your card has expired. Try another card."
	case "incorrect_cvc", "invalid_cvc":
		return "Your card's security code (CVC) is incorrect. Add the card again with the right code, or try another card."
	case "incorrect_number", "invalid_number":
		return "Your card number is incorrect. Add the card again, or try another card."
	case "invalid_expiry_month", "invalid_expiry_year":
		return "Your card's expiry date is incorrect. Add the card again, or try another card."
	case "incorrect_zip":
		return "Your postal code doesn't match your card's billing address. Add the card again with the right postal code, or try another card."
	case "processing_error":
		return "An error occurred while processing your card. The payment will be tried again; you won't be charged twice."
	case "authentication_required":
		return "Your bank wants you to confirm this payment, which isn't possible here. Try another card or contact your bank."
	case "card_velocity_exceeded", "withdrawal_count_limit_exceeded":
		return "Your card has reached its spending limit. Try another card or contact your bank."
	case "card_decline_rate_limit_exceeded":
		return "This card was declined too many times. Try another card, or try again in 24 hours."
	case "currency_not_supported":
		return "Your card doesn't support payments in this currency. Try another card."
	case "card_not_supported":
		return "Your card doesn't support this kind of payment. Try another card."
	case "duplicate_transaction":
		return "Your bank declined this payment because an identical one was just made. Check your statement before trying again."
	case "issuer_not_available", "try_again_later", "reenter_transaction":
		return "Your bank couldn't be reached to approve the payment. Try again in a few minutes or use another card."
	case "call_issuer", "approve_with_id":
		return "Your bank declined the payment. Contact your bank or try another card."
	case "testmode_decline":
		return "This is a test card and can't be used for real payments. Try another card."
	}
	return ""
}

// invalidRequestMessage is the card holder's message for a request Stripe
// refused as invalid: usually our mistake, not theirs.
func invalidRequestMessage(se *stripe.Error) string {
	switch se.Code {
	case stripe.ErrorCodeAmountTooSmall:
		return "The amount is below the minimum the payment service accepts. You have not been charged."
	case stripe.ErrorCodeAmountTooLarge:
		return "The amount is above the maximum the payment service accepts. You have not been charged."
	case stripe.ErrorCodeChargeAlreadyRefunded:
		return "This payment has already been refunded."
	case stripe.ErrorCodeResourceMissing, stripe.ErrorCodePaymentMethodUnexpectedState:
		if se.Param == "payment_method" {
			return "Your saved card can't be used any more. Add it again, or add another card. You have not been charged."
		}
	}
	return "The request couldn't be processed because of a problem on our side. Nothing was charged or refunded."
}
