package web

import (
	"context"
	"net/http"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
)

// newCard is the value of the "saved" choice that pays with the card typed
// into the form instead of a saved one.
const newCard = "new"

// payingCard is the card a payment form pays with: the saved card the owner
// picked (the use case checks it is theirs and not deleted), or else the new
// card typed in, saved first. nil means the form has errors to show.
func (s *Server) payingCard(r *http.Request, v *view, card tierup.Card, form *cardForm) *tierup.PaymentMethod {
	form.Saved = r.PostForm.Get("saved")
	if form.Saved != "" && form.Saved != newCard {
		return &tierup.PaymentMethod{ID: form.Saved, AccountID: v.Account.ID}
	}
	return s.addCard(r, v, card, form)
}

// savedCards lists the account's cards for the payment forms. A failure
// only costs the shortcut: the form still takes a new card.
func (s *Server) savedCards(ctx context.Context, v *view) []app.SavedCard {
	cards, err := s.app.PaymentMethods(ctx, v.Account.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "listing saved cards", "account", v.Account.ID, "err", err)
		return nil
	}
	return cards
}

// without drops the card a payment just failed with from a retry form's
// choice: paying again with it would fail alike. If it was the default,
// the newest of the others is preselected instead.
func without(cards []app.SavedCard, failed string) []app.SavedCard {
	out := make([]app.SavedCard, 0, len(cards))
	hasDefault := false
	for _, c := range cards {
		if c.ID != failed {
			out = append(out, c)
			hasDefault = hasDefault || c.Default
		}
	}
	if !hasDefault && len(out) > 0 {
		out[0].Default = true
	}
	return out
}
