// Package httpapi serves tierup's REST API v1: JSON over HTTP, described by
// an OpenAPI 3.1 document at /openapi.json, with every error an RFC 9457
// problem carrying a machine-readable code.
//
// Authentication is "Authorization: Bearer <token>": the admin token for
// admin routes, an account token for account routes. A missing or unknown
// token is 401, the wrong kind of token 403, and another account's object
// 404 — never 403, so IDs cannot be probed.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/httpx"
)

// Who may call an operation; stored in the operation's metadata.
const (
	authKey     = "tierup-auth"
	authNone    = ""
	authAny     = "any"
	authAdmin   = "admin"
	authAccount = "account"
)

const maxBody = httpx.MaxBody

type principalKey struct{}

// Server is the HTTP API.
type Server struct {
	app *app.App
	log *slog.Logger
	api huma.API
	mux *http.ServeMux
	// root is mux behind the routes huma cannot express (receipt PDFs).
	root http.Handler
}

// New builds the API on a fresh mux.
func New(a *app.App, log *slog.Logger) *Server {
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("tierup API", "1.0.0")
	cfg.Info.Description = "Paid-plan upgrades for a Kubernetes PaaS: plans, accounts, quotes and (sandbox) test clocks."
	cfg.CreateHooks = nil // no $schema links in bodies: clients get plain JSON
	cfg.Transformers = append(cfg.Transformers, problemTransformer)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The admin token or an account's API token."},
	}
	s := &Server{app: a, log: log, mux: mux, api: humago.New(mux, cfg)}
	s.api.UseMiddleware(s.authenticate)
	s.routes()
	s.upgradeRoutes()
	s.receiptRoutes()
	s.cardRoutes()
	// Give the generated error schema the code member our transformer adds.
	if em := s.api.OpenAPI().Components.Schemas.Map()["ErrorModel"]; em != nil {
		em.Properties["code"] = &huma.Schema{Type: huma.TypeString, Description: "Stable machine-readable error code."}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { // the dashboard owns its own paths in front of this

		writeProblem(w, newProblem(http.StatusNotFound, tierup.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	root := http.NewServeMux()
	root.Handle("GET /v1/receipts/{file}", s.receiptFile(mux))
	root.Handle("/", checkBodies(mux))
	s.root = root
	return s
}

// Handler returns the API with request logging.
func (s *Server) Handler() http.Handler { return s.Logged(s.root) }

// Mux returns the API's routes without logging, to mount behind others.
func (s *Server) Mux() http.Handler { return s.root }

// Logged wraps h with one log line per request (the path only: a query may
// carry a secret, such as a login link's token).
func (s *Server) Logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tierup"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// authenticate enforces each operation's auth metadata.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	need, _ := ctx.Operation().Metadata[authKey].(string)
	if need == authNone {
		next(ctx)
		return
	}
	fail := func(p *Problem) {
		if p.Status == http.StatusUnauthorized {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="tierup"`)
		}
		ctx.SetHeader("Content-Type", "application/problem+json")
		ctx.SetStatus(p.Status)
		_ = json.NewEncoder(ctx.BodyWriter()).Encode(p)
	}
	token, ok := bearer(ctx.Header("Authorization"))
	if !ok {
		fail(newProblem(http.StatusUnauthorized, tierup.CodeUnauthenticated, `send an API token as "Authorization: Bearer <token>"`))
		return
	}
	p, err := s.app.Authenticate(ctx.Context(), token)
	if err != nil {
		p := problemOf(err)
		if p.Status == http.StatusInternalServerError {
			s.log.ErrorContext(ctx.Context(), "authentication failed", "err", err)
		}
		fail(p)
		return
	}
	switch {
	case need == authAdmin && !p.Admin:
		fail(newProblem(http.StatusForbidden, tierup.CodeForbidden, "this endpoint needs the admin token"))
		return
	case need == authAccount && p.Account == nil:
		fail(newProblem(http.StatusForbidden, tierup.CodeForbidden, "this endpoint needs an account's API token, not the admin token"))
		return
	}
	ctx = huma.WithValue(ctx, principalKey{}, p)
	next(huma.WithValue(ctx, clientInfoKey{}, clientInfo{ip: httpx.ClientIP(ctx.RemoteAddr()), userAgent: ctx.Header("User-Agent")}))
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func principal(ctx context.Context) app.Principal {
	p, _ := ctx.Value(principalKey{}).(app.Principal)
	return p
}

// fail logs internal errors and returns the problem for any error.
func (s *Server) fail(ctx context.Context, err error) error {
	p := problemOf(err)
	switch {
	case p.Status == http.StatusInternalServerError:
		s.log.ErrorContext(ctx, "request failed", "err", err)
	case errors.Is(err, tierup.ErrDatabaseUnavailable):
		// The caller is told to come back; the operator needs the driver's
		// words (disk full, connection refused) to fix it.
		s.log.ErrorContext(ctx, "request failed: the database is unavailable", "err", err)
	}
	return p
}

// register adds an operation with tierup's defaults: bounded body, auth
// metadata and the bearer security requirement in the OpenAPI document.
func register[I, O any](s *Server, op huma.Operation, auth string, h func(context.Context, *I) (*O, error)) {
	op.MaxBodyBytes = maxBody
	op.Metadata = map[string]any{authKey: auth}
	if auth != authNone {
		op.Security = []map[string][]string{{"bearer": {}}}
	}
	huma.Register(s.api, op, h)
}

// AdminOnly serves h to the admin token alone, as the API's admin routes
// are: for handlers outside huma, such as /metrics (Prometheus sends the
// token with its bearer authorization).
func (s *Server) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			writeProblem(w, newProblem(http.StatusUnauthorized, tierup.CodeUnauthenticated, `send the admin token as "Authorization: Bearer <token>"`))
			return
		}
		p, err := s.app.Authenticate(r.Context(), token)
		if err != nil {
			p := problemOf(err)
			if p.Status == http.StatusInternalServerError {
				s.log.ErrorContext(r.Context(), "authentication failed", "err", err)
			}
			writeProblem(w, p)
			return
		}
		if !p.Admin {
			writeProblem(w, newProblem(http.StatusForbidden, tierup.CodeForbidden, "this endpoint needs the admin token"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
