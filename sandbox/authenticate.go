package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/url"

	"github.com/tierup/tierup"
)

// 3-D Secure in the sandbox: a charge of a card that needs authentication
// is recorded as requires_action and answered with a redirect to the
// sandbox's own challenge page (ChallengePath), where the customer
// completes or fails the authentication, as on Stripe's test page. Only
// then does the charge end as the card's scenario says.

// intentScope maps a charge awaiting authentication to its idempotency
// key, under which the ledger keeps it.
const intentScope = "sandbox:intent"

// ChallengePath is the challenge page of a charge, relative to tierup's
// address.
func ChallengePath(id, secret string) string {
	return tierup.SandboxChallengePath + url.PathEscape(id) + "?secret=" + url.QueryEscape(secret)
}

// Challenge is what the challenge page shows of a charge awaiting
// authentication.
type Challenge = tierup.PaymentChallenge

var _ tierup.Authenticator = (*Gateway)(nil)

func challengeOf(e *Entry) *Challenge {
	return &Challenge{ID: e.ID, Amount: e.Money(), Status: e.Status, ReturnURL: e.ReturnURL, UpgradeID: e.Metadata["upgrade"]}
}

// awaitAuthentication records a charge that waits for the customer's
// authentication; a concurrent request with the same key gets the same.
func (g *Gateway) awaitAuthentication(ctx context.Context, req tierup.ChargeRequest, hash string) (*tierup.Charge, error) {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	e := &Entry{Kind: "charge", ID: tierup.NewID("pi_sb"), IdempotencyKey: req.IdempotencyKey, RequestHash: hash,
		Amount: req.Amount.Amount, Currency: string(req.Amount.Currency), Ref: req.PaymentMethod.GatewayRef, Metadata: req.Metadata,
		Status: tierup.ChargeRequiresAction, Secret: hex.EncodeToString(secret), ReturnURL: req.ReturnURL, CreatedAt: g.Clock.Now().UTC()}
	stored, err := g.record(ctx, chargeScope, e)
	if err != nil {
		return nil, err
	}
	if stored == e {
		if err := g.Store.PutRecord(ctx, intentScope, e.ID, []byte(e.IdempotencyKey), 0); err != nil {
			return nil, err
		}
	}
	return chargeResult(stored, nil)
}

// Challenge returns the charge awaiting authentication that id and secret
// name. Errors: tierup.ErrNotFound when there is none or the secret does
// not match.
func (g *Gateway) Challenge(ctx context.Context, id, secret string) (*Challenge, error) {
	e, err := g.challenged(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return challengeOf(e), nil
}

func (g *Gateway) challenged(ctx context.Context, id, secret string) (*Entry, error) {
	e, err := g.intent(ctx, id)
	if pe := (*tierup.PaymentError)(nil); errors.As(err, &pe) || err == nil && (e.Secret == "" || subtle.ConstantTimeCompare([]byte(e.Secret), []byte(secret)) != 1) {
		return nil, tierup.Errorf(tierup.CodeNotFound, "there is no payment to authenticate at this address")
	}
	return e, err
}

// Authenticate is the customer's answer on the challenge page: completed
// (ok) or failed. A completed authentication ends the charge as its card's
// scenario says — it may still be declined — and a card that needs it once
// needs it no more. Answering again changes nothing: a charge already
// ended or canceled stays as it is. Errors as Challenge.
func (g *Gateway) Authenticate(ctx context.Context, id, secret string, ok bool) (*Challenge, error) {
	e, err := g.challenged(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	sc, err := tierup.GetRecord[scenario](ctx, g.Store, pmScope, e.Ref)
	if err != nil {
		return nil, err
	}
	resolved := false
	stored, err := tierup.UpdateRecord(ctx, g.Store, chargeScope, e.IdempotencyKey, func(e *Entry, _ bool) error {
		if resolved = e.Status == tierup.ChargeRequiresAction; !resolved {
			return nil
		}
		e.Status = ""
		if !ok {
			e.Code, e.Message = string(tierup.PayCodeAuthenticationFailed), msgAuthenticationFailed
			return nil
		}
		e.Code, e.DeclineCode, e.Message = string(sc.Code), sc.DeclineCode, sc.Message
		return nil
	})
	if err != nil {
		return nil, err
	}
	if resolved && ok && sc.Authenticate == authOnce {
		if _, err := tierup.UpdateRecord(ctx, g.Store, pmScope, e.Ref, func(v *scenario, _ bool) error {
			v.Authenticated = true
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return challengeOf(&stored), nil
}

const msgAuthenticationFailed = "Your bank could not confirm that it was you, so the payment was not made. Try again, or use another card."

// LookupCharge implements tierup.PaymentGateway.
func (g *Gateway) LookupCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	return flaky(ctx, g, func(faults Snapshot) (*tierup.Charge, error) {
		if err := reachableIn(faults); err != nil {
			return nil, err
		}
		return chargeResult(g.intent(ctx, id))
	})
}

// CancelCharge implements tierup.PaymentGateway.
func (g *Gateway) CancelCharge(ctx context.Context, id string) (*tierup.Charge, error) {
	return flaky(ctx, g, func(faults Snapshot) (*tierup.Charge, error) { return g.cancelCharge(ctx, faults, id) })
}

func (g *Gateway) cancelCharge(ctx context.Context, faults Snapshot, id string) (*tierup.Charge, error) {
	if err := reachableIn(faults); err != nil {
		return nil, err
	}
	key, err := g.intentKey(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := tierup.UpdateRecord(ctx, g.Store, chargeScope, key, func(e *Entry, _ bool) error {
		if e.Status == tierup.ChargeRequiresAction {
			e.Status = tierup.ChargeCanceled
		}
		return nil
	})
	return chargeResult(&e, err)
}

// intent reads a charge that waited for authentication by its ID.
func (g *Gateway) intent(ctx context.Context, id string) (*Entry, error) {
	key, err := g.intentKey(ctx, id)
	if err != nil {
		return nil, err
	}
	e, err := tierup.GetRecord[Entry](ctx, g.Store, chargeScope, key)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (g *Gateway) intentKey(ctx context.Context, id string) (string, error) {
	key, _, err := g.Store.Record(ctx, intentScope, id)
	if errors.Is(err, tierup.ErrNotFound) {
		return "", &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: "There is no such payment at the payment provider."}
	}
	return string(key), err
}
