package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core 4.14.1 (npm axe-core, MPL-2.0; its LICENSE beside
// it), vendored so that the accessibility check needs no network.
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeViolation is one failed axe rule with the elements that fail it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeCheck runs axe-core's default rules (WCAG 2.x A and AA and best
// practices), and WCAG 2.2's 24-px target size, in the page as it is now and fails the test on any
// violation. The script is evaluated through the DevTools protocol, which
// the page's Content-Security-Policy does not govern, so the product keeps
// its strict policy.
func (s *shots) axeCheck(state string) {
	s.t.Helper()
	for _, v := range axeViolations(s.t, s.ctx) {
		s.t.Errorf("axe on %s: %s (%s, %s):\n  %s", state, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// axeViolations injects axe-core into the page once and runs it.
func axeViolations(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!window.axe`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource+";\ntrue"))
	}
	if err != nil {
		t.Fatalf("injecting axe-core: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"], rules: {"target-size": {enabled: true}}}).then(function (r) {
		return JSON.stringify(r.violations.map(function (v) {
			return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) { return n.target.join(" ") + " — " + n.failureSummary })}
		}))
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe-core's answer %q: %v", out, err)
	}
	return vs
}

// TestAxeFindsViolations shows that the check sees what it should: a
// page with an unlabelled field, an image without text and low contrast
// fails with those rules, and a clean one passes.
func TestAxeFindsViolations(t *testing.T) {
	ctx := browser(t)
	for _, tc := range []struct {
		name, html string
		want       []string
	}{
		{"broken", `<!doctype html><html lang="en"><head><title>x</title></head><body><main><h1>x</h1><img src="a.png"><input type="text"><p style="color:#ccc;background:#fff">faint</p></main></body></html>`,
			[]string{"color-contrast", "image-alt", "label"}},
		{"clean", `<!doctype html><html lang="en"><head><title>x</title></head><body><main><h1>x</h1><label for="a">Name</label><input id="a"></main></body></html>`, nil},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(tc.html))); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range axeViolations(t, ctx) {
			got = append(got, v.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s page: violations %v, want %v", tc.name, got, tc.want)
		}
	}
}
