package e2e

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestStaticPathsAsAnAttackerSendsThem: the dashboard's assets are served by
// name, and nothing else under /static/ is: no listing, no 500 for bytes
// that are not UTF-8, no way out of the folder.
func TestStaticPathsAsAnAttackerSendsThem(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/static/app.css", 200, "{"},
		{"/static/app.js", 200, ""},
		{"/static/%ff", 404, "404 page not found"},
		{"/static/%c0%ae%c0%ae/go.mod", 404, "404 page not found"},
		{"/static/..%2fgo.mod", 404, "404 page not found"},
		{"/static/", 404, "404 page not found"},
		{"/static/nope.css", 404, "404 page not found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(h.BaseURL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b := body(t, res)
			if res.StatusCode != tc.status || !strings.Contains(b, tc.body) {
				t.Errorf("%d %q, want %d with %q", res.StatusCode, b, tc.status, tc.body)
			}
			if strings.Contains(b, "<a href") {
				t.Errorf("a directory listing: %s", b)
			}
		})
	}
}

// TestDashboardFormsAreBounded: a form of 8 MiB is refused whole, with a
// page that says so, before any of it is used.
func TestDashboardFormsAreBounded(t *testing.T) {
	h := start(t, dbtest.SQLite(t))
	acct, token := hobby(h, "bigform@example.com")
	c, _ := dashboard(t, h, acct)
	res, err := c.Get(h.BaseURL + "/plan")
	if err != nil {
		t.Fatal(err)
	}
	csrf := csrfOf(body(t, res))
	big := url.Values{"plan": {"pro-1m"}, "_csrf": {csrf}, "pad": {strings.Repeat("x", 8<<20)}}
	for _, path := range []string{"/quote", "/sandbox/authenticate/pay_nope"} {
		res, err := c.PostForm(h.BaseURL+path, big)
		if err != nil {
			t.Fatal(err)
		}
		if b := body(t, res); res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b, "far more than") {
			t.Errorf("POST %s with 8 MiB: %d", path, res.StatusCode)
		}
	}
	// The refused form made no quote: the same form, small, makes the first.
	res, err = c.PostForm(h.BaseURL+"/quote", url.Values{"plan": {"pro-1m"}, "_csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	if b := body(t, res); !strings.HasPrefix(res.Request.URL.Path, "/review/") {
		t.Errorf("a small form after: %s %.200s", res.Request.URL.Path, b)
	}
	if r := h.Do("GET", "/v1/upgrades", token, nil); len(r.List("data")) != 0 {
		t.Errorf("upgrades from refused forms: %s", r.Raw)
	}
}

// TestTrustProxy: behind a TLS-terminating proxy (--trust-proxy), the
// session cookie is Secure and the terms acceptance records the client's
// address from the proxy's headers; without the setting both headers are
// ignored, as any client could send them.
func TestTrustProxy(t *testing.T) {
	for _, trust := range []bool{false, true} {
		t.Run(map[bool]string{false: "not trusted", true: "trusted"}[trust], func(t *testing.T) {
			h := start(t, dbtest.SQLite(t), func(o *stack.Options) { o.TrustProxy = trust })
			acct, token := hobby(h, "proxied@example.com")
			proxied := func(method, path, cookie string, form url.Values) *http.Response {
				t.Helper()
				var rd io.Reader
				if form != nil {
					rd = strings.NewReader(form.Encode())
				}
				req, _ := http.NewRequest(method, h.BaseURL+path, rd)
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				req.Header.Set("X-Forwarded-For", "203.0.113.50, 198.51.100.7") // the client claims the first
				req.Header.Set("X-Forwarded-Proto", "https")
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				res, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}

			link := h.Do("POST", "/v1/accounts/"+acct+"/login-links", admin, nil)
			res := proxied("GET", link.Str("path"), "", nil)
			res.Body.Close()
			var session *http.Cookie
			for _, ck := range res.Cookies() {
				if ck.Name == "tierup_session" {
					session = ck
				}
			}
			if session == nil {
				t.Fatalf("no session cookie: %d %v", res.StatusCode, res.Header)
			}
			if session.Secure != trust {
				t.Errorf("session cookie Secure = %v, want %v", session.Secure, trust)
			}
			if hsts := res.Header.Get("Strict-Transport-Security") != ""; hsts != trust {
				t.Errorf("HSTS sent: %v, want %v", hsts, trust)
			}
			cookie := session.Name + "=" + session.Value

			res = proxied("GET", "/plan", cookie, nil)
			csrf := csrfOf(body(t, res))
			res = proxied("POST", "/quote", cookie, url.Values{"plan": {"pro-1m"}, "_csrf": {csrf}})
			res.Body.Close()
			review := res.Header.Get("Location")
			if !strings.HasPrefix(review, "/review/") {
				t.Fatalf("quote: %d to %q", res.StatusCode, review)
			}
			terms := h.Do("GET", "/v1/terms", token, nil).Str("version")
			res = proxied("POST", review, cookie, url.Values{"_csrf": {csrf}, "number": {"4242424242424242"},
				"exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {"123"}, "name": {"Ada"}, "terms": {terms}})
			res.Body.Close()
			ups := h.Do("GET", "/v1/upgrades", token, nil).List("data")
			if len(ups) != 1 {
				t.Fatalf("paying through the proxy: %d, %d upgrades", res.StatusCode, len(ups))
			}
			want := map[bool]string{false: "127.0.0.1", true: "198.51.100.7"}[trust]
			if ip, _ := ups[0].(map[string]any)["terms"].(map[string]any)["ip"].(string); ip != want {
				t.Errorf("terms accepted from %q, want %q", ip, want)
			}
		})
	}
}
