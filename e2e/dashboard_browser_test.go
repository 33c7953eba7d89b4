package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// offline cuts the page off the network, or gives it back, as DevTools'
// network emulation does: requests fail, and navigator.onLine says so.
func (p *page) offline(off bool) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, network.Enable, network.EnableParams{}); err != nil {
		p.t.Fatal(err)
	}
	if _, err := chromedp.Call(p.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}}}); err != nil {
		p.t.Fatal(err)
	}
	if _, err := chromedp.Call(p.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off,
		DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		p.t.Fatal(err)
	}
}

// watchUpgrade signs the account in and opens the upgrade's page, with the
// screenshots of the walk.
func watchUpgrade(t *testing.T, ctx context.Context, h *harness, acct, id, walk string) (*page, *shots) {
	t.Helper()
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, walk)
	p.signIn(acct)
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
	return p, s
}

// TestBrowserConnectionLost goes offline mid-migration: the page says
// "Connection lost — reconnecting…" while the upgrade finishes without it,
// and once back online it shows the whole state again (complete, 100%),
// the banner gone.
func TestBrowserConnectionLost(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Sim.MigrateDelay = 700 * time.Millisecond })
	acct, token := hobby(h, "offline@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	p, s := watchUpgrade(t, ctx, h, acct, id, "connection")
	p.visible("[data-test=workload][data-moving]")

	p.offline(true)
	p.visible("[data-test=connection]")
	if msg := p.text("[data-test=connection]"); msg != "Connection lost — reconnecting…" {
		t.Errorf("offline banner: %q", msg)
	}
	s.take("1-connection-lost")
	h.waitStatus(token, id, "completed")
	if p.text("[data-test=done]") != "" {
		t.Error("the page showed the completion while offline")
	}

	p.offline(false)
	p.visible("[data-test=done]")
	if pr := p.text("[data-test=progress]"); pr != "100% done" {
		t.Errorf("after reconnecting: %q", pr)
	}
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("conn").hidden`)); shown {
		t.Error("the connection banner stays after reconnecting")
	}
	if say := p.text("[data-test=announce]"); !strings.Contains(say, "100% done") {
		t.Errorf("the live region announced %q", say)
	}
	s.take("2-reconnected")
}

// TestBrowserDeduction: Pro (1 month) → Team (1 month) shortens Team by
// the time left on Pro. Compare and Review say what Team gets and why, in
// words, and Compare what each plan costs this account now.
func TestBrowserDeduction(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t))
	started := time.Now().UTC().Add(-(20*24 + 1) * time.Hour).Format(time.RFC3339)
	acct, _ := h.account(map[string]any{"email": "deduct@example.com", "timezone": "America/Los_Angeles", "plan": "pro-1m", "current_period_start": started})
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "deduction")
	p.signIn(acct)
	if o := p.text("[data-test=upgrade-offer]"); o != "Upgrade to Team" {
		t.Errorf("a Pro account is offered %q", o)
	}
	s.take("1-plan-pro")

	because := regexp.MustCompile(`^Team \(1 month\) runs \d+ days( and \d+ hours?)?, until \d{1,2} [A-Z][a-z]{2} \d{4}, because the \d+ days( and \d+ hours?)? left on Pro \(1 month\) count as time already spent on Team \(1 month\)\.$`)
	p.do(chromedp.Navigate(h.BaseURL + "/compare?months=1"))
	p.visible("[data-test=now-team-1m]")
	now := p.text("[data-test=now-team-1m]")
	head, outcome, _ := strings.Cut(now, "\n")
	if !strings.HasPrefix(head, "For you now: $99.00 today — Team (1 month) until ") || !because.MatchString(strings.TrimSpace(outcome)) {
		t.Errorf("Team on Compare: %q", now)
	}
	if col := p.text("[data-test=col-pro]"); !strings.Contains(col, "This is your current plan.") {
		t.Errorf("Pro column: %q", col)
	}
	s.take("2-compare")
	p.do(chromedp.Navigate(h.BaseURL + "/compare?months=3"))
	p.visible("[data-test=now-pro-3m]")
	if n := p.text("[data-test=now-pro-3m]"); !strings.Contains(n, "$81.00 today — Pro (3 months) until") || !strings.Contains(n, "left on Pro (1 month) are added to it") {
		t.Errorf("Pro (3 months) now: %q", n)
	}

	p.checkoutTo("team-1m")
	if o := p.text("[data-test=outcome]"); !because.MatchString(o) {
		t.Errorf("Review's outcome: %q", o)
	}
	if strings.Contains(p.text("main"), "Deducted: −") {
		t.Error("the Review page still shows the bare deduction")
	}
	// A deduction in hours is where the minute matters: the explanation
	// gives the period's ends to the minute, in the account's zone, ending
	// when the outcome says.
	at := `(\d{1,2} [A-Z][a-z]{2} \d{4}), \d\d:\d\d P[SD]T`
	e := regexp.MustCompile(`left on Pro \(1 month\)\. Because Team \(1 month\) is not longer than your current plan, those .+ count as already used on it: it runs from ` + at + ` to ` + at + ` instead of ` + at + `\.`).
		FindStringSubmatch(p.text("[data-test=explanation]"))
	if until := regexp.MustCompile(`until (\d{1,2} [A-Z][a-z]{2} \d{4})`).FindStringSubmatch(p.text("[data-test=outcome]")); e == nil || until == nil || e[2] != until[1] {
		t.Errorf("Review's explanation: %q", p.text("[data-test=explanation]"))
	}
	s.take("3-review")
}

// banners counts the status banners the page shows.
func (p *page) banners() float64 {
	p.t.Helper()
	return p.number(`document.querySelectorAll("main .banner:not([hidden])").length`)
}

// TestBrowserFailureAndRefund: a provisioning failure says which attempt
// comes ("attempt 2 of 3", with a countdown) and that the customer has
// been charged, in one banner; then the hand-off to support with its
// ticket; once with support the Plan page tells the truth (the upgrade in
// progress, what is not ready yet, the old features); the canceled upgrade
// shows the refund, and no step or progress left over.
func TestBrowserFailureAndRefund(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Workflow.BaseDelay, o.Workflow.MaxDelay = 3*time.Second, 3*time.Second
	})
	acct, token := hobby(h, "refund@example.com")
	h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 3}), 201, "")
	id := h.upgrade(token, "pro-6m", h.card(token, "4242424242424242"))
	p, s := watchUpgrade(t, ctx, h, acct, id, "provisioning-failure")
	p.visible("[data-test=retry]")
	msg := p.text("[data-test=retry]")
	if !strings.HasPrefix(msg, "Dedicated node did not work") || !strings.Contains(msg, "resource shortage") || !regexp.MustCompile(`Trying again (in \d+ s|starting now) — attempt 2 of 3`).MatchString(msg) ||
		!strings.Contains(msg, "You have been charged $156.00 on Visa •••• 4242. If the upgrade cannot be completed, it is canceled and the whole amount refunded") {
		t.Errorf("retry banner: %q", msg)
	}
	if n := p.banners(); n != 1 {
		t.Errorf("%v banners while retrying, want 1", n)
	}
	if main := p.text("main"); strings.Contains(main, "provision_node") || strings.Contains(main, "activate_plan") || strings.Contains(main, "pro-6m") {
		t.Errorf("internal names on the page:\n%s", main)
	}
	s.take("1-retrying")
	p.visible("[data-test=support]")
	if n := p.banners(); n != 1 {
		t.Errorf("%v banners with support, want 1", n)
	}
	if ticket := p.text("[data-test=ticket]"); !strings.HasPrefix(ticket, "tkt_") {
		t.Errorf("ticket: %q", ticket)
	}
	if sup := p.text("[data-test=support]"); !strings.Contains(sup, "Dedicated node could not finish after 3 attempts") || !strings.Contains(sup, "You have been charged $156.00") {
		t.Errorf("support banner: %q", sup)
	}
	s.take("2-needs-support")

	p.do(chromedp.Navigate(h.BaseURL + "/plan"))
	p.visible("[data-test=active-upgrade]")
	banner := p.text("[data-test=active-upgrade]")
	if !strings.Contains(banner, "Your upgrade to Pro (6 months) is with our support team.") || !strings.Contains(banner, "Not ready yet: your dedicated node, your workloads moved there, the new limits and features.") {
		t.Errorf("plan banner: %q", banner)
	}
	if n := p.text("[data-test=node-pool]"); n != "Shared" {
		t.Errorf("node pool while no node exists: %q", n)
	}
	if f := p.text("[data-test=features]"); !strings.Contains(f, "Functions: 5") || strings.Contains(f, "SSD") {
		t.Errorf("features while the upgrade is with support: %q", f)
	}
	if p.text("[data-test=upgrade-offer]") != "" {
		t.Error("the Plan page offers another upgrade while one is active")
	}
	if main := p.text("main"); !strings.Contains(main, "Your upgrade stopped at “Dedicated node”: it could not finish after 3 attempts") ||
		regexp.MustCompile(`provision_node|pro-6m|acct_|needs support`).MatchString(main) {
		t.Errorf("the Plan page during support:\n%s", main)
	}
	s.take("3-plan-needs-support")

	h.Expect(h.Do("POST", "/v1/upgrades/"+id+"/cancel", admin, nil), 202, "")
	h.waitStatus(token, id, "canceled")
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
	p.visible("[data-test=refund]")
	if r := p.text("[data-test=refund]"); !regexp.MustCompile(`^\$156\.00 was refunded to Visa •••• 4242 on \d{1,2} [A-Z][a-z]{2} \d{4}\. Card refunds usually appear on your statement within 5–10 business days\.$`).MatchString(r) {
		t.Errorf("refund: %q", r)
	}
	if main := p.text("main"); strings.Contains(main, "% done") || strings.Contains(main, "Plan switch") || strings.Contains(main, "succeeded") {
		t.Errorf("the canceled page shows steps or progress:\n%s", main)
	}
	s.take("4-canceled-refunded")
	p.do(chromedp.Navigate(h.BaseURL + "/plan"))
	p.visible("[data-test=plan-name]")
	if main := p.text("main"); !strings.Contains(main, "Your upgrade to Pro (6 months) was canceled and Hobby is back. We refunded $156.00 to your Visa card ending in 4242") {
		t.Errorf("the Plan page after the refund:\n%s", main)
	}

	p.do(chromedp.Navigate(h.BaseURL + "/history"))
	p.visible("[data-test=entry]")
	if e := p.text("[data-test=entry]"); !strings.Contains(e, "Hobby → Pro (6 months)") || !strings.Contains(e, "$156.00") || !strings.Contains(e, "refunded") ||
		!strings.Contains(e, "Receipt TU-") || !strings.Contains(e, "Credit note TU-") {
		t.Errorf("history entry: %q", e)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=entry] summary")))
	audit := p.text("[data-test=audit]")
	for _, want := range []string{"you: Upgrade started: Hobby → Pro (6 months)", "tierup: Payment: $156.00 charged to Visa •••• 4242",
		"tierup: Dedicated node: failed", "attempt 2 of 3", "support: Cancel requested", "Canceled: $156.00 refunded to Visa •••• 4242; Hobby is back"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	if regexp.MustCompile(`\d{4}-\d\d-\d\dT|acct_|upg_|provision_node|UTC`).MatchString(audit) {
		t.Errorf("audit shows internal names or UTC times:\n%s", audit)
	}
	if !regexp.MustCompile(`\d\d:\d\d:\d\d CET`).MatchString(audit) {
		t.Errorf("audit times are not in the account's zone (Europe/Paris):\n%s", audit)
	}
	s.take("5-history")

	// An error page keeps the navigation and says what went wrong in words.
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/upg_nothing"))
	p.visible("[data-test=page-title]")
	if title := p.text("[data-test=page-title]"); title != "We could not find that" {
		t.Errorf("error page title %q", title)
	}
	if nav := p.text("nav[aria-label=Main]"); !strings.Contains(nav, "Billing history") {
		t.Errorf("error page navigation: %q", nav)
	}
	s.take("6-not-found")
}
