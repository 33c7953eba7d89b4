package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/tierup/tierup"
)

const (
	customerScope   = "sandbox:customer"    // keyed by the request's idempotency key
	customerIDScope = "sandbox:customer_id" // the same customers, keyed by their ID
	attachmentScope = "sandbox:attachment"  // keyed by the card's reference
)

// customer is a sandbox customer, like a Stripe Customer.
type customer struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	Email     string    `json:"email,omitempty"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// attachment is the customer a card belongs to. A detached card stays
// recorded, so that charging it fails as Stripe's would.
type attachment struct {
	Customer string `json:"customer,omitempty"`
	Detached bool   `json:"detached,omitempty"`
}

// EnsureCustomer implements tierup.PaymentGateway: the first request with
// an idempotency key creates the customer, later ones (concurrent ones
// included) get it back. The key with another account is refused with
// PayCodeIdempotencyKeyReused, as Stripe refuses other parameters.
func (g *Gateway) EnsureCustomer(ctx context.Context, req tierup.CustomerRequest) (string, error) {
	if _, err := g.reachable(ctx); err != nil {
		return "", err
	}
	if req.IdempotencyKey == "" || req.AccountID == "" {
		return "", &tierup.PaymentError{Code: tierup.PayCodeInvalidRequest, Message: "a customer needs an idempotency key and an account"}
	}
	c, err := tierup.UpdateRecord(ctx, g.Store, customerScope, req.IdempotencyKey, func(v *customer, exists bool) error {
		if !exists {
			*v = customer{ID: tierup.NewID("cus_sb"), AccountID: req.AccountID, Email: req.Email, Name: req.Name, CreatedAt: g.Clock.Now().UTC()}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if c.AccountID != req.AccountID {
		return "", &tierup.PaymentError{Code: tierup.PayCodeIdempotencyKeyReused, Message: "This idempotency key was already used with other parameters."}
	}
	// Written after the customer, and again by every retry, so that a
	// crash in between only delays it.
	if _, err := tierup.UpdateRecord(ctx, g.Store, customerIDScope, c.ID, func(v *customer, _ bool) error {
		*v = c
		return nil
	}); err != nil {
		return "", err
	}
	return c.ID, nil
}

// AttachPaymentMethod implements tierup.PaymentGateway.
func (g *Gateway) AttachPaymentMethod(ctx context.Context, ref, customerRef string) error {
	if _, err := g.reachable(ctx); err != nil {
		return err
	}
	if _, err := tierup.GetRecord[scenario](ctx, g.Store, pmScope, ref); err != nil {
		return missing(err, "This card is not known to the payment provider; enter it again.")
	}
	if _, err := tierup.GetRecord[customer](ctx, g.Store, customerIDScope, customerRef); err != nil {
		return missing(err, "This customer is not known to the payment provider.")
	}
	_, err := tierup.UpdateRecord(ctx, g.Store, attachmentScope, ref, func(v *attachment, exists bool) error {
		switch {
		case v.Detached:
			return &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: "This card was removed; enter it again."}
		case exists && v.Customer != customerRef:
			return &tierup.PaymentError{Code: tierup.PayCodeInvalidRequest, Message: "This card belongs to another customer."}
		}
		v.Customer = customerRef
		return nil
	})
	return err
}

// DetachPaymentMethod implements tierup.PaymentGateway.
func (g *Gateway) DetachPaymentMethod(ctx context.Context, ref string) error {
	if _, err := g.reachable(ctx); err != nil {
		return err
	}
	_, err := tierup.UpdateRecord(ctx, g.Store, attachmentScope, ref, func(v *attachment, _ bool) error {
		*v = attachment{Detached: true}
		return nil
	})
	return err
}

// checkCustomer refuses a charge of a detached card, and one of an
// attached card without its customer, as Stripe does: a card saved on a
// customer is charged on that customer's behalf only.
func (g *Gateway) checkCustomer(ctx context.Context, req tierup.ChargeRequest) error {
	a, err := tierup.GetRecord[attachment](ctx, g.Store, attachmentScope, req.PaymentMethod.GatewayRef)
	switch {
	case errors.Is(err, tierup.ErrNotFound):
		return nil // a card saved before customers: charged as it always was
	case err != nil:
		return err
	case a.Detached:
		return &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: "This card was removed; enter it again."}
	case a.Customer != req.Customer:
		return &tierup.PaymentError{Code: tierup.PayCodeInvalidRequest, Message: "This card belongs to a customer: charge it on that customer's behalf."}
	}
	return nil
}

// missing turns a record that is not there into the PaymentError Stripe
// gives for an unknown object; other errors stay as they are.
func missing(err error, msg string) error {
	if errors.Is(err, tierup.ErrNotFound) {
		return &tierup.PaymentError{Code: tierup.PayCodeResourceMissing, Message: msg}
	}
	return err
}
