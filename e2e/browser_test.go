package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// browser starts headless Chromium for the test, or skips (fails in CI)
// when it is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM_BIN")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" || os.Getenv("TIERUP_TEST_REQUIRE_BROWSER") != "" {
			t.Fatal("Chromium is required for the browser tests: apt-get install chromium")
		}
		t.Skip("Chromium not installed (apt-get install chromium)")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// shots writes screenshots of each screen, wide and phone-sized, to the
// folder the README names (screenshots/, or TIERUP_SCREENSHOTS), and checks
// each with axe-core at both widths.
type shots struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newShots(t *testing.T, ctx context.Context, walk string) *shots {
	dir := os.Getenv("TIERUP_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "screenshots")
	}
	dir = filepath.Join(dir, walk)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shots{t: t, ctx: ctx, dir: dir}
}

func (s *shots) take(name string) {
	s.t.Helper()
	for _, size := range [][2]int64{{1280, 900}, {390, 844}} {
		if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(size[0], size[1])); err != nil {
			s.t.Fatal(err)
		}
		buf, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, name+"-"+strconv.FormatInt(size[0], 10)+".png"), buf, 0o644); err != nil {
			s.t.Fatal(err)
		}
		s.axeCheck(name + " at " + strconv.FormatInt(size[0], 10) + " px")
		if size[0] == 390 {
			s.noOverflow(name)
		}
	}
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		s.t.Fatal(err)
	}
}

// noOverflow fails when anything on the page, every folded detail opened,
// is wider than a 390-px phone (the page would scroll sideways).
func (s *shots) noOverflow(name string) {
	s.t.Helper()
	wide, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`(function(){
		const closed = Array.from(document.querySelectorAll("details:not([open])"));
		closed.forEach(function (d) { d.open = true; });
		const out = [];
		document.querySelectorAll("body *").forEach(function (el) {
			const r = el.getBoundingClientRect();
			if (r.width > 0 && r.right > document.documentElement.clientWidth + 0.5) out.push(el.tagName.toLowerCase() + (el.className ? "." + el.className : "") + " " + Math.round(r.right) + "px");
		});
		if (document.documentElement.scrollWidth > document.documentElement.clientWidth) out.push("page " + document.documentElement.scrollWidth + "px");
		closed.forEach(function (d) { d.open = false; });
		return out.slice(0, 8).join(", ");
	})()`))
	if err != nil {
		s.t.Fatal(err)
	}
	if wide != "" {
		s.t.Errorf("%s overflows 390 px: %s", name, wide)
	}
}

// page is a browser session on the harness's dashboard.
type page struct {
	t   *testing.T
	ctx context.Context
	h   *harness
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	// Read in one script: the live page may swap the node between a
	// lookup and a read.
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(function(){ const el = document.querySelector(`+strconv.Quote(sel)+`); return el ? el.innerText.trim() : "" })()`))
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// click clicks the element in one script: the live page may swap the node
// between a lookup and a click.
func (p *page) click(sel string) {
	p.t.Helper()
	ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`(function(){ const el = document.querySelector(`+strconv.Quote(sel)+`); if (el) el.click(); return !!el })()`))
	if err != nil || !ok {
		p.t.Fatalf("clicking %s: found %v, %v", sel, ok, err)
	}
}

func (p *page) visible(sel string) { p.t.Helper(); p.do(chromedp.WaitVisible(chromedp.CSS(sel))) }

// settled waits until the live progress page has caught up with the
// server: its stream open and no refresh under way (app.js says so in
// #live's data-sync).
func (p *page) settled() { p.t.Helper(); p.visible(`#live[data-sync="live"]`) }

// expectValues checks the form fields named by want's keys, read in one
// script: the live page may swap a node between a lookup and a read.
func (p *page) expectValues(when string, want map[string]string) {
	p.t.Helper()
	sels := make([]string, 0, len(want))
	for sel := range want {
		sels = append(sels, strconv.Quote(sel))
	}
	got, err := chromedp.Run(p.ctx, chromedp.Evaluate[map[string]string](`(function(){ const out = {};
		for (const sel of [`+strings.Join(sels, ",")+`]) { const el = document.querySelector(sel); out[sel] = el ? el.value : "(missing)"; }
		return out })()`))
	if err != nil {
		p.t.Fatal(err)
	}
	for sel, w := range want {
		if got[sel] != w {
			p.t.Errorf("%s %s = %q, want %q", when, sel, got[sel], w)
		}
	}
}

// fillCard types a card into the form like a person would.
func (p *page) fillCard(number string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), number),
		chromedp.SendKeys(chromedp.CSS("#cvc"), "123"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada Lovelace"))
	// Selects: choose like a keyboard user and let the page hear it.
	if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`(function(){
		for (const [id, v] of [["exp_month","12"],["exp_year","2030"]]) {
			const el = document.getElementById(id); el.value = v;
			el.dispatchEvent(new Event("change", {bubbles: true}));
		}
		return true })()`)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *page) signIn(accountID string) {
	p.t.Helper()
	r := p.h.Do("POST", "/v1/accounts/"+accountID+"/login-links", admin, nil)
	p.h.Expect(r, 201, "")
	p.do(chromedp.Navigate(p.h.BaseURL + r.Str("path")))
	p.visible("[data-test=plan-name]")
}

