package web_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/fuzzenv"
	"github.com/tierup/tierup/web"
)

// dashboard is the fuzz environment's Declined account signed in to the
// whole server (dashboard and API).
type dashboard struct {
	*fuzzenv.Env
	h         http.Handler
	sid, csrf string
	// TemplateText is every template's source, joined: the only origin of
	// raw markup characters in a page.
	TemplateText string
}

func newDashboard(tb testing.TB) *dashboard {
	tb.Helper()
	e := fuzzenv.New(tb)
	h, err := e.Stack.Handler()
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	token, _, err := e.Stack.App.NewLoginLink(ctx, e.Declined.ID)
	if err != nil {
		tb.Fatal(err)
	}
	sid, sess, err := e.Stack.App.UseLoginLink(ctx, token)
	if err != nil {
		tb.Fatal(err)
	}
	var text strings.Builder
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		tb.Fatalf("templates: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		text.Write(b)
	}
	return &dashboard{Env: e, h: h, sid: sid, csrf: sess.CSRF, TemplateText: text.String()}
}

// post sends a form body, the session's CSRF token first, as a browser
// would.
func (d *dashboard) post(path string, body string, signedIn bool) *httptest.ResponseRecorder {
	if signedIn {
		body = "_csrf=" + url.QueryEscape(d.csrf) + "&" + body
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signedIn {
		r.AddCookie(&http.Cookie{Name: "tierup_session", Value: d.sid})
	}
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, r)
	return w
}

// The dashboard's forms, by the fuzz input's form number.
var dashboardForms = []struct {
	path   func(*dashboard) string
	card   bool // the form takes a card
	terms  bool // and the terms must be accepted first
	signed bool
}{
	{func(d *dashboard) string { return "/review/" + d.Declined.Quote }, true, true, true},
	{func(d *dashboard) string { return "/upgrades/" + d.Declined.Upgrade + "/payment" }, true, false, true}, // declined first
	{func(*dashboard) string { return "/quote" }, false, false, true},
	{func(*dashboard) string { return tierup.SandboxChallengePath + "ch_none" }, false, false, false},
}

// FuzzDashboardForms posts any body to each of the dashboard's forms, as the
// signed-in owner with a valid CSRF token, and checks the page: never a
// 5xx; a form that does not parse or is not UTF-8 is a 400; a redirect stays on the site;
// a page is UTF-8 HTML that shows back neither the card number nor, unescaped,
// any text typed into the name, and shows every error found in the card
// posted (or that the terms were not accepted).
//
// Form numbers: 0 review (pay), 1 retry a payment, 2 quote, 3 the sandbox's
// 3-D Secure challenge. Seeds: below and testdata/fuzz/FuzzDashboardForms.
func FuzzDashboardForms(f *testing.F) {
	d := newDashboard(f)
	good := "number=4242+4242+4242+4242&exp_month=3&exp_year=2030&cvc=123&name=Ada+Lovelace&saved=new&terms=" + url.QueryEscape(d.Terms)
	f.Add(uint8(0), good)
	f.Add(uint8(0), "number=4242424242424241&exp_month=13&exp_year=20&cvc=98765&name=%3Cscript%3E&saved=new&terms="+url.QueryEscape(d.Terms))
	f.Add(uint8(1), good)
	f.Add(uint8(1), "saved=pm_nope&number=1")
	f.Add(uint8(2), "plan=team-12m")
	f.Add(uint8(2), "plan=%ff")
	f.Add(uint8(3), "outcome=complete&secret=x")
	f.Add(uint8(0), "a=%zz")
	f.Fuzz(func(t *testing.T, form uint8, body string) {
		i := int(form) % len(dashboardForms)
		fm := dashboardForms[i]
		if i == 1 {
			d.Decline(t)
		}
		w := d.post(fm.path(d), body, fm.signed)
		page := w.Body.String()
		if w.Code >= 500 {
			t.Fatalf("%d: %s", w.Code, page)
		}
		values, err := url.ParseQuery(body)
		if err != nil || !utf8.ValidString(fmt.Sprint(values)) {
			if w.Code != http.StatusBadRequest {
				t.Fatalf("the form does not parse or is not UTF-8 (%v) but the answer is %d", err, w.Code)
			}
			return
		}
		if w.Code >= 300 && w.Code < 400 {
			loc := w.Header().Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
				t.Fatalf("redirect off the site: %q", loc)
			}
			return
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !utf8.ValidString(page) {
			t.Fatalf("%d %q, UTF-8 %v: %.300s", w.Code, ct, utf8.ValidString(page), page)
		}
		card := web.CardFrom(values)
		if n := tierup.NormalizeCardNumber(card.Number); len(n) >= 10 && strings.Trim(n, "0123456789") == "" &&
			(strings.Contains(page, n) || strings.Contains(page, card.Number)) {
			t.Fatalf("the page shows the card number %q", card.Number)
		}
		// Raw markup characters reach a page only from the templates' own
		// text (html/template escapes every value), so a name that the
		// templates could have written ("<", `">`) proves nothing.
		if strings.ContainsAny(card.Name, `<>"'&`) && strings.Contains(page, card.Name) && !strings.Contains(d.TemplateText, card.Name) {
			t.Fatalf("the page shows the name %q unescaped", card.Name)
		}
		if !fm.card {
			return
		}
		switch saved := values.Get("saved"); {
		case fm.terms && values.Get("terms") != d.Terms:
			if !strings.Contains(page, "Accept the terms of service") {
				t.Fatalf("terms not accepted, not said: %.300s", page)
			}
		case saved == "" || saved == "new":
			_, err := tierup.ValidateCard(card, d.Now, time.UTC) // the account's zone
			var e *tierup.Error
			if !errors.As(err, &e) {
				return
			}
			text := html.UnescapeString(page)
			for _, fe := range e.Fields {
				if !strings.Contains(text, fe.Message) {
					t.Fatalf("the error at %s, %q, is not shown", fe.Location, fe.Message)
				}
			}
		}
	})
}
