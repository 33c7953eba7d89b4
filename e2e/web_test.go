package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/dbtest"
)

// dashboard signs a cookie-keeping client in through a login link.
func dashboard(t *testing.T, h *harness, accountID string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	link := h.Do("POST", "/v1/accounts/"+accountID+"/login-links", admin, nil)
	h.Expect(link, 201, "")
	res, err := c.Get(h.BaseURL + link.Str("path"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/plan" || res.StatusCode != 200 {
		t.Fatalf("sign-in ended at %s with %d", res.Request.URL.Path, res.StatusCode)
	}
	return c, link.Str("path")
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func csrfOf(page string) string {
	_, rest, _ := strings.Cut(page, `name="_csrf" value="`)
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestDashboardSessionAndCSRF(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	acct, _ := hobby(h, "web@example.com")
	c, linkPath := dashboard(t, h, acct)

	// The session cookie is HttpOnly and SameSite=Lax.
	res, err := http.Get(h.BaseURL + "/") // a fresh client: signed out
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, res); !strings.Contains(b, "sign-in link") {
		t.Errorf("signed-out home: %s", b)
	}
	u, _ := url.Parse(h.BaseURL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name != "tierup_session" {
			t.Errorf("unexpected cookie %s", ck.Name)
		}
	}
	raw, err := http.Get(h.BaseURL + linkPath) // the link was spent
	if err != nil {
		t.Fatal(err)
	}
	if raw.StatusCode != 401 {
		t.Errorf("a used login link gave %d", raw.StatusCode)
	}
	raw.Body.Close()

	// Set-Cookie attributes, from a fresh link.
	link := h.Do("POST", "/v1/accounts/"+acct+"/login-links", admin, nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = noRedirect.Get(h.BaseURL + link.Str("path"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if sc := res.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
		t.Errorf("Set-Cookie: %s", sc)
	}

	// Security headers on every page.
	res, _ = c.Get(h.BaseURL + "/plan")
	page := body(t, res)
	for name, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := res.Header.Get(name); !strings.Contains(got, want) {
			t.Errorf("%s = %q", name, got)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP: %s", csp)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, " style=") {
		t.Error("the page has inline script or style")
	}
	token := csrfOf(page)
	if token == "" {
		t.Fatal("no CSRF token in the page")
	}

	// A form without the CSRF token, or with another, is refused.
	for _, bad := range []string{"", "forged"} {
		res, err := c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"pro-1m"}, "_csrf": {bad}})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 403 {
			t.Errorf("CSRF %q: %d", bad, res.StatusCode)
		}
		res.Body.Close()
	}
	// With it, the quote is made and the review shown.
	res, err = c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"pro-1m"}, "_csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	review := body(t, res)
	if !strings.HasPrefix(res.Request.URL.Path, "/review/") || !strings.Contains(review, "Pay $29.00") {
		t.Fatalf("review: %s %s", res.Request.URL.Path, review)
	}

	// A bad card: each field named, the number and code never echoed.
	res, err = c.PostForm(h.BaseURL+res.Request.URL.Path, url.Values{"_csrf": {token}, "number": {"4242424242424241"},
		"exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {"98"}, "name": {"Ada"}, "terms": {"2026-11-01"}})
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, res)
	if res.StatusCode != 422 || !strings.Contains(b, "not valid") {
		t.Errorf("bad card: %d", res.StatusCode)
	}
	if strings.Contains(b, "4242424242424241") || strings.Contains(b, `value="98"`) {
		t.Error("the card number or security code was echoed")
	}
	if !strings.Contains(b, `value="Ada"`) {
		t.Error("the name was not kept")
	}

	// Signing out ends the session.
	_, _ = c.PostForm(h.BaseURL+"/logout", url.Values{"_csrf": {token}})
	res, _ = c.Get(h.BaseURL + "/plan")
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("after sign-out /plan gave %d", res.StatusCode)
	}
}

