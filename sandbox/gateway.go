package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/tierup/tierup"
)

// scenario is what a test card does when charged.
type scenario struct {
	Code        tierup.PaymentCode `json:"code,omitempty"` // empty: the charge succeeds
	DeclineCode string             `json:"decline_code,omitempty"`
	Message     string             `json:"message,omitempty"`
	Retryable   bool               `json:"retryable,omitempty"`
	// Authenticate says when a charge first waits for 3-D Secure: never
	// (""), until the card was authenticated once ("once"), or on every
	// charge ("always"). The other fields say what the charge does after
	// the customer authenticated.
	Authenticate string `json:"authenticate,omitempty"`
	// Authenticated records that the customer authenticated this card once.
	Authenticated bool `json:"authenticated,omitempty"`
}

// Authentication rules of scenario.Authenticate.
const (
	authOnce   = "once"
	authAlways = "always"
)

// needsAuthentication reports whether a charge of the card waits for the
// customer first.
func (sc scenario) needsAuthentication() bool {
	return sc.Authenticate == authAlways || sc.Authenticate == authOnce && !sc.Authenticated
}

// testCards maps Stripe's documented test card numbers to what they do
// when charged: the sandbox's only cards, the source of truth for the
// README and the tests. A new map on every call, so that nobody can change
// the table.
func testCards() map[string]scenario {
	ok := scenario{}
	return map[string]scenario{
		"4242424242424242": ok, "4000056655665556": ok, "5555555555554444": ok, "2223003122003222": ok, "5200828282828210": ok,
		"378282246310005": ok, "371449635398431": ok, "6011111111111117": ok, "3056930009020004": ok, "36227206271667": ok,
		"3566002020360505": ok, "6200000000000005": ok,
		"4000000000000002": {Code: tierup.PayCodeCardDeclined, DeclineCode: "generic_decline", Message: "Your card was declined. Try another card, or ask your bank why."},
		"4000000000009995": {Code: tierup.PayCodeCardDeclined, DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds. Try another card."},
		"4000000000000069": {Code: tierup.PayCodeExpiredCard, DeclineCode: string(tierup.PayCodeExpiredCard), Message: "Your card has expired. Check the expiry date or use another card."},
		"4000000000000127": {Code: tierup.PayCodeIncorrectCVC, DeclineCode: string(tierup.PayCodeIncorrectCVC), Message: "The card's security code is incorrect. Check it and try again."},
		"4000000000000119": {Code: tierup.PayCodeProcessingError, Message: "An error occurred while processing your card. Try again in a little while.", Retryable: true},
		// 3-D Secure, as Stripe's test cards behave on a one-time payment.
		"4000002500003155": {Authenticate: authOnce},
		"4000002760003184": {Authenticate: authAlways},
		"4000000000003220": {Authenticate: authAlways},
		"4000008260003178": {Authenticate: authAlways, Code: tierup.PayCodeCardDeclined, DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds. Try another card."},
		"4000008400001629": {Authenticate: authAlways, Code: tierup.PayCodeCardDeclined, DeclineCode: "generic_decline", Message: "Your card was declined. Try another card, or ask your bank why."},
	}
}

// TestCards lists the numbers of the sandbox's test cards, sorted: the
// only numbers TokenizeCard accepts.
func TestCards() []string {
	return slices.Sorted(maps.Keys(testCards()))
}

// TestCardsOnly is the message of the sandbox's refusal of a number that
// is not a test card. It names a card that succeeds and one that is
// declined, both in testCards (the tests check it).
const TestCardsOnly = "The sandbox accepts only test cards, such as 4242 4242 4242 4242 (succeeds) or 4000 0000 0000 0002 (declined); see the README."

const (
	pmScope     = "sandbox:payment_method"
	chargeScope = "sandbox:charge"
	refundScope = "sandbox:refund"
)

// Entry is one line of the sandbox ledger.
type Entry = tierup.LedgerEntry

// Gateway is the sandbox payment gateway.
type Gateway struct {
	Store  tierup.Store
	Clock  tierup.Clock
	Faults *Faults
	// Latency is how long a charge takes to answer after the money moved:
	// the moment a crash hurts most, which the crash tests aim at.
	Latency time.Duration
}

var _ tierup.PaymentGateway = (*Gateway)(nil)

// Name implements tierup.PaymentGateway.
func (g *Gateway) Name() string { return "sandbox" }

// TokenizeCard implements tierup.PaymentGateway: it keeps what the test
// card will do, never the card itself. Any other number is refused with
// PayCodeTestCardsOnly, as Stripe's test mode refuses real cards, so that
// no real card's fingerprint is ever stored beside a sandbox account.
func (g *Gateway) TokenizeCard(ctx context.Context, card tierup.Card) (string, error) {
	if _, err := g.reachable(ctx); err != nil {
		return "", err
	}
	sc, ok := testCards()[tierup.NormalizeCardNumber(card.Number)]
	if !ok {
		return "", &tierup.PaymentError{Code: tierup.PayCodeTestCardsOnly, Message: TestCardsOnly}
	}
	ref := tierup.NewID("pm_sb")
	b, _ := json.Marshal(sc)
	return ref, g.Store.PutRecord(ctx, pmScope, ref, b, 0)
}

// reachable reads the faults and fails the call while gateway_unreachable
// is in force; the snapshot answers the call's other questions.
func (g *Gateway) reachable(ctx context.Context) (Snapshot, error) {
	faults, err := g.Faults.Now(ctx)
	if err != nil {
		return faults, err
	}
	return faults, reachableIn(faults)
}

func reachableIn(faults Snapshot) error {
	if faults.Active(FaultGatewayUnreachable) {
		return &tierup.PaymentError{Code: tierup.PayCodeGatewayUnavailable, Message: "The payment provider cannot be reached right now.", Retryable: true, Unavailable: true}
	}
	return nil
}

// Charge implements tierup.PaymentGateway with Stripe's idempotency rules:
// the same key and parameters give the first result without a new charge;
// the same key with other parameters is refused.
func (g *Gateway) Charge(ctx context.Context, req tierup.ChargeRequest) (*tierup.Charge, error) {
	return flaky(ctx, g, func(faults Snapshot) (*tierup.Charge, error) { return g.charge(ctx, faults, req) })
}

// errNoAnswer is what a caller gets when the gateway's answer did not come:
// whether the call was carried out is unknown to it.
func errNoAnswer() *tierup.PaymentError {
	return &tierup.PaymentError{Code: tierup.PayCodeTimeout, Message: "The payment provider did not answer in time.", Retryable: true, OutcomeUnknown: true}
}

// flaky runs one payment call under the gateway_flaky fault: the call may
// time out or answer 500 without being carried out, or be carried out and
// its answer (result or error) lost.
// The faults are read once, here, and handed to the call.
func flaky[T any](ctx context.Context, g *Gateway, call func(Snapshot) (T, error)) (T, error) {
	var none T
	faults, err := g.Faults.Now(ctx)
	mode := faults.Flake()
	switch {
	case err != nil:
		return none, err
	case mode == FlakyTimeout:
		return none, errNoAnswer()
	case mode == FlakyServerError:
		return none, &tierup.PaymentError{Code: tierup.PayCodeProcessingError, Message: "The payment provider had a temporary problem (HTTP 500).",
			Retryable: true, OutcomeUnknown: true}
	}
	v, err := call(faults)
	if mode == FlakyLostResponse {
		return none, errNoAnswer()
	}
	return v, err
}

func (g *Gateway) charge(ctx context.Context, faults Snapshot, req tierup.ChargeRequest) (*tierup.Charge, error) {
	if err := reachableIn(faults); err != nil {
		return nil, err
	}
	if req.PaymentMethod == nil || req.IdempotencyKey == "" || req.Amount.Amount <= 0 {
		return nil, &tierup.PaymentError{Code: tierup.PayCodeInvalidRequest, Message: "a charge needs a payment method, an idempotency key and a positive amount"}
	}
	hash := requestHash("charge", req.Amount, req.PaymentMethod.GatewayRef, req.Metadata)
	if e, err := g.replay(ctx, chargeScope, req.IdempotencyKey, hash); e != nil || err != nil {
		return chargeResult(e, err)
	}
	if err := g.checkCustomer(ctx, req); err != nil {
		return nil, err
	}
	sc, err := tierup.GetRecord[scenario](ctx, g.Store, pmScope, req.PaymentMethod.GatewayRef)
	if errors.Is(err, tierup.ErrNotFound) {
		return nil, &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: "This card is not known to the payment provider; enter it again."}
	}
	if err != nil {
		return nil, err
	}
	if sc.Retryable {
		// Not recorded, like a request that failed before it was processed.
		return nil, &tierup.PaymentError{Code: sc.Code, Message: sc.Message, Retryable: true}
	}
	if sc.needsAuthentication() {
		return g.awaitAuthentication(ctx, req, hash)
	}
	e := &Entry{Kind: "charge", ID: tierup.NewID("ch_sb"), IdempotencyKey: req.IdempotencyKey, RequestHash: hash,
		Amount: req.Amount.Amount, Currency: string(req.Amount.Currency), Ref: req.PaymentMethod.GatewayRef,
		Code: string(sc.Code), DeclineCode: sc.DeclineCode, Message: sc.Message, Metadata: req.Metadata, CreatedAt: g.Clock.Now().UTC()}
	stored, err := g.record(ctx, chargeScope, e)
	if err != nil || stored != e { // failed, or a concurrent request with the key won
		return chargeResult(stored, err)
	}
	if e.Succeeded() {
		if g.Latency > 0 {
			t := time.NewTimer(g.Latency)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		lost, err := g.Faults.Consume(ctx, faults, FaultGatewayTimeout)
		if err != nil {
			return nil, err
		}
		if lost {
			return nil, errNoAnswer()
		}
	}
	return chargeResult(e, nil)
}

func chargeResult(e *Entry, err error) (*tierup.Charge, error) {
	if err != nil {
		return nil, err
	}
	switch e.Status {
	case tierup.ChargeRequiresAction:
		return &tierup.Charge{ID: e.ID, Amount: e.Money(), Status: e.Status,
			NextAction: &tierup.NextAction{Type: tierup.NextActionRedirect, URL: ChallengePath(e.ID, e.Secret)}}, nil
	case tierup.ChargeCanceled:
		return &tierup.Charge{ID: e.ID, Amount: e.Money(), Status: e.Status}, nil
	}
	if !e.Succeeded() {
		return nil, &tierup.PaymentError{Code: tierup.PaymentCode(e.Code), DeclineCode: e.DeclineCode, Message: e.Message}
	}
	return &tierup.Charge{ID: e.ID, Amount: e.Money(), Status: tierup.ChargeSucceeded}, nil
}

// Refund implements tierup.PaymentGateway.
func (g *Gateway) Refund(ctx context.Context, req tierup.RefundRequest) (*tierup.Refund, error) {
	return flaky(ctx, g, func(faults Snapshot) (*tierup.Refund, error) { return g.refund(ctx, faults, req) })
}

func (g *Gateway) refund(ctx context.Context, faults Snapshot, req tierup.RefundRequest) (*tierup.Refund, error) {
	if err := reachableIn(faults); err != nil {
		return nil, err
	}
	hash := requestHash("refund", req.Amount, req.ChargeID, nil)
	e, err := g.replay(ctx, refundScope, req.IdempotencyKey, hash)
	if err != nil {
		return nil, err
	}
	if e == nil {
		charges, err := g.entries(ctx, chargeScope)
		if err != nil {
			return nil, err
		}
		var charge *Entry
		for _, c := range charges {
			if c.ID == req.ChargeID && c.Succeeded() {
				charge = c
			}
		}
		if charge == nil || req.Amount.Amount <= 0 || req.Amount.Amount > charge.Amount || string(req.Amount.Currency) != charge.Currency {
			return nil, &tierup.PaymentError{Code: tierup.PayCodeInvalidRefund, Message: fmt.Sprintf("charge %s cannot be refunded %s", req.ChargeID, req.Amount)}
		}
		e = &Entry{Kind: "refund", ID: tierup.NewID("re_sb"), IdempotencyKey: req.IdempotencyKey, RequestHash: hash,
			Amount: req.Amount.Amount, Currency: string(req.Amount.Currency), ChargeID: req.ChargeID, CreatedAt: g.Clock.Now().UTC()}
		if e, err = g.record(ctx, refundScope, e); err != nil {
			return nil, err
		}
	}
	return &tierup.Refund{ID: e.ID, ChargeID: e.ChargeID, Amount: tierup.Money{Amount: e.Amount, Currency: tierup.Currency(e.Currency)}}, nil
}

// replay returns the entry an earlier request with the key made, or an
// error when the key was used with other parameters.
func (g *Gateway) replay(ctx context.Context, scope, key, hash string) (*Entry, error) {
	e, err := tierup.GetRecord[Entry](ctx, g.Store, scope, key)
	if errors.Is(err, tierup.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sameRequest(&e, hash)
}

func sameRequest(e *Entry, hash string) (*Entry, error) {
	if e.RequestHash != hash {
		return nil, &tierup.PaymentError{Code: tierup.PayCodeIdempotencyKeyReused,
			Message: "This idempotency key was already used with other parameters."}
	}
	return e, nil
}

// record stores a new entry; when a request with the same key stored one
// first, that entry is returned instead (or the error of replay when its
// parameters differ).
func (g *Gateway) record(ctx context.Context, scope string, e *Entry) (*Entry, error) {
	won := false
	stored, err := tierup.UpdateRecord(ctx, g.Store, scope, e.IdempotencyKey, func(v *Entry, exists bool) error {
		if won = !exists; won {
			*v = *e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if won {
		return e, nil
	}
	return sameRequest(&stored, e.RequestHash)
}

// Ledger lists every charge and refund, oldest first, so that tests and
// operators can count what moved.
func (g *Gateway) Ledger(ctx context.Context) ([]*Entry, error) {
	charges, err := g.entries(ctx, chargeScope)
	if err != nil {
		return nil, err
	}
	refunds, err := g.entries(ctx, refundScope)
	if err != nil {
		return nil, err
	}
	out := append(charges, refunds...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (g *Gateway) entries(ctx context.Context, scope string) ([]*Entry, error) {
	recs, err := g.Store.Records(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := make([]*Entry, 0, len(recs))
	for _, r := range recs {
		var e Entry
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return nil, err
		}
		out = append(out, &e)
	}
	return out, nil
}

func requestHash(kind string, amount tierup.Money, target string, metadata map[string]string) string {
	keys := make([]string, 0, len(metadata))
	for k := range metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s", kind, amount.Amount, amount.Currency, target)
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, metadata[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
