package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/riverqueue"
	"github.com/tierup/tierup/stack"
	"github.com/tierup/tierup/workflow"
)

// crashAdmin is the admin token newAccount uses.
const crashAdmin = "tu_admin_crash"

// startServer runs a whole tierup on dsn in-process, as e2e's harness
// does, with one attempt per step so that a fault hands an upgrade to
// support at once.
func startServer(t *testing.T, dsn string) apitest.Client {
	t.Helper()
	ctx := context.Background()
	st, err := stack.Open(ctx, stack.Options{DB: dsn, App: app.Config{Sandbox: true, AdminToken: crashAdmin}, SecretKey: dbtest.SecretKey,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workflow: workflow.Config{MaxAttempts: 1, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
			PauseProbe: 50 * time.Millisecond, JobTimeout: 20 * time.Second},
		Queue: riverqueue.Config{PollInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.App.EnsureAdminToken(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.StartWorkflow(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := st.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Close(cctx)
	})
	return apitest.Client{T: t, BaseURL: srv.URL}
}

func statusIs(s string) func(apitest.Response) bool {
	return func(r apitest.Response) bool { return r.Str("status") == s }
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, code := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, stderr)
	}
	return out
}

func contains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// lineOf returns the table line that starts with id.
func lineOf(out, id string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, id+" ") {
			return l
		}
	}
	return ""
}

func TestUpgradesAndTicketsCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c := startServer(t, dsn)
		_, tokA := newAccount(c, "done@example.com")
		done := startUpgrade(c, tokA)
		poll(t, c, tokA, done, "completed", statusIs("completed"))
		// Two upgrades that fail to get their node go to support.
		c.Expect(c.Do("POST", "/v1/sandbox/faults", crashAdmin, map[string]any{"kind": "resource_shortage", "count": 2}), 201, "")
		acctB, tokB := newAccount(c, "stuck@example.com")
		stuck := startUpgrade(c, tokB)
		poll(t, c, tokB, stuck, "needs_support", statusIs("needs_support"))
		_, tokC := newAccount(c, "cancel@example.com")
		doomed := startUpgrade(c, tokC)
		poll(t, c, tokC, doomed, "needs_support", statusIs("needs_support"))

		t.Setenv("TIERUP_ADMIN_TOKEN", crashAdmin)
		server := []string{"--server", c.BaseURL}
		cli := func(args ...string) []string { return append(args, server...) }

		out := mustRun(t, cli("upgrades", "list")...)
		contains(t, "upgrades list", out, "ID", "ACCOUNT", "STATUS", "hobby → pro-1m")
		if l := lineOf(out, done); !strings.Contains(l, "completed") || !strings.Contains(l, "100%") {
			t.Errorf("the completed upgrade's line: %q\n%s", l, out)
		}
		if l := lineOf(out, stuck); !strings.Contains(l, "needs_support") || !strings.Contains(l, acctB) {
			t.Errorf("the stuck upgrade's line: %q\n%s", l, out)
		}

		out = mustRun(t, cli("upgrades", "list", "--status", "needs_support")...)
		if lineOf(out, done) != "" || lineOf(out, stuck) == "" || lineOf(out, doomed) == "" {
			t.Errorf("--status needs_support:\n%s", out)
		}
		out = mustRun(t, cli("upgrades", "list", "--account", acctB)...)
		if lineOf(out, stuck) == "" || lineOf(out, done) != "" {
			t.Errorf("--account:\n%s", out)
		}

		// One page, and the hint for the next; --all follows the cursors.
		out, stderr, code := runCmd(t, cli("upgrades", "list", "--limit", "1")...)
		if code != 0 || strings.Count(out, "upg_") != 1 || !strings.Contains(stderr, "--cursor ") {
			t.Errorf("--limit 1: exit %d\n%s%s", code, out, stderr)
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			NextCursor string `json:"next_cursor"`
		}
		raw := mustRun(t, cli("upgrades", "list", "--limit", "1", "--all", "--json")...)
		if err := json.Unmarshal([]byte(raw), &page); err != nil || len(page.Data) != 3 || page.NextCursor != "" {
			t.Errorf("--all --json: %v %+v\n%s", err, page, raw)
		}

		out = mustRun(t, cli("upgrades", "show", stuck)...)
		contains(t, "upgrades show", out, "upgrade", stuck, "needs_support", "STEP", "provision_node", "failed", "support ticket")
		raw = mustRun(t, cli("upgrades", "show", done, "--json")...)
		var one map[string]any
		if err := json.Unmarshal([]byte(raw), &one); err != nil || one["id"] != done || one["status"] != "completed" {
			t.Errorf("show --json: %v\n%s", err, raw)
		}

		out = mustRun(t, cli("tickets")...)
		contains(t, "tickets", out, "UPGRADE", stuck, doomed, "open")
		raw = mustRun(t, cli("tickets", "--status", "resolved", "--json")...)
		if err := json.Unmarshal([]byte(raw), &page); err != nil || len(page.Data) != 0 {
			t.Errorf("tickets --status resolved --json: %v\n%s", err, raw)
		}

		out = mustRun(t, cli("upgrades", "retry", stuck)...)
		contains(t, "upgrades retry", out, stuck, "processing")
		poll(t, c, tokB, stuck, "completed after the retry", statusIs("completed"))
		out = mustRun(t, cli("upgrades", "cancel", doomed)...)
		contains(t, "upgrades cancel", out, doomed)
		poll(t, c, tokC, doomed, "canceled", statusIs("canceled"))

		// The server's refusals: detail and code, and a non-zero exit.
		out, stderr, code = runCmd(t, cli("upgrades", "cancel", done)...)
		if code == 0 || out != "" || !strings.Contains(stderr, "server answered 409") || !strings.Contains(stderr, "(code ") {
			t.Errorf("cancel of a completed upgrade: exit %d\n%s%s", code, out, stderr)
		}
		out, stderr, code = runCmd(t, cli("upgrades", "show", "upg_nope")...)
		if code == 0 || !strings.Contains(stderr, "404") || !strings.Contains(stderr, "code not_found") {
			t.Errorf("show of an unknown upgrade: exit %d\n%s%s", code, out, stderr)
		}
		for _, args := range [][]string{cli("upgrades", "list", "--admin-token", "tu_admin_wrong"), cli("tickets", "--admin-token", "tu_admin_wrong")} {
			out, stderr, code = runCmd(t, args...)
			if code == 0 || out != "" || !strings.Contains(stderr, "server answered 401") || !strings.Contains(stderr, "(code ") {
				t.Errorf("%v with a bad token: exit %d\n%s%s", args, code, out, stderr)
			}
		}
	})
}