// attr reads an attribute of the first element sel matches.
func (p *page) attr(sel, name string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(function(){ const el = document.querySelector(`+strconv.Quote(sel)+`); return el ? (el.getAttribute(`+strconv.Quote(name)+`) || "") : "" })()`))
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// number evaluates a numeric expression in the page.
func (p *page) number(expr string) float64 {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[float64](expr))
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// size is the rendered width and height of the first element sel matches.
func (p *page) size(sel string) (float64, float64) {
	p.t.Helper()
	q := `document.querySelector(` + strconv.Quote(sel) + `).getBoundingClientRect()`
	return p.number(q + `.width`), p.number(q + `.height`)
}

func disabled(p *page, sel string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector("`+sel+`").disabled`))
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// TestBrowserUpgrade walks the seed's basic flow and its payment failure in
// a real browser, and asserts on what the pages show.
func TestBrowserUpgrade(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Sim.ProvisionDelay, o.Sim.MigrateDelay = 600*time.Millisecond, 250*time.Millisecond
		o.Workflow.ProgressEvery = time.Nanosecond // each move shown as it ends, for the page to be seen mid-move
		// A charge that goes through answers after this long: the time
		// to see and photograph "Confirming your payment…".
		o.SandboxLatency = 8 * time.Second
	})
	acct, _ := h.account(map[string]any{"email": "browser@example.com", "timezone": "Asia/Tokyo",
		"usage": map[string]any{"functions": 4, "cronjobs": 10, "storage_mb": 6200}})
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "upgrade")

	// 1–2: the Plan page shows Hobby, its usage and its limits.
	p.signIn(acct)
	if got := p.text("[data-test=plan-name]"); got != "Hobby" {
		t.Errorf("plan = %q", got)
	}
	if m := p.text("[data-test=meter-Functions]"); !strings.Contains(m, "4") || !strings.Contains(m, "/ 5") || !strings.Contains(m, "near the limit") {
		t.Errorf("functions meter: %q", m)
	}
	if m := p.text("[data-test=meter-CronJobs]"); !strings.Contains(m, "limit reached") {
		t.Errorf("cronjobs meter: %q", m)
	}
	// The page names its icon, and browsers that ask /favicon.ico get it.
	if icon, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Promise.all([document.querySelector("link[rel=icon]").href, "/favicon.ico"].map(function (u) {
		return fetch(u).then(function (r) { return r.status + " " + r.headers.get("Content-Type") }) })).then(function (a) { return a.join(", ") })`, chromedp.EvalAwaitPromise)); err != nil || icon != "200 image/svg+xml, 200 image/svg+xml" {
		t.Errorf("favicon: %q (%v)", icon, err)
	}
	s.take("1-plan")

	// 3–4: the comparison, with durations, prices rounded once ($290 over
	// 12 months is $24.17 a month) and what each plan costs now.
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-offer]")))
	p.visible("[data-test=col-pro]")
	if col := p.text("[data-test=col-hobby]"); !strings.Contains(col, "Current plan") {
		t.Errorf("hobby column: %q", col)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=months-12]")))
	p.visible("[data-test=start-pro-12m]")
	if col := p.text("[data-test=col-pro]"); !strings.Contains(col, "$290.00") || !strings.Contains(col, "$24.17 a month") || !strings.Contains(col, "save 17%") {
		t.Errorf("pro 12 months: %q", col)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=months-1]")))
	p.visible("[data-test=start-pro-1m]")
	if now := p.text("[data-test=now-pro-1m]"); !strings.Contains(now, "For you now: $29.00 today — Pro (1 month) until ") {
		t.Errorf("what Pro costs now: %q", now)
	}
	s.take("2-compare")

	// 5–9: the review says what the price buys and that nothing renews;
	// the button says what it pays, what is missing while disabled, and
	// who processes the payment; the brand shows as the number is typed.
	p.do(chromedp.Click(chromedp.CSS("[data-test=start-pro-1m]")))
	p.visible("[data-test=price-line]")
	if a := p.text("[data-test=amount-due]"); a != "$29.00" {
		t.Errorf("amount due: %q", a)
	}
	pl := regexp.MustCompile(`^\$29\.00 today — Pro \(1 month\) until (\d{1,2} [A-Z][a-z]{2} \d{4})$`).FindStringSubmatch(p.text("[data-test=price-line]"))
	if pl == nil {
		t.Errorf("price line: %q", p.text("[data-test=price-line]"))
	}
	// The explanation gives the period as dates (nothing here depends on
	// the minute), the same as the price line's, in the account's zone.
	e := regexp.MustCompile(`^How this was worked out: Hobby has no paid time to carry over\. Pro \(1 month\) starts now and runs from \d{1,2} [A-Z][a-z]{2} \d{4} to (\d{1,2} [A-Z][a-z]{2} \d{4})\. You pay \$29\.00 now\.$`).
		FindStringSubmatch(p.text("[data-test=explanation]"))
	if e == nil || pl == nil || e[1] != pl[1] {
		t.Errorf("explanation: %q, want the period as dates ending on the price line's", p.text("[data-test=explanation]"))
	}
	if r := p.text("[data-test=renewal]"); !strings.Contains(r, "tierup does not renew plans and will not charge you again") {
		t.Errorf("renewal: %q", r)
	}
	if b := p.text("#execute"); b != "Pay $29.00" {
		t.Errorf("pay button: %q", b)
	}
	if pr := p.text("[data-test=processor]"); !strings.Contains(pr, "sandbox") || !strings.Contains(pr, "no real card is charged") {
		t.Errorf("processor line: %q", pr)
	}
	if !disabled(p, "#execute") {
		t.Error("the pay button is enabled before the form is filled")
	}
	if d := p.attr("#execute", "aria-describedby"); d != "pay-hint" || !strings.Contains(p.text("#pay-hint"), "still needed: a valid card number, the expiry date, the security code, accepting the terms") {
		t.Errorf("disabled button described by %q: %q", d, p.text("#pay-hint"))
	}
	if w, h := p.size("#terms"); w < 24 || h < 24 {
		t.Errorf("terms checkbox is %v×%v px, want at least 24×24", w, h)
	}
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), "5555 55"))
	if b := p.text("[data-test=card-brand]"); b != "Mastercard" {
		t.Errorf("brand while typing 5555 55: %q", b)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("number").value = "", true)`)); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), "4242424242424241"), chromedp.Click(chromedp.CSS("#cvc")))
	if msg := p.text("#number-err"); !strings.Contains(msg, "not valid") {
		t.Errorf("inline error for a bad number: %q", msg)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("number").value = "", true)`)); err != nil {
		t.Fatal(err)
	}
	p.fillCard("4000 0000 0000 0002")
	if b := p.text("[data-test=card-brand]"); b != "Visa" {
		t.Errorf("brand of 4000…: %q", b)
	}
	if !disabled(p, "#execute") || !strings.Contains(p.text("#pay-hint"), "accepting the terms") {
		t.Errorf("before the terms: disabled %v, hint %q", disabled(p, "#execute"), p.text("#pay-hint"))
	}
	p.do(chromedp.Click(chromedp.CSS("#terms")))
	if disabled(p, "#execute") || p.text("#pay-hint") != "" {
		t.Fatalf("the pay button stays disabled with a valid form: %q", p.text("#pay-hint"))
	}
	s.take("3-review")

	// 10–11a: a click makes the button busy at once (no second payment);
	// the declined card keeps the customer in the Review and pay layout,
	// the message once, next to the card, with the name and the expiry
	// kept and the number and code cleared.
	busy, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){ const b = document.getElementById("execute"); b.click();
		return [b.disabled, b.getAttribute("aria-busy"), b.textContent].join("|") })()`))
	if err != nil || busy != "true|true|Paying…" {
		t.Errorf("after the click the button is %q (%v), want disabled, busy and saying so", busy, err)
	}
	p.visible("[data-test=decline-message]")
	if msg := p.text("[data-test=decline-message]"); !strings.Contains(msg, "declined") || !strings.Contains(msg, "You have not been charged") {
		t.Errorf("decline message: %q", msg)
	}
	// Next to the card: in the pay form, right above the card fields.
	if next, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){ const m = document.querySelector("#pay-form [data-test=decline-message]");
		let n = m && m.nextElementSibling; while (n && n.matches("fieldset.savedcards")) n = n.nextElementSibling; return n ? n.dataset.test || n.tagName : "" })()`)); err != nil || next != "new-card" {
		t.Errorf("the decline message is not right above the card fields: followed by %q (%v)", next, err)
	}
	if main := p.text("main"); strings.Count(main, "declined") != 1 || !strings.HasPrefix(main, "Review and pay") ||
		!strings.Contains(main, "$29.00 today — Pro (1 month) until") || strings.Contains(main, "not started") || strings.Contains(main, "% done") {
		t.Errorf("after a decline the page is not the checkout with one message:\n%s", main)
	}
	// The stream replays every event on connecting, so the page refreshes
	// a few times after the decline shows: read once it has caught up.
	p.settled()
	kept := map[string]string{"#number": "", "#cvc": "", "#name": "Ada Lovelace", "#exp_month": "12", "#exp_year": "2030"}
	p.expectValues("after the decline", kept)
	if b := p.text("[data-test=retry-pay]"); b != "Pay $29.00" {
		t.Errorf("retry button: %q", b)
	}
	s.take("4-payment-failed")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	if top := p.number(`document.getElementById("number").getBoundingClientRect().top + window.scrollY`); top > 600 {
		t.Errorf("at 390 px the card number of the retry form is %v px down", top)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// 11b: the live page never wipes a card being typed: a dropped
	// connection and its re-sync (which replays every event) keep the new
	// number and what the server filled in, the typing's focus gone.
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), "4242 4242 4242 4242"), chromedp.Click(chromedp.CSS("h1")))
	p.offline(true)
	p.visible("[data-test=connection]")
	p.offline(false)
	p.settled()
	kept["#number"] = "4242 4242 4242 4242"
	p.expectValues("after reconnecting", kept)

	// 11c–15: a good card; the progress is live until completion, each
	// workload moving in turn ("moving (2 of 6)"), each step with its
	// time to the second and how long it took.
	p.do(chromedp.SendKeys(chromedp.CSS("#cvc"), "123"))
	p.do(chromedp.Click(chromedp.CSS("[data-test=retry-pay]")))

	// 11d: while the gateway has not answered, the checkout says it is
	// confirming the payment: the amount, the card, what is charged, and
	// who processes it.
	p.visible("[data-test=paying]")
	paying := p.text("[data-test=paying]")
	if want := "Confirming your payment…\n\n$29.00 with Visa •••• 4242. You are charged once, when the payment goes through; if it does not, you are not charged.\n\n" +
		"Test mode: payments go to tierup's sandbox gateway, which stands in for Stripe; no real card is charged."; paying != want {
		t.Errorf("while paying:\n%s\nwant:\n%s", paying, want)
	}
	if main := p.text("main"); !strings.HasPrefix(main, "Review and pay") || strings.Contains(main, "declined") || strings.Contains(main, "% done") {
		t.Errorf("while paying the page is not the checkout alone:\n%s", main)
	}
	s.take("4b-paying")
	if p.text("[data-test=paying]") == "" {
		t.Error("the payment went through before the screenshots of it were taken: raise SandboxLatency")
	}
	p.visible("[data-test=workload][data-moving]")
	if st := p.text("[data-test=workload][data-moving] [data-test=workload-state]"); !regexp.MustCompile(`^moving \([1-6] of 6\)$`).MatchString(st) {
		t.Errorf("the workload being moved says %q", st)
	}
	if wt := p.text("[data-test=workload][data-moving] [data-test=workload-time]"); !regexp.MustCompile(`^since .* \d\d:\d\d:\d\d JST$`).MatchString(wt) {
		t.Errorf("the workload being moved: %q", wt)
	}
	if p.text("[data-test=working]") == "" || !strings.Contains(p.text("[data-test=working]"), "You have been charged $29.00 on Visa •••• 4242") {
		t.Errorf("while working: %q", p.text("[data-test=working]"))
	}
	s.take("5-progress")
	p.visible("[data-test=done]")
	if st := p.text("[data-test=step-payment]"); !regexp.MustCompile(`done\n\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d JST · took `).MatchString(st) {
		t.Errorf("payment step: %q", st)
	}
	if pr := p.text("[data-test=progress]"); pr != "100% done" {
		t.Errorf("progress: %q", pr)
	}
	if wt := p.text("[data-test=workload][data-state=migrated] [data-test=workload-time]"); !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d JST · took (under a second|\d+ seconds?)$`).MatchString(wt) {
		t.Errorf("a moved workload's time: %q", wt)
	}
	if d := p.text("[data-test=done]"); !strings.Contains(d, "You are on Pro (1 month) until ") || !strings.Contains(d, "You paid $29.00 with Visa •••• 4242") {
		t.Errorf("done: %q", d)
	}
	if href := p.attr("[data-test=receipt-link]", "href"); !strings.HasPrefix(href, "/receipts/rcpt_") {
		t.Errorf("receipt link %q", href)
	}
	s.take("6-complete")

	// 16: the Plan page shows Pro, the new features, when it ends and that
	// it does not renew, and offers Team.
	p.do(chromedp.Navigate(h.BaseURL + "/plan"))
	p.visible("[data-test=plan-name]")
	if got := p.text("[data-test=plan-name]"); got != "Pro (1 month)" {
		t.Errorf("plan after upgrade = %q", got)
	}
	f := p.text("[data-test=features]")
	for _, want := range []string{"Functions: Unlimited", "CronJobs: Unlimited", "100 GB high-performance SSD", "anomaly detection", "predictive scaling", "daily, kept 7 days", "99.9%", "priority email"} {
		if !strings.Contains(f, want) {
			t.Errorf("features lack %q: %q", want, f)
		}
	}
	if m := p.text("[data-test=meter-Storage]"); !strings.Contains(m, "100 GB SSD") {
		t.Errorf("storage meter: %q", m)
	}
	if n := p.text("[data-test=node-pool]"); !strings.HasPrefix(n, "Your dedicated node") || strings.Contains(n, "acct_") {
		t.Errorf("node pool: %q", n)
	}
	if r := p.text("[data-test=renewal]"); !strings.Contains(r, "does not renew") {
		t.Errorf("renewal on the plan page: %q", r)
	}
	if o := p.text("[data-test=upgrade-offer]"); o != "Upgrade to Team" {
		t.Errorf("a Pro account is offered %q", o)
	}
	// The completion notice: in the account's zone, one money format, no
	// cluster name or bare path.
	if n := p.text("[data-test=notifications]"); !regexp.MustCompile(`Your upgrade to Pro \(1 month\) is complete \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d JST`).MatchString(n) ||
		!strings.Contains(n, "Your workloads now run on your dedicated node.") || !strings.Contains(n, "We charged $29.00 to your Visa card ending in 4242") ||
		!regexp.MustCompile(`Your receipt TU-\d{4}-\d{6} is in your billing history\.`).MatchString(n) || regexp.MustCompile(`acct_|/receipts/|USD|UTC`).MatchString(n) {
		t.Errorf("notifications:\n%s", n)
	}
	s.take("7-plan-pro")

	// 11: the billing history: date, what changed, amount, receipt and
	// status, the audit folded under the entry.
	p.do(chromedp.Navigate(h.BaseURL + "/history"))
	p.visible("[data-test=entry]")
	if e := p.text("[data-test=entry] .entry-head"); !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}\s+Hobby → Pro \(1 month\)\s+\$29\.00\s+paid$`).MatchString(e) {
		t.Errorf("history entry: %q", e)
	}
	if r := p.text("[data-test=entry] [data-test=receipt]"); !regexp.MustCompile(`^Receipt TU-\d{4}-\d{6} \(PDF, \$29\.00\)$`).MatchString(r) {
		t.Errorf("history receipt: %q", r)
	}
	if open := p.number(`document.querySelectorAll("[data-test=entry] details[open]").length`); open != 0 {
		t.Error("the audit details are not folded")
	}
	s.take("8-history")
	p.do(chromedp.Navigate(h.BaseURL + "/terms"))
	s.take("9-terms")
}

// TestBrowserPausedThenResumed shows the paused state while the cluster is
// cut off and the upgrade finishing once it is back.
func TestBrowserPausedThenResumed(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Sim.MigrateDelay = 400 * time.Millisecond })
	acct, token := hobby(h, "pause@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	p, s := watchUpgrade(t, ctx, h, acct, id, "paused")
	p.visible("[data-test=workload][data-state=migrated]")
	h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "cluster_unreachable", "seconds": 3600}), 201, "")
	p.visible("[data-test=paused]")
	if msg := p.text("[data-test=paused]"); !strings.Contains(msg, "resume automatically") {
		t.Errorf("paused notice: %q", msg)
	}
	s.take("1-paused")
	h.Expect(h.Do("DELETE", "/v1/sandbox/faults", admin, nil), 204, "")
	p.visible("[data-test=done]")
	s.take("2-resumed-complete")
	// Leaving and coming back shows the same truth.
	p.do(chromedp.Navigate(h.BaseURL+"/plan"), chromedp.Navigate(h.BaseURL+"/upgrades/"+id))
	p.visible("[data-test=done]")
}

// TestBrowserThreeDSecure pays with a card whose bank asks for 3-D Secure:
// the dashboard opens the challenge; a failed authentication says so and
// another card is tried; then a completed authentication returns to the
// progress page, which goes on live to completion.
func TestBrowserThreeDSecure(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Sim.MigrateDelay = 100 * time.Millisecond })
	acct, _ := h.account(map[string]any{"email": "sca@example.com", "timezone": "Europe/Berlin"})
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "3ds")
	p.signIn(acct)
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-offer]")))
	p.visible("[data-test=start-pro-1m]")
	p.do(chromedp.Click(chromedp.CSS("[data-test=start-pro-1m]")))
	p.visible("#number")
	p.fillCard("4000 0027 6000 3184")
	p.do(chromedp.Click(chromedp.CSS("#terms")), chromedp.Click(chromedp.CSS("#execute")))

	// The bank's page opens by itself.
	p.visible("[data-test=fail-auth]")
	if a := p.text("[data-test=challenge-amount]"); a != "$29.00" {
		t.Errorf("challenge amount %q", a)
	}
	s.take("1-challenge")

	// Coming back without answering: the checkout says what the bank waits
	// for, until when, that nothing is charged yet, and leads back to it
	// (once opened by itself, never again).
	p.do(chromedp.NavigateBack())
	p.visible("[data-test=authenticate]")
	if a := p.text("[data-test=authenticate]"); !regexp.MustCompile(`^Your bank asks you to confirm this payment\s+You have not been charged yet: your bank asks you to confirm the payment first\.\s+Confirm with your bank\s+` +
		`If it is not confirmed by \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d:\d\d CET, the payment is canceled and you can try again\.\s+` +
		`Test mode: payments go to tierup's sandbox gateway, which stands in for Stripe; no real card is charged\.$`).MatchString(a) {
		t.Errorf("awaiting the bank: %q", a)
	}
	if main := p.text("main"); !strings.HasPrefix(main, "Review and pay") || !strings.Contains(main, "$29.00 today — Pro (1 month) until") {
		t.Errorf("awaiting the bank, the page is not the checkout:\n%s", main)
	}
	s.take("1b-awaiting-bank")
	p.do(chromedp.Click(chromedp.CSS("[data-test=authenticate-link]")))
	p.visible("[data-test=fail-auth]")
	p.do(chromedp.Click(chromedp.CSS("[data-test=fail-auth]")))
	p.visible("[data-test=decline-message]")
	if msg := p.text("[data-test=decline-message]"); !strings.Contains(msg, "could not confirm") || !strings.Contains(msg, "Try") {
		t.Errorf("after a failed authentication: %q", msg)
	}
	s.take("2-failed")

	// Another card that needs authentication, completed this time.
	p.fillCard("4000 0000 0000 3220")
	p.do(chromedp.Click(chromedp.CSS("[data-test=retry-pay]")))
	p.visible("[data-test=complete-auth]")
	p.do(chromedp.Click(chromedp.CSS("[data-test=complete-auth]")))
	p.visible("[data-test=done]")
	if pay := p.text("[data-test=payment]"); !strings.Contains(pay, "$29.00") || !strings.Contains(pay, "Visa •••• 3220") || !strings.Contains(pay, "succeeded") {
		t.Errorf("payment after authentication: %q", pay)
	}
	s.take("3-complete")
	if c, _, _ := h.charges(); c != 1 {
		t.Errorf("ledger: %d charges, want 1", c)
	}
}

