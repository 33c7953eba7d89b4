// Package web is the dashboard: the whole upgrade in a browser, served by
// tierup itself. Pages are rendered on the server from html/template with
// embedded assets, forms work without JavaScript, and with it the progress
// is live over Server-Sent Events. Every page calls the same use cases as
// the API (package app); no business rule lives here.
package web

import (
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const sessionCookie = "tierup_session"

// Server serves the dashboard.
type Server struct {
	app   *app.App
	log   *slog.Logger
	pages map[string]*template.Template
}

// New parses the templates.
func New(a *app.App, log *slog.Logger) (*Server, error) {
	s := &Server{app: a, log: log, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" || n == "templates/cardfields.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", "templates/cardfields.html", n)
		if err != nil {
			return nil, err
		}
		s.pages[n[len("templates/"):len(n)-len(".html")]] = t
	}
	return s, nil
}

// Register adds the dashboard's routes to mux, in front of the API.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /static/", s.headers(staticFiles()))
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, *view)) {
		mux.Handle(pattern, s.headers(s.signedIn(h)))
	}
	mux.Handle("GET /{$}", s.headers(http.HandlerFunc(s.home)))
	mux.Handle("GET /login", s.headers(http.HandlerFunc(s.login)))
	mux.Handle("GET /terms", s.headers(http.HandlerFunc(s.terms)))
	// Browsers ask for /favicon.ico wherever the page does not name one.
	mux.Handle("GET /favicon.ico", s.headers(http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently)))
	// The sandbox's 3-D Secure page stands for the customer's bank: the
	// secret in its address, not a session, says who may answer.
	mux.Handle("GET "+tierup.SandboxChallengePath+"{id}", s.headers(http.HandlerFunc(s.challenge)))
	mux.Handle("POST "+tierup.SandboxChallengePath+"{id}", s.headers(http.HandlerFunc(s.answerChallenge)))
	page("POST /logout", s.logout)
	page("GET /plan", s.plan)
	page("GET /compare", s.compare)
	page("POST /quote", s.quote)
	page("GET /review/{quote}", s.review)
	page("POST /review/{quote}", s.pay)
	page("GET /upgrades/{id}", s.progress)
	page("POST /upgrades/{id}/payment", s.retryPayment)
	page("GET /upgrades/{id}/events", s.events)
	page("GET /history", s.history)
	page("GET /receipts/{file}", s.receiptPDF)
}

// headers sets the security headers of every dashboard response: no
// inline script, no framing, no sniffing, no referrer (the login link
// carries a secret).
func (s *Server) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if httpx.Secure(r) {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxBody)
		}
		h.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded assets by their exact names. Anything
// else, a directory (no listings) or a name that is not UTF-8 included, is
// a plain 404.
func staticFiles() http.Handler {
	assets, _ := fs.Sub(staticFS, "static") // "static" is embedded: Sub cannot fail
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		info, err := fs.Stat(assets, name)
		if !utf8.ValidString(name) || !fs.ValidPath(name) || err != nil || info.IsDir() {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/"+name, ""
		files.ServeHTTP(w, r2)
	})
}

// parseForm reads a posted form, answering a page that says what is wrong
// when it cannot: 413 for a form over httpx.MaxBody, 400 for one that does
// not parse or is not UTF-8 (browsers send our forms in UTF-8; other bytes
// would be stored, or shown back on the page, as they are). It reports
// whether the handler may go on.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	err := r.ParseForm()
	if err == nil && utf8Form(r.Form) {
		return true
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		s.render(w, r, http.StatusRequestEntityTooLarge, "signin", &view{Title: "Form too large",
			Error: "This form sent far more than any of ours can hold, so nothing was saved. Go back, reload the page and try again."})
		return false
	}
	s.render(w, r, http.StatusBadRequest, "signin", &view{Title: "Problem", Error: "This form could not be read. Go back, reload the page and try again."})
	return false
}

