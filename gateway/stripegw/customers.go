package stripegw

import (
	"context"
	"errors"
	"net/http"

	"github.com/stripe/stripe-go/v84"
	"github.com/tierup/tierup"
)

// EnsureCustomer creates the account's Stripe Customer with
// req.IdempotencyKey, so that a retry or a concurrent request gets the
// same Customer back. Stripe keeps idempotent results for 24 hours only:
// callers store the returned cus_… ID and ask again only when they have
// none. The account ID goes to the Customer's metadata, to find it in the
// Stripe dashboard. Without an idempotency key nothing is sent: stripe-go
// would invent one, and a retry would create a second Customer.
func (g *Gateway) EnsureCustomer(ctx context.Context, req tierup.CustomerRequest) (string, error) {
	if err := checkIdempotencyKey(req.IdempotencyKey); err != nil {
		return "", err
	}
	params := &stripe.CustomerCreateParams{Metadata: map[string]string{"account": req.AccountID}}
	if req.Email != "" {
		params.Email = stripe.String(req.Email)
	}
	if req.Name != "" {
		params.Name = stripe.String(truncate(req.Name, 256))
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	c, err := g.client.V1Customers.Create(ctx, params)
	if err != nil {
		return "", g.mapError(ctx, "create_customer", err)
	}
	return c.ID, nil
}

// AttachPaymentMethod attaches the client's pm_… to the Customer, which
// lets Stripe charge it again: an unattached PaymentMethod can be used
// once. Stripe refuses to attach one that is already attached; when it is
// attached to this very Customer (a retried request) that is success.
// The idempotency key is derived from both IDs.
func (g *Gateway) AttachPaymentMethod(ctx context.Context, ref, customer string) error {
	if !validPaymentMethodRef(ref) || customer == "" {
		return errors.New("stripegw: attach needs a pm_… reference and a customer")
	}
	params := &stripe.PaymentMethodAttachParams{Customer: stripe.String(customer)}
	params.SetIdempotencyKey("tierup:attach:" + ref + ":" + customer)
	_, err := g.client.V1PaymentMethods.Attach(ctx, ref, params)
	if err == nil {
		return nil
	}
	if refused(err) {
		if owner, ok := g.owner(ctx, ref); ok && owner == customer {
			return nil
		}
	}
	return g.mapError(ctx, "attach_payment_method", err)
}

// DetachPaymentMethod detaches the pm_… from its Customer; Stripe cannot
// charge it afterwards. A PaymentMethod Stripe does not know, or one that
// is attached to no Customer (detached before), counts as detached.
func (g *Gateway) DetachPaymentMethod(ctx context.Context, ref string) error {
	if !validPaymentMethodRef(ref) {
		return errors.New("stripegw: detach needs a pm_… reference")
	}
	_, err := g.client.V1PaymentMethods.Detach(ctx, ref, nil)
	if err == nil {
		return nil
	}
	if refused(err) {
		if owner, ok := g.owner(ctx, ref); ok && owner == "" {
			return nil
		}
	}
	var se *stripe.Error
	if errors.As(err, &se) && se.Code == stripe.ErrorCodeResourceMissing {
		return nil
	}
	return g.mapError(ctx, "detach_payment_method", err)
}

// refused reports whether Stripe refused the request as invalid (HTTP
// 400), which for an attach or a detach may only mean it was done before.
func refused(err error) bool {
	var se *stripe.Error
	return errors.As(err, &se) && se.Type == stripe.ErrorTypeInvalidRequest && se.HTTPStatusCode == http.StatusBadRequest &&
		se.Code != stripe.ErrorCodeResourceMissing
}

// owner reads the Customer the PaymentMethod is attached to ("" for none);
// ok is false when it cannot be read, and the caller reports its own error.
func (g *Gateway) owner(ctx context.Context, ref string) (customer string, ok bool) {
	pm, err := g.client.V1PaymentMethods.Retrieve(ctx, ref, nil)
	if err != nil {
		return "", false
	}
	if pm.Customer == nil {
		return "", true
	}
	return pm.Customer.ID, true
}
