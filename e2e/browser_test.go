package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	}
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		s.t.Fatal(err)
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

func (p *page) visible(sel string) { p.t.Helper(); p.do(chromedp.WaitVisible(chromedp.CSS(sel))) }

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
	s.take("1-plan")

	// 3–4: the comparison, with durations and prices.
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-to-pro]")))
	p.visible("[data-test=col-pro]")
	if col := p.text("[data-test=col-hobby]"); !strings.Contains(col, "Current plan") {
		t.Errorf("hobby column: %q", col)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=months-12]")))
	p.visible("[data-test=start-pro-12m]")
	if col := p.text("[data-test=col-pro]"); !strings.Contains(col, "$290.00") || !strings.Contains(col, "save") {
		t.Errorf("pro 12 months: %q", col)
	}
	p.do(chromedp.Click(chromedp.CSS("[data-test=months-1]")))
	p.visible("[data-test=start-pro-1m]")
	s.take("2-compare")

	// 5–9: the review shows the quote; the button waits for a valid card
	// and the terms.
	p.do(chromedp.Click(chromedp.CSS("[data-test=start-pro-1m]")))
	p.visible("[data-test=explanation]")
	if e := p.text("[data-test=explanation]"); !strings.Contains(e, "Hobby has no paid time") || !strings.Contains(e, "JST") {
		t.Errorf("explanation: %q", e)
	}
	if a := p.text("[data-test=amount-due]"); a != "$29.00" {
		t.Errorf("amount due: %q", a)
	}
	if !disabled(p, "#execute") {
		t.Error("Execute Upgrade is enabled before the form is filled")
	}
	p.do(chromedp.SendKeys(chromedp.CSS("#number"), "4242424242424241"), chromedp.Click(chromedp.CSS("#cvc")))
	if msg := p.text("#number-err"); !strings.Contains(msg, "not valid") {
		t.Errorf("inline error for a bad number: %q", msg)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.getElementById("number").value = "", true)`)); err != nil {
		t.Fatal(err)
	}
	p.fillCard("4000 0000 0000 0002")
	if !disabled(p, "#execute") {
		t.Error("Execute Upgrade is enabled before the terms are accepted")
	}
	p.do(chromedp.Click(chromedp.CSS("#terms")))
	if disabled(p, "#execute") {
		t.Fatal("Execute Upgrade stays disabled with a valid form")
	}
	s.take("3-review")

	// 10–11a: the declined card says so in plain words; the number is gone.
	p.do(chromedp.Click(chromedp.CSS("#execute")))
	p.visible("[data-test=decline]")
	if msg := p.text("[data-test=decline]"); !strings.Contains(msg, "declined") {
		t.Errorf("decline message: %q", msg)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#number"))); v != "" {
		t.Errorf("the card number was kept in the form: %q", v)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#name"))); v != "" && v != "Ada Lovelace" {
		t.Errorf("name field: %q", v)
	}
	s.take("4-payment-failed")

	// 11c–15: a good card; the progress is live until completion.
	p.fillCard("4242 4242 4242 4242")
	p.do(chromedp.Click(chromedp.CSS("[data-test=retry-pay]")))
	p.visible("[data-test=workload]")
	s.take("5-progress")
	p.visible("[data-test=done]")
	if st := p.text("[data-test=step-notify]"); !strings.Contains(st, "succeeded") {
		t.Errorf("notify step: %q", st)
	}
	if pr := p.text("[data-test=progress]"); pr != "100% done" {
		t.Errorf("progress: %q", pr)
	}
	s.take("6-complete")

	// 16: the Plan page shows Pro and the new features.
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
	// The pool, the plan's count of nodes and the node itself, by name.
	if n := p.text("[data-test=node-pool]"); !strings.HasPrefix(n, "Dedicated (1)") || !strings.Contains(p.text("[data-test=dedicated-nodes]"), "dedicated-acct_") {
		t.Errorf("node pool: %q", n)
	}
	s.take("7-plan-pro")

	p.do(chromedp.Navigate(h.BaseURL + "/history"))
	p.visible("details")
	s.take("8-history")
	p.do(chromedp.Navigate(h.BaseURL + "/terms"))
	s.take("9-terms")
}

// TestBrowserProvisioningFailure shows the error, the attempt count and the
// countdown to the next retry, then the hand-off to support.
func TestBrowserProvisioningFailure(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) {
		o.Workflow.BaseDelay, o.Workflow.MaxDelay = 4*time.Second, 4*time.Second
	})
	acct, token := hobby(h, "shortage@example.com")
	h.Expect(h.Do("POST", "/v1/sandbox/faults", admin, map[string]any{"kind": "resource_shortage", "count": 3}), 201, "")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "provisioning-failure")
	p.signIn(acct)
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
	p.visible("[data-test=retry]")
	msg := p.text("[data-test=retry]")
	if !strings.Contains(msg, "resource shortage") || !strings.Contains(msg, "Attempt 1 failed") || !strings.Contains(msg, " s") {
		t.Errorf("retry notice: %q", msg)
	}
	s.take("1-retrying")
	p.visible("[data-test=support]")
	ticket := p.text("[data-test=ticket]")
	if !strings.HasPrefix(ticket, "tkt_") {
		t.Errorf("ticket: %q", ticket)
	}
	s.take("2-needs-support")
}

// TestBrowserPausedThenResumed shows the paused state while the cluster is
// cut off and the upgrade finishing once it is back.
func TestBrowserPausedThenResumed(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Sim.MigrateDelay = 400 * time.Millisecond })
	acct, token := hobby(h, "pause@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "paused")
	p.signIn(acct)
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
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
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-to-pro]")))
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
	p.do(chromedp.Click(chromedp.CSS("[data-test=fail-auth]")))
	p.visible("[data-test=decline]")
	if msg := p.text("[data-test=decline]"); !strings.Contains(msg, "could not confirm") || !strings.Contains(msg, "Try") {
		t.Errorf("after a failed authentication: %q", msg)
	}
	s.take("2-failed")

	// Another card that needs authentication, completed this time.
	p.fillCard("4000 0000 0000 3220")
	p.do(chromedp.Click(chromedp.CSS("[data-test=retry-pay]")))
	p.visible("[data-test=complete-auth]")
	p.do(chromedp.Click(chromedp.CSS("[data-test=complete-auth]")))
	p.visible("[data-test=done]")
	if pay := p.text("[data-test=payment]"); !strings.Contains(pay, "$29.00") || !strings.Contains(pay, "3220") || !strings.Contains(pay, "succeeded") {
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
	p.do(chromedp.Click(chromedp.CSS("[data-test=upgrade-to-pro]")))
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
	list := p.text("[data-test=nodes]")
	for _, n := range names {
		if !strings.Contains(list, n) {
			t.Errorf("progress page's nodes lack %s: %q", n, list)
		}
	}
	if h2 := p.text("#nodes-h"); h2 != "Dedicated nodes (3)" {
		t.Errorf("nodes heading %q", h2)
	}
	if on := p.text("[data-test=workload-nodes]"); !strings.HasPrefix(on, "on "+names[0]+", ") {
		t.Errorf("web's nodes: %q", on)
	}
	s.take("1-progress")
	p.do(chromedp.Navigate(h.BaseURL + "/plan"))
	p.visible("[data-test=node-pool]")
	if n := p.text("[data-test=node-pool]"); !strings.HasPrefix(n, "Dedicated (3)") {
		t.Errorf("node pool: %q", n)
	}
	if got := p.text("[data-test=dedicated-nodes]"); got != strings.Join(names, "\n") {
		t.Errorf("plan page's nodes %q, want %v", got, names)
	}
	s.take("2-plan")
}