// utf8Form reports whether every name and value of a form is UTF-8.
func utf8Form(f url.Values) bool {
	for k, vs := range f {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// view is what every page template gets.
type view struct {
	Title   string
	Account *app.AccountView
	CSRF    string
	Notice  string
	Error   string
	Data    any
	session *app.Session
}

type viewKey struct{}

// signedIn resolves the session and, for forms, checks the CSRF token.
func (s *Server) signedIn(h func(http.ResponseWriter, *http.Request, *view)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie(sessionCookie)
		var sid string
		if c != nil {
			sid = c.Value
		}
		sess, err := s.app.Session(r.Context(), sid)
		if err != nil && !errors.Is(err, tierup.ErrUnauthenticated) {
			s.fail(w, r, err) // the store failed: the session may be fine
			return
		}
		if err != nil {
			if r.Method == http.MethodGet && r.URL.Path != "/upgrades/"+r.PathValue("id")+"/events" {
				w.Header().Set("Cache-Control", "no-store")
				s.render(w, r, http.StatusUnauthorized, "signin", &view{Title: "Sign in", Error: "You are signed out. Open the sign-in link you were given (it works once)."})
				return
			}
			http.Error(w, "signed out", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if !s.parseForm(w, r) {
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("_csrf")), []byte(sess.CSRF)) != 1 {
				s.log.WarnContext(r.Context(), "form without a valid CSRF token", "account", sess.AccountID, "path", r.URL.Path)
				s.render(w, r, http.StatusForbidden, "signin", &view{Title: "Refused", Error: "This form is out of date or did not come from this site. Go back, reload the page and try again."})
				return
			}
		}
		acct, err := s.app.Account(r.Context(), sess.AccountID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, &view{Account: acct, CSRF: sess.CSRF, session: sess})
	})
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := s.pages[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout.html", v); err != nil {
		s.log.ErrorContext(r.Context(), "rendering", "page", page, "err", err)
	}
}

// fail shows an error page with the status the API answers for the same
// error: the domain's message for known errors, a generic one for the rest
// (logged), under a title in words and, for a signed-in visitor, the
// navigation.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := httpx.StatusOf(err), "Something went wrong on our side. It has been logged; please try again."
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "dashboard", "path", r.URL.Path, "err", err)
	} else {
		msg = err.Error()
	}
	v := &view{Title: problemTitle(status), Error: msg}
	if c, _ := r.Cookie(sessionCookie); c != nil && status != http.StatusInternalServerError {
		if sess, err := s.app.Session(r.Context(), c.Value); err == nil {
			if acct, err := s.app.Account(r.Context(), sess.AccountID); err == nil {
				v.Account, v.CSRF = acct, sess.CSRF
			}
		}
	}
	s.render(w, r, status, "signin", v)
}

// problemTitle is an error page's heading for its status.
func problemTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "We could not find that"
	case http.StatusConflict:
		return "That cannot be done right now"
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		return "Please check what you sent"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return "A service we rely on is not answering"
	}
	return "Something went wrong"
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if c, _ := r.Cookie(sessionCookie); c != nil {
		if _, err := s.app.Session(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, "/plan", http.StatusSeeOther)
			return
		}
	}
	s.render(w, r, http.StatusOK, "signin", &view{Title: "Sign in"})
}

// login spends a one-time link and sets the session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	sid, sess, err := s.app.UseLoginLink(r.Context(), r.URL.Query().Get("token"))
	if err != nil && !errors.Is(err, tierup.ErrUnauthenticated) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		s.render(w, r, http.StatusUnauthorized, "signin", &view{Title: "Sign in", Error: err.Error()})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: httpx.Secure(r), Expires: sess.Expires})
	http.Redirect(w, r, "/plan", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *view) {
	if c, _ := r.Cookie(sessionCookie); c != nil {
		if err := s.app.EndSession(r.Context(), c.Value); err != nil {
			s.log.WarnContext(r.Context(), "sign out", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) terms(w http.ResponseWriter, r *http.Request) {
	version, text := s.app.Terms()
	s.render(w, r, http.StatusOK, "terms", &view{Title: "Terms of service", Data: map[string]string{"Version": version, "Text": text}})
}

// principal is the signed-in account as the use cases see it.
func principal(v *view) app.Principal {
	return app.Principal{Account: &tierup.Account{ID: v.Account.ID}}
}