// TestBrowserPreflightProblems: a workload that cannot move is shown on the
// Review page above the card form, before anything is paid; paying anyway
// is refused with the same reasons and nothing is charged.
func TestBrowserPreflightProblems(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t))
	acct, _ := h.account(map[string]any{"email": "preflight-browser@example.com"})
	h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "migration_blocked", "seconds": 3600}), 201, "")
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "preflight")
	p.signIn(acct)
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-offer]")))
	p.visible("[data-test=start-pro-1m]")
	p.do(chromedp.Click(chromedp.CSS("[data-test=start-pro-1m]")))
	p.visible("[data-test=preflight]")
	if msg := p.text("[data-test=preflight]"); !strings.Contains(msg, "nothing will be charged") || !strings.Contains(msg, "Deployment web mounts the host path") {
		t.Errorf("pre-flight banner: %q", msg)
	}
	s.take("1-review-problems")
	p.fillCard("4242 4242 4242 4242")
	p.do(chromedp.Click(chromedp.CSS("#terms")), chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=preflight]")
	if body := p.text("main"); !strings.Contains(body, "cannot move to dedicated nodes") {
		t.Errorf("after paying anyway: %q", body)
	}
	s.take("2-refused")
	if c, _, _ := h.charges(); c != 0 {
		t.Errorf("%d charges", c)
	}
}

