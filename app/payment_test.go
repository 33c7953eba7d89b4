package app

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tierup/tierup"
)

func TestPaymentProblem(t *testing.T) {
	plain := errors.New("database is down")
	for _, tc := range []struct {
		name string
		err  error
		want error // a sentinel, or plain itself
	}{
		{"declined", &tierup.PaymentError{Code: tierup.PayCodeCardDeclined, DeclineCode: "generic_decline", Message: "declined"}, tierup.ErrInvalidCard},
		{"tokenization unsupported", &tierup.PaymentError{Code: tierup.PayCodeTokenizationUnsupported, Message: "use Stripe.js"}, tierup.ErrInvalidCard},
		{"processing error", &tierup.PaymentError{Code: tierup.PayCodeProcessingError, Message: "try again", Retryable: true}, tierup.ErrGatewayUnavailable},
		{"timeout", &tierup.PaymentError{Code: tierup.PayCodeTimeout, Message: "no answer", Retryable: true}, tierup.ErrGatewayUnavailable},
		{"unreachable", &tierup.PaymentError{Code: tierup.PayCodeGatewayUnavailable, Message: "down", Retryable: true, Unavailable: true}, tierup.ErrGatewayUnavailable},
		{"wrapped decline", fmt.Errorf("describe: %w", &tierup.PaymentError{Code: tierup.PayCodeUnsupportedCard, Message: "brand"}), tierup.ErrInvalidCard},
		{"not a payment error", plain, plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := paymentProblem(tc.err)
			if !errors.Is(got, tc.want) {
				t.Fatalf("paymentProblem(%v) = %v (%s), want %v", tc.err, got, tierup.ErrorCode(got), tc.want)
			}
			var pe *tierup.PaymentError
			if errors.As(tc.err, &pe) && got.Error() != pe.Message {
				t.Errorf("message %q, want the gateway's %q", got.Error(), pe.Message)
			}
		})
	}
}

func TestTokenizeProblem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		want   error
		fields []tierup.FieldError
	}{
		{"not a test card", &tierup.PaymentError{Code: tierup.PayCodeTestCardsOnly, Message: "test cards only"}, tierup.ErrInvalidCard,
			[]tierup.FieldError{{Location: "body.card.number", Message: "test cards only"}}},
		{"wrapped", fmt.Errorf("tokenize: %w", &tierup.PaymentError{Code: tierup.PayCodeTestCardsOnly, Message: "test cards only"}), tierup.ErrInvalidCard,
			[]tierup.FieldError{{Location: "body.card.number", Message: "test cards only"}}},
		{"tokenization unsupported", &tierup.PaymentError{Code: tierup.PayCodeTokenizationUnsupported, Message: "use Stripe.js"}, tierup.ErrInvalidCard, nil},
		{"unreachable", &tierup.PaymentError{Code: tierup.PayCodeGatewayUnavailable, Message: "down", Retryable: true, Unavailable: true}, tierup.ErrGatewayUnavailable, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tokenizeProblem(tc.err)
			var e *tierup.Error
			if !errors.Is(got, tc.want) || !errors.As(got, &e) {
				t.Fatalf("tokenizeProblem(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if fmt.Sprint(e.Fields) != fmt.Sprint(tc.fields) {
				t.Errorf("fields %v, want %v", e.Fields, tc.fields)
			}
		})
	}
}
