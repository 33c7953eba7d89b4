package e2e

import (
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

// TestBrowserConnectionLost goes offline mid-migration: the page says
// "Connection lost — reconnecting…" while the upgrade finishes without it,
// and once back online it shows the whole state again (complete, 100%),
// the banner gone.
func TestBrowserConnectionLost(t *testing.T) {
	ctx := browser(t)
	h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.Sim.MigrateDelay = 700 * time.Millisecond })
	acct, token := hobby(h, "offline@example.com")
	id := h.upgrade(token, "pro-1m", h.card(token, "4242424242424242"))
	p := &page{t: t, ctx: ctx, h: h}
	s := newShots(t, ctx, "connection")
	p.signIn(acct)
	p.do(chromedp.Navigate(h.BaseURL + "/upgrades/" + id))
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