// TestBrowserTeamNodes shows a Team upgrade's three dedicated nodes on the
// progress page (each workload's nodes beside it) and on the Plan page.
func TestBrowserTeamNodes(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t))
	acct, token := hobby(h, "team-browser@example.com")
	id := h.upgrade(token, "team-1m", h.card(token, "4242424242424242"))
	names := nodeNames(t, h.waitStatus(token, id, "completed"))
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "team-nodes")
	p.signIn(acct)
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
	p.visible("[data-test=nodes]")
	p.settled() // the stream's replay redraws the page: act once it is done
	// In words on the page; the cluster's names folded away for those
	// who look for them.
	if list := p.text("[data-test=nodes]"); list != "Dedicated node 1\nready\nDedicated node 2\nready\nDedicated node 3\nready" {
		t.Errorf("progress page's nodes: %q", list)
	}
	p.click("[data-test=nodes] + p + details summary")
	if got := p.text("[data-test=node-names]"); got != strings.Join(names, "\n") {
		t.Errorf("node names %q, want %v", got, names)
	}
	if h2 := p.text("#nodes-h"); h2 != "Your 3 dedicated nodes" {
		t.Errorf("nodes heading %q", h2)
	}
	if on := p.text("[data-test=workload-nodes]"); !regexp.MustCompile(`^on nodes \d(, \d)* and \d$`).MatchString(on) {
		t.Errorf("web's nodes: %q", on)
	}
	s.take("1-progress")
	p.do(chromedp.Navigate(h.BaseURL + "/plan"))
	p.visible("[data-test=node-pool]")
	if n := p.text("[data-test=node-pool]"); !strings.HasPrefix(n, "Your 3 dedicated nodes") {
		t.Errorf("node pool: %q", n)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=node-pool] summary")))
	if got := p.text("[data-test=dedicated-nodes]"); got != strings.Join(names, "\n") {
		t.Errorf("plan page's nodes %q, want %v", got, names)
	}
	s.take("2-plan")
}
