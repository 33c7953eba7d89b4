// Package e2e drives whole upgrades through the HTTP API against real
// SQLite and PostgreSQL, the River workflow, the sandbox gateway, the
// simulated cluster and an in-process SMTP server.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/smtptest"
	"github.com/tierup/tierup/notify/smtpmail"
	"github.com/tierup/tierup/riverqueue"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
	"github.com/tierup/tierup/workflow"
)

const admin = "tu_admin_e2e"

// syncBuffer collects the server's log, which the tests search for leaks.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	apitest.Client
	st   *stack.Stack
	smtp *smtptest.Server
	log  *syncBuffer
}

// start runs a whole tierup on dsn with fast retries.
func start(t *testing.T, dsn string, tune ...func(*stack.Options)) *harness {
	t.Helper()
	st, mail, logs := openStack(t, dsn, tune...)
	handler, err := st.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.CloseClientConnections() // live event streams never end by themselves
		srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Close(cctx)
	})
	return &harness{Client: apitest.Client{T: t, BaseURL: srv.URL}, st: st, smtp: mail, log: logs}
}

// openStack opens a whole tierup on dsn with fast retries and starts its
// workflow; the caller serves it and closes it.
func openStack(t *testing.T, dsn string, tune ...func(*stack.Options)) (*stack.Stack, *smtptest.Server, *syncBuffer) {
	t.Helper()
	ctx := context.Background()
	mail := smtptest.Start(t)
	logs := &syncBuffer{}
	o := stack.Options{DB: dsn, App: app.Config{Sandbox: true, AdminToken: admin}, SecretKey: dbtest.SecretKey,
		Log:    slog.New(slog.NewJSONHandler(logs, nil)),
		Mailer: smtpmail.New(smtpmail.Config{Addr: mail.Addr(), From: "tierup <noreply@tierup.test>"}),
		Sim:    sim.Config{},
		Workflow: workflow.Config{MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond,
			PauseProbe: 50 * time.Millisecond, JobTimeout: 20 * time.Second, SupportEmail: "support@tierup.test"},
		Queue: riverqueue.Config{PollInterval: 50 * time.Millisecond},
	}
	for _, f := range tune {
		f(&o)
	}
	st, err := stack.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.App.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.StartWorkflow(ctx); err != nil {
		t.Fatal(err)
	}
	return st, mail, logs
}

// account opens an account and returns its ID and token.
func (h *harness) account(body map[string]any) (string, string) {
	h.T.Helper()
	r := h.Do("POST", "/v1/accounts", admin, body)
	h.Expect(r, 201, "")
	return r.Str("id"), r.Str("token")
}

// card adds a test card and returns its pm_ ID.
func (h *harness) card(token, number string) string {
	h.T.Helper()
	r := h.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{
		"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvcFor(number), "name": "Ada Lovelace"}})
	h.Expect(r, 201, "")
	return r.Str("id")
}

func cvcFor(number string) string {
	if len(number) == 15 {
		return "1234"
	}
	return "123"
}

func (h *harness) quote(token, plan string) string {
	h.T.Helper()
	r := h.Do("POST", "/v1/quotes", token, map[string]any{"plan": plan})
	h.Expect(r, 201, "")
	return r.Str("id")
}

// upgrade starts an upgrade to plan with the card and returns its ID.
func (h *harness) upgrade(token, plan, pm string) string {
	h.T.Helper()
	r := h.Do("POST", "/v1/upgrades", token, map[string]any{"quote": h.quote(token, plan), "payment_method": pm, "accept_terms": "2026-11-01"})
	h.Expect(r, 202, "")
	return r.Str("id")
}

// waitFor polls the upgrade until cond holds; the deadline only bounds a
// hung test, it asserts nothing about speed.
func (h *harness) waitFor(token, id, what string, cond func(apitest.Response) bool) apitest.Response {
	h.T.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var r apitest.Response
	for time.Now().Before(deadline) {
		r = h.Do("GET", "/v1/upgrades/"+id, token, nil)
		if cond(r) {
			return r
		}
		time.Sleep(25 * time.Millisecond)
	}
	h.T.Fatalf("upgrade %s never became %s: %s", id, what, r.Raw)
	return r
}

func (h *harness) waitStatus(token, id, status string) apitest.Response {
	h.T.Helper()
	return h.waitFor(token, id, status, func(r apitest.Response) bool { return r.Str("status") == status })
}

// waitRetrying waits until the step failed and waits for its next attempt.
func (h *harness) waitRetrying(token, id, name string) apitest.Response {
	h.T.Helper()
	return h.waitFor(token, id, name+" retrying", func(r apitest.Response) bool {
		s := step(r, name)
		return s["status"] == "retrying" && s["next_retry_at"] != nil
	})
}

// charges counts the sandbox ledger's successful charges and refunds.
func (h *harness) charges() (charges, declines, refunds int) {
	h.T.Helper()
	for _, e := range sandboxLedger(h.Client) {
		switch {
		case e.kind == "refund":
			refunds++
		case e.succeeded():
			charges++
		default:
			declines++
		}
	}
	return
}

// ledgerEntry is a line of the sandbox gateway's ledger.
type ledgerEntry struct {
	kind, code, status string
	upgrade            string // the upgrade charged, from the metadata
	amount             int64
	raw                any
}

// succeeded reports whether the entry is a charge that went through: not
// declined, not awaiting 3-D Secure nor abandoned.
func (e ledgerEntry) succeeded() bool { return e.kind == "charge" && e.code == "" && e.status == "" }

// sandboxLedger reads the sandbox gateway's ledger.
func sandboxLedger(c apitest.Client) []ledgerEntry {
	c.T.Helper()
	r := c.Do("GET", "/v1/sandbox/ledger", admin, nil)
	c.Expect(r, 200, "")
	var out []ledgerEntry
	for _, e := range r.List("data") {
		str := func(path string) string { s, _ := apitest.Dig(e, path).(string); return s }
		amount, _ := apitest.Dig(e, "amount").(float64)
		out = append(out, ledgerEntry{kind: str("kind"), code: str("code"), status: str("status"), upgrade: str("metadata.upgrade"),
			amount: int64(amount), raw: e})
	}
	return out
}

// step returns a step of the upgrade response.
func step(r apitest.Response, name string) map[string]any {
	for _, s := range r.List("steps") {
		if m, _ := s.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

// actions lists the audit log's actions in order.
func (h *harness) actions(token, id string) []string {
	h.T.Helper()
	r := h.Do("GET", "/v1/upgrades/"+id+"/audit", token, nil)
	h.Expect(r, 200, "")
	var out []string
	for _, e := range r.List("data") {
		out = append(out, fmt.Sprint(apitest.Dig(e, "action")))
	}
	return out
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}