func TestUpgradesCommandNeedsServerAndToken(t *testing.T) {
	t.Setenv("TIERUP_ADMIN_TOKEN", "")
	if _, stderr, code := runCmd(t, "upgrades", "list", "--server", "http://127.0.0.1:1"); code == 0 || !strings.Contains(stderr, "TIERUP_ADMIN_TOKEN") {
		t.Errorf("no token: exit %d %s", code, stderr)
	}
	if _, stderr, code := runCmd(t, "tickets", "--server", "127.0.0.1:8080", "--admin-token", "x"); code == 0 || !strings.Contains(stderr, "--server") {
		t.Errorf("a server without scheme: exit %d %s", code, stderr)
	}
	t.Setenv("TIERUP_SERVER", "ftp://tierup.internal") // the environment twin of --server
	if _, stderr, code := runCmd(t, "upgrades", "list", "--admin-token", "x"); code == 0 || !strings.Contains(stderr, "ftp://tierup.internal") {
		t.Errorf("TIERUP_SERVER was not used: exit %d %s", code, stderr)
	}
	t.Setenv("TIERUP_SERVER", "")
	// An unreachable server is an error naming the request, not a hang.
	if _, stderr, code := runCmd(t, "upgrades", "show", "upg_x", "--server", "http://127.0.0.1:1", "--admin-token", "x"); code == 0 || !strings.Contains(stderr, "GET /v1/upgrades/upg_x") {
		t.Errorf("unreachable: exit %d %s", code, stderr)
	}
}