// TestDashboardErrorStatuses: the dashboard answers a domain error with
// the status the API gives the same error.
func TestDashboardErrorStatuses(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	acct, token := hobby(h, "web-status@example.com")
	c, _ := dashboard(t, h, acct)
	res, err := c.Get(h.BaseURL + "/plan")
	if err != nil {
		t.Fatal(err)
	}
	csrf := csrfOf(body(t, res))
	_, otherToken := hobby(h, "web-status-other@example.com")
	otherUpgrade := h.upgrade(otherToken, "pro-1m", h.card(otherToken, "4242424242424242"))

	for _, tc := range []struct {
		name   string
		status int
		title  string
		api    func() int
		web    func() (*http.Response, error)
	}{
		{"unknown plan", 422, "Please check what you sent",
			func() int { return h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "platinum"}).Status },
			func() (*http.Response, error) {
				return c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"platinum"}, "_csrf": {csrf}})
			}},
		{"same plan", 422, "Please check what you sent",
			func() int { return h.Do("POST", "/v1/quotes", token, map[string]any{"plan": "hobby"}).Status },
			func() (*http.Response, error) {
				return c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"hobby"}, "_csrf": {csrf}})
			}},
		{"another account's upgrade", 404, "We could not find that",
			func() int { return h.Do("GET", "/v1/upgrades/"+otherUpgrade, token, nil).Status },
			func() (*http.Response, error) { return c.Get(h.BaseURL + "/upgrades/" + otherUpgrade) }},
		{"unknown quote", 404, "We could not find that",
			func() int { return h.Do("GET", "/v1/quotes/quo_missing", token, nil).Status },
			func() (*http.Response, error) { return c.Get(h.BaseURL + "/review/quo_missing") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.api(); got != tc.status {
				t.Fatalf("API: %d, want %d", got, tc.status)
			}
			res, err := tc.web()
			if err != nil {
				t.Fatal(err)
			}
			b := body(t, res)
			if res.StatusCode != tc.status {
				t.Errorf("dashboard: %d, want %d: %s", res.StatusCode, tc.status, b)
			}
			// A title in words, and the navigation kept.
			if !strings.Contains(b, `<nav aria-label="Main">`) || !strings.Contains(b, `data-test="page-title">`+tc.title+`</h1>`) {
				t.Errorf("error page without its title %q or the navigation: %s", tc.title, b)
			}
		})
	}
}

// TestDashboardExpiredQuoteKeepsTheForm: paying a quote that expired
// meanwhile shows the fresh quote with a notice and the form as it was
// sent (but the number and code), never charging the old price.
func TestDashboardExpiredQuoteKeepsTheForm(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	clock := h.Do("POST", "/v1/test-clocks", admin, map[string]any{"frozen_time": "2026-03-22T00:00:00Z"})
	acct, _ := h.account(map[string]any{"email": "expired-web@example.com", "test_clock": clock.Str("id")})
	c, _ := dashboard(t, h, acct)
	res, err := c.Get(h.BaseURL + "/plan")
	if err != nil {
		t.Fatal(err)
	}
	csrf := csrfOf(body(t, res))
	res, err = c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"pro-1m"}, "_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, res)
	old := res.Request.URL.Path
	h.Expect(h.Do("POST", "/v1/test-clocks/"+clock.Str("id")+"/advance", admin, map[string]any{"frozen_time": "2026-03-22T00:31:00Z"}), 200, "")
	res, err = c.PostForm(h.BaseURL+old, url.Values{"_csrf": {csrf}, "number": {"4242424242424242"}, "exp_month": {"7"}, "exp_year": {"2031"},
		"cvc": {"123"}, "name": {"Grace Hopper"}, "terms": {"2026-11-01"}})
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, res)
	if res.StatusCode != 409 || !strings.Contains(b, "Your previous quote expired after 30 minutes") {
		t.Fatalf("paying an expired quote: %d %s", res.StatusCode, b)
	}
	for _, want := range []string{`value="Grace Hopper"`, `<option value="7" selected>`, `<option value="2031" selected>`, `name="terms" value="2026-11-01" required aria-describedby="terms-err" checked`} {
		if !strings.Contains(b, want) {
			t.Errorf("the fresh quote's form lost %s", want)
		}
	}
	if strings.Contains(b, "4242424242424242") || strings.Contains(b, `action="`+old+`"`) {
		t.Error("the form echoed the number or still posts to the expired quote")
	}
	if c, _, _ := h.charges(); c != 0 {
		t.Errorf("%d charges", c)
	}
}
