package stripegw

import (
	"context"
	"errors"
	"strings"

	"github.com/stripe/stripe-go/v84"
	"github.com/tierup/tierup"
)

// PaymentError codes DescribeCard sets besides the shared ones (see
// errors.go). None is Retryable: the same pm_… gives the same answer.
const (
	// CodeUnsupportedCard: the card's brand is not one tierup accepts
	// (Stripe's "unknown", cartes_bancaires, eftpos_au, …).
	CodeUnsupportedCard = tierup.PayCodeUnsupportedCard
	// CodeUnsupportedPaymentMethod: the PaymentMethod is not a card (a
	// bank debit, a wallet that is not card-backed, …).
	CodeUnsupportedPaymentMethod = tierup.PayCodeUnsupportedPaymentMethod
	// CodeResourceMissing: Stripe does not know the pm_… ID (a typo, another
	// Stripe account's or test-mode ID, or a detached PaymentMethod).
	CodeResourceMissing = tierup.PayCodeResourceMissing
)

var _ tierup.CardDescriber = (*Gateway)(nil)

// maxRefLength bounds the pm_… IDs DescribeCard sends to Stripe; Stripe's
// object IDs are far shorter.
const maxRefLength = 255

// DescribeCard reads back the card behind ref, a Stripe PaymentMethod ID
// (pm_…) the client created with Stripe.js or the mobile SDK. Only Brand,
// Last4, ExpMonth, ExpYear, Fingerprint ("stripe:" and Stripe's card
// fingerprint), Name (the billing name) and GatewayRef (ref) are set.
//
// A ref that is not a pm_… ID is refused before any request with code
// "invalid_request". A PaymentMethod that is not a card, or a card of a
// brand tierup does not take, is a PaymentError with code
// "unsupported_payment_method" or "unsupported_card"; an unknown ID is
// "resource_missing". Other failures map as for Charge.
func (g *Gateway) DescribeCard(ctx context.Context, ref string) (*tierup.PaymentMethod, error) {
	if !validPaymentMethodRef(ref) {
		return nil, &tierup.PaymentError{
			Code:    CodeInvalidRequest,
			Message: "That isn't a Stripe card reference: send the pm_… ID Stripe.js or the mobile SDK created for the card.",
		}
	}
	pm, err := g.client.V1PaymentMethods.Retrieve(ctx, ref, nil)
	if err != nil {
		err = g.mapError(ctx, "describe_card", err)
		var perr *tierup.PaymentError
		if errors.As(err, &perr) && perr.Code == CodeResourceMissing {
			// Stripe's 404 names param "id", so the shared message (written
			// for a charge) would blame our side.
			perr.Message = "This card wasn't found at the payment service. Add the card again."
		}
		return nil, err
	}
	if pm.Type != stripe.PaymentMethodTypeCard || pm.Card == nil {
		g.log.WarnContext(ctx, "stripe payment method is not a card",
			"payment_method", pm.ID, "type", string(pm.Type))
		return nil, &tierup.PaymentError{
			Code:    CodeUnsupportedPaymentMethod,
			Message: "Only cards can be used here. Add a credit or debit card instead.",
		}
	}
	brand, ok := cardBrand(pm.Card.Brand)
	if !ok {
		g.log.WarnContext(ctx, "stripe card brand not accepted",
			"payment_method", pm.ID, "brand", string(pm.Card.Brand))
		return nil, &tierup.PaymentError{
			Code:    CodeUnsupportedCard,
			Message: "This card type isn't accepted. Use a Visa, Mastercard, American Express, Discover, Diners Club, JCB or UnionPay card.",
		}
	}
	desc := &tierup.PaymentMethod{
		Brand:      brand,
		Last4:      pm.Card.Last4,
		ExpMonth:   int(pm.Card.ExpMonth),
		ExpYear:    int(pm.Card.ExpYear),
		GatewayRef: ref,
	}
	// Without a Stripe fingerprint there is nothing to compare: a bare
	// "stripe:" would make every such card look like the same one.
	if pm.Card.Fingerprint != "" {
		desc.Fingerprint = "stripe:" + pm.Card.Fingerprint
	}
	if pm.BillingDetails != nil {
		desc.Name = pm.BillingDetails.Name
	}
	return desc, nil
}

// validPaymentMethodRef reports whether ref looks like a Stripe
// PaymentMethod ID: "pm_" followed by letters, digits and underscores
// (test IDs such as pm_card_visa included).
func validPaymentMethodRef(ref string) bool {
	rest, ok := strings.CutPrefix(ref, "pm_")
	if !ok || rest == "" || len(ref) > maxRefLength {
		return false
	}
	for _, r := range rest {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// cardBrand maps Stripe's card.brand to tierup's brand names.
func cardBrand(b stripe.PaymentMethodCardBrand) (string, bool) {
	switch b {
	case stripe.PaymentMethodCardBrandVisa:
		return tierup.BrandVisa, true
	case stripe.PaymentMethodCardBrandMastercard:
		return tierup.BrandMastercard, true
	case stripe.PaymentMethodCardBrandAmex:
		return tierup.BrandAmex, true
	case stripe.PaymentMethodCardBrandDiscover:
		return tierup.BrandDiscover, true
	case stripe.PaymentMethodCardBrandDiners:
		return tierup.BrandDiners, true
	case stripe.PaymentMethodCardBrandJCB:
		return tierup.BrandJCB, true
	case stripe.PaymentMethodCardBrandUnionpay:
		return tierup.BrandUnionPay, true
	}
	return "", false
}
