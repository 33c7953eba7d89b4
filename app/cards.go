package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tierup/tierup"
)

// SavedCard is a card of the account with whether it is the default.
type SavedCard struct {
	*tierup.PaymentMethod
	// Default is the card the dashboard preselects: the one most recently
	// added or charged (see PaymentMethods).
	Default bool
}

// PaymentMethods lists the account's saved cards, newest first.
//
// The default is derived, never stored: each card counts from when it was
// added or, if later, when an upgrade that charged it successfully began
// (its ChargeID is set, refunded ones included), to the second; the card
// whose moment is the latest is the default. In a tie a charge beats an
// addition, and of two cards added in the same second the newer wins. So
// a new card is the default until an older one pays for a later upgrade,
// and the card that paid a retry after a decline becomes the default.
func (a *App) PaymentMethods(ctx context.Context, accountID string) ([]SavedCard, error) {
	pms, err := a.store.PaymentMethods(ctx, accountID)
	if err != nil {
		return nil, err
	}
	ups, err := a.store.Upgrades(ctx, accountID)
	if err != nil {
		return nil, err
	}
	charged := map[string]time.Time{}
	for _, u := range ups {
		if id := u.Payment.PaymentMethodID; u.Payment.ChargeID != "" && u.CreatedAt.After(charged[id]) {
			charged[id] = u.CreatedAt.Truncate(time.Second)
		}
	}
	type moment struct {
		at      time.Time
		charged bool
	}
	later := func(x, y moment) bool { return x.at.After(y.at) || x.at.Equal(y.at) && x.charged && !y.charged }
	out := make([]SavedCard, len(pms))
	best, bestAt := -1, moment{}
	for i, pm := range pms { // newest first: an equal moment keeps the newer card
		out[i] = SavedCard{PaymentMethod: pm}
		m := moment{at: pm.CreatedAt.Truncate(time.Second)}
		if c, ok := charged[pm.ID]; ok && !c.Before(m.at) {
			m = moment{at: c, charged: true}
		}
		if best < 0 || later(m, bestAt) {
			best, bestAt = i, m
		}
	}
	if best >= 0 {
		out[best].Default = true
	}
	return out, nil
}

// DeletePaymentMethod detaches the account's card at the gateway, so it can
// never be charged again, and marks it deleted: past upgrades keep showing
// its brand and last 4.
//
// The gateway goes first: when it fails nothing changed and the delete can
// be retried; when the store fails after it, a retry detaches again, which
// gateways accept. An upgrade started at the very moment of the delete can
// still pick the card; its charge then fails as for a removed card and the
// customer pays with another one.
//
// Errors: CodeNotFound (no such card on the account, or deleted before),
// CodePaymentMethodInUse (an active upgrade pays with it),
// CodeGatewayUnavailable.
func (a *App) DeletePaymentMethod(ctx context.Context, accountID, id string) error {
	pm, err := a.store.PaymentMethod(ctx, id)
	if err != nil && !errors.Is(err, tierup.ErrNotFound) {
		return err
	}
	if err != nil || pm.AccountID != accountID || pm.DeletedAt != nil {
		return tierup.Errorf(tierup.CodeNotFound, "payment method %s not found", id)
	}
	u, err := a.store.ActiveUpgrade(ctx, accountID)
	switch {
	case err != nil && !errors.Is(err, tierup.ErrNotFound):
		return err
	case err == nil && u.Payment.PaymentMethodID == id:
		return tierup.Errorf(tierup.CodePaymentMethodInUse,
			"%s •••• %s pays for upgrade %s, which is still in progress; delete it once the upgrade is over", pm.Brand, pm.Last4, u.ID)
	}
	if pm.Customer != "" { // a card that was never attached has nothing to detach
		if err := a.deps.Gateway.DetachPaymentMethod(ctx, pm.GatewayRef); err != nil {
			return paymentProblem(err)
		}
	}
	if err := a.store.DeletePaymentMethod(ctx, accountID, id, a.clock.Now().UTC().Truncate(time.Second)); err != nil {
		return err
	}
	a.log.InfoContext(ctx, "payment method deleted", "account", accountID, "payment_method", id, "brand", pm.Brand, "last4", pm.Last4)
	return nil
}

// cardTime is when a card is added, to the store's microsecond rather
// than the second the API shows: the order of two cards added within a
// second decides which is the default.
func cardTime(c tierup.Clock) time.Time { return c.Now().UTC().Truncate(time.Microsecond) }

// saveCard attaches the tokenized card to the account's gateway customer
// and stores it, so that it can be charged again later.
func (a *App) saveCard(ctx context.Context, acct *tierup.Account, pm *tierup.PaymentMethod) error {
	customer, err := a.customer(ctx, acct)
	if err != nil {
		return err
	}
	if err := a.deps.Gateway.AttachPaymentMethod(ctx, pm.GatewayRef, customer); err != nil {
		return paymentProblem(err)
	}
	pm.Customer = customer
	return a.store.CreatePaymentMethod(ctx, pm)
}

// customer returns the account's gateway customer, creating it with the
// first card. Two first cards at once both ask the gateway, which answers
// both with one customer (the idempotency key is the account's); the store
// keeps the first reference written and both use it.
func (a *App) customer(ctx context.Context, acct *tierup.Account) (string, error) {
	gw := a.deps.Gateway.Name()
	ref, err := a.store.GatewayCustomer(ctx, acct.ID, gw)
	if !errors.Is(err, tierup.ErrNotFound) {
		return ref, err
	}
	ref, err = a.deps.Gateway.EnsureCustomer(ctx, tierup.CustomerRequest{IdempotencyKey: tierup.CustomerKey(acct.ID),
		AccountID: acct.ID, Email: acct.Email, Name: acct.Name})
	if err != nil {
		return "", paymentProblem(err)
	}
	stored, err := a.store.PutGatewayCustomer(ctx, acct.ID, gw, ref, a.clock.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("storing the %s customer of account %s: %w", gw, acct.ID, err)
	}
	if stored != ref {
		a.log.WarnContext(ctx, "gateway gave a second customer; keeping the first", "account", acct.ID, "kept", stored, "unused", ref)
	} else {
		a.log.InfoContext(ctx, "gateway customer created", "account", acct.ID, "gateway", gw, "customer", ref)
	}
	return stored, nil
}
