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

// TestBrowserExpiredQuote pays a quote that expired while the customer
// filled the form: the page says the quote was renewed and shows the fresh
// one with the form as it was, the card just typed offered as saved (its
// number never shown again), posting to the fresh quote; nothing is
// charged until the customer pays again, and then once.
func TestBrowserExpiredQuote(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Sim.ProvisionDelay, o.Sim.MigrateDelay = 50*time.Millisecond, 20*time.Millisecond
	})
	clock := h.Do("POST", "/v1/test-clocks", admin, map[string]any{"frozen_time": "2026-03-22T00:00:00Z"})
	acct, _ := h.account(map[string]any{"email": "expired-browser@example.com", "timezone": "Europe/Paris", "test_clock": clock.Str("id")})
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "expired-quote")
	p.signIn(acct)
	p.checkoutTo("pro-1m")
	old := p.attr("#pay-form", "action")
	p.fillCard("4242 4242 4242 4242")
	p.do(chromedp.Click(chromedp.CSS("#terms")))
	h.Expect(h.Do("POST", "/v1/test-clocks/"+clock.Str("id")+"/advance", admin, map[string]any{"frozen_time": "2026-03-22T00:31:00Z"}), 200, "")
	p.do(chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=notice]")
	if n := p.text("[data-test=notice]"); n != "Your previous quote expired after 30 minutes, so this is a fresh one. Please check the figures again before paying." {
		t.Errorf("notice: %q", n)
	}
	if main := p.text("main"); strings.Count(main, "expired") != 1 || !strings.Contains(main, "Review and pay") || !strings.Contains(main, "$29.00 today — Pro (1 month) until 22 Apr 2026") {
		t.Errorf("the fresh quote's page:\n%s", main)
	}
	if c := p.text("[data-test=saved-cards]"); !strings.Contains(c, "Pay with Visa •••• 4242 expires 12/2030") {
		t.Errorf("the card just typed is not offered: %q", c)
	}
	if on, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=saved]:checked").value + " " + document.getElementById("terms").checked`)); err != nil || strings.HasPrefix(on, "new") || !strings.HasSuffix(on, " true") {
		t.Errorf("saved card chosen and terms accepted: %q (%v)", on, err)
	}
	// The typed card's fields, hidden behind the saved card, keep what
	// they may: never the number or the code.
	p.expectValues("on the fresh quote", map[string]string{"#number": "", "#cvc": "", "#name": "Ada Lovelace", "#exp_month": "12", "#exp_year": "2030"})
	if action := p.attr("#pay-form", "action"); action == old || !strings.HasPrefix(action, "/review/quo_") {
		t.Errorf("the form posts to %q, the expired quote was %q", action, old)
	}
	if disabled(p, "#execute") || p.text("#execute") != "Pay $29.00" {
		t.Errorf("the pay button: disabled %v, %q, hint %q", disabled(p, "#execute"), p.text("#execute"), p.text("#pay-hint"))
	}
	s.take("1-refreshed")
	if c, d, _ := h.charges(); c+d != 0 {
		t.Errorf("%d charges and %d declines of an expired quote", c, d)
	}
	p.do(chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=done]")
	if c, d, _ := h.charges(); c != 1 || d != 0 {
		t.Errorf("ledger: %d charges, %d declines; want the fresh quote charged once", c, d)
	}
}

// TestBrowserRetryFormHeldWhileTyping: the upgrade changes (support
// cancels it) while the customer types a new card in the retry form. The
// page does not pull the form from under their fingers; once they leave
// it, it shows the change.
func TestBrowserRetryFormHeldWhileTyping(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t))
	acct, token := hobby(h, "typing@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4000000000000002"))
	h.waitStatus(token, id, "payment_failed")
	p, s := watchUpgrade(t, ctx, h, acct, id, "held-while-typing")
	p.visible("[data-test=decline-message]")
	p.settled()
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), "4242 4242"))
	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	h.waitStatus(token, id, "canceled")
	p.visible(`#live[data-sync="held"]`)
	p.expectValues("while held", map[string]string{"#number": "4242 4242", "#name": "Ada Lovelace", "#exp_month": "12", "#exp_year": "2034"})
	if p.text("[data-test=canceled]") != "" {
		t.Error("the cancel replaced the form under the customer's fingers")
	}
	p.do(chromedp.Click(chromedp.CSS("h1")))
	p.visible("[data-test=canceled]")
	if c := p.text("[data-test=canceled]"); c != "This upgrade was canceled; Hobby is back. You have not been charged." {
		t.Errorf("canceled: %q", c)
	}
	p.settled()
	s.take("1-canceled-not-charged")
}
