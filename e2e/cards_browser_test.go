package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// checkoutTo opens the review page of an upgrade to plan from the
// comparison.
func (p *page) checkoutTo(plan string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.h.BaseURL+"/compare?months=1"), chromedp.Click(chromedp.CSS("[data-test=start-"+plan+"]")))
	p.visible("[data-test=amount-due]")
}

// TestBrowserSavedCard pays a first upgrade with a new card, then a second
// one with a card declined, and the retry with the saved first card, never
// typed again.
func TestBrowserSavedCard(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Sim.ProvisionDelay, o.Sim.MigrateDelay = 100*time.Millisecond, 50*time.Millisecond
	})
	acct, token := h.account(map[string]any{"email": "saved@example.com"})
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "saved-card")
	p.signIn(acct)

	// The first checkout has no saved card: only the card fields.
	p.checkoutTo("pro-1m")
	if got := p.text("[data-test=saved-cards]"); got != "" {
		t.Errorf("saved cards offered before any was added: %q", got)
	}
	p.fillCard("4242 4242 4242 4242")
	p.do(chromedp.Click(chromedp.CSS("#terms")), chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=done]")

	// The second offers it, preselected, with the card fields hidden; the
	// customer picks a new card instead, which is declined.
	p.checkoutTo("team-1m")
	if got := p.text("[data-test=saved-cards]"); !strings.Contains(got, "Pay with Visa •••• 4242") {
		t.Errorf("saved cards: %q", got)
	}
	if on, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("input[name=saved]:checked").value !== "new"`)); !on {
		t.Error("the saved card is not preselected")
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("[data-test=new-card]").offsetParent !== null`)); shown {
		t.Error("the card fields show while a saved card is chosen")
	}
	s.take("1-review-saved-card")
	p.do(chromedp.Click(chromedp.CSS("#saved-new")))
	p.visible("#number")
	p.fillCard("4000 0000 0000 0002")
	p.do(chromedp.Click(chromedp.CSS("#terms")), chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=decline]")
	p.settled()

	// The retry offers the saved Visa, not the declined card: one click.
	offered := p.text("[data-test=saved-cards]")
	if !strings.Contains(offered, "Visa •••• 4242") || strings.Contains(offered, "0002") {
		t.Errorf("retry offers %q, want the Visa and not the declined card", offered)
	}
	s.take("2-retry-saved-card")
	p.do(chromedp.Click(chromedp.CSS("[data-test=retry-pay]")))
	p.visible("[data-test=done]")
	if pay := p.text("[data-test=payment]"); !strings.Contains(pay, "4242") {
		t.Errorf("payment line: %q", pay)
	}
	if c, d, _ := h.charges(); c != 2 || d != 1 {
		t.Errorf("ledger: %d charges, %d declines; want 2 charges of the saved card and 1 decline", c, d)
	}
	r := h.Do("GET", "/v1/payment-methods", token, nil)
	h.Expect(r, 200, "")
	if n := len(r.List("data")); n != 2 {
		t.Errorf("account has %d cards, want 2 (the Visa saved once)", n)
	}
}
