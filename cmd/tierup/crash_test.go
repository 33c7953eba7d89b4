package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
)

// buildBinary compiles this command once for the crash tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	return proctest.Build(t)
}

// launch starts the real binary on dsn (with extra flags) and waits for its "listening" line.
func launch(t *testing.T, bin, dsn string, extra ...string) *proctest.Process {
	t.Helper()
	args := append([]string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--admin-token", "tu_admin_crash", "--demo=false",
		// Each move committed alone: a kill between two moves is one of the points.
		"--sim-provision-delay", "1500ms", "--sim-migrate-delay", "300ms", "--progress-every", "1ns", "--sandbox-charge-latency", "1500ms",
		"--job-timeout", "10s", "--retry-base-delay", "50ms", "--pause-probe", "100ms", "--log-format", "json"}, extra...)
	// The processes of one test share the master secret.
	return proctest.Start(t, proctest.Command{Bin: bin, Args: args, Env: []string{"TIERUP_SECRET_KEY=" + dbtest.SecretKey}})
}

// TestCrashResumes kills tierup with SIGKILL in the middle of an upgrade —
// while the charge is in flight, while the node boots, while workloads
// move — restarts it and checks the upgrade completes with exactly one
// charge and one node.
func TestCrashResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary several times")
	}
	bin := proctest.Build(t)
	points := []struct {
		name string
		at   func(r apitest.Response) bool
	}{
		{"during payment", paying},
		{"during provisioning", func(r apitest.Response) bool {
			return r.Str("current_step") == "provision_node" && stepStatus(r, "provision_node") == "running"
		}},
		{"during migration", func(r apitest.Response) bool {
			return r.Str("current_step") == "migrate_workloads" && strings.Contains(r.Raw, `"state":"migrated"`)
		}},
	}
	dbtest.Each(t, func(t *testing.T, dsn string) {
		for _, pt := range points {
			t.Run(pt.name, func(t *testing.T) {
				db := dsn
				if strings.HasPrefix(dsn, "sqlite:") {
					db = dbtest.SQLite(t)
				} else {
					db = dbtest.Postgres(t)
				}
				p := launch(t, bin, db)
				c := apitest.Client{T: t, BaseURL: p.Base}
				acctID, token := newAccount(c, "crash@example.com")
				id := startUpgrade(c, token)

				poll(t, c, token, id, pt.name, pt.at)
				p.Kill()

				p2 := launch(t, bin, db)
				c.BaseURL = p2.Base
				u := poll(t, c, token, id, "completed", func(r apitest.Response) bool { return r.Str("status") == "completed" })

				ledger := c.Do("GET", "/v1/sandbox/ledger", "tu_admin_crash", nil)
				if n := len(ledger.List("data")); n != 1 {
					t.Errorf("%d ledger entries after a crash %s, want exactly one charge: %s", n, pt.name, ledger.Raw)
				}
				cluster := c.Do("GET", "/v1/sandbox/cluster?account="+acctID, "tu_admin_crash", nil)
				if n := len(cluster.List("nodes")); n != 1 {
					t.Errorf("%d nodes, want one: %s", n, cluster.Raw)
				}
				for _, w := range u.List("workloads") {
					if apitest.Dig(w, "state") != "migrated" {
						t.Errorf("workload %v", w)
					}
				}
				checkReceiptNumbers(t, c, []string{token}, 1)
				p2.Kill()
			})
		}
	})
}

// newAccount opens a Hobby account through the API and returns its ID and token.
func newAccount(c apitest.Client, email string) (id, token string) {
	c.T.Helper()
	acct := c.Do("POST", "/v1/accounts", "tu_admin_crash", map[string]any{"email": email})
	c.Expect(acct, 201, "")
	return acct.Str("id"), acct.Str("token")
}

// startUpgrade upgrades the account to Pro with a good card and returns the
// upgrade's ID.
func startUpgrade(c apitest.Client, token string) string {
	c.T.Helper()
	pm := c.Do("POST", "/v1/payment-methods", token, map[string]any{"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
	c.Expect(pm, 201, "")
	q := c.Do("POST", "/v1/quotes", token, map[string]any{"plan": "pro-1m"})
	up := c.Do("POST", "/v1/upgrades", token, map[string]any{"quote": q.Str("id"), "payment_method": pm.Str("id"), "accept_terms": "2026-11-01"})
	c.Expect(up, 202, "")
	return up.Str("id")
}

func stepStatus(r apitest.Response, name string) string {
	for _, s := range r.List("steps") {
		if apitest.Dig(s, "name") == name {
			st, _ := apitest.Dig(s, "status").(string)
			return st
		}
	}
	return ""
}

func poll(t *testing.T, c apitest.Client, token, id, what string, cond func(apitest.Response) bool) apitest.Response {
	t.Helper()
	var r apitest.Response
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r = c.Do("GET", "/v1/upgrades/"+id, token, nil)
		if cond(r) {
			return r
		}
	}
	t.Fatalf("upgrade %s never reached %q: %s", id, what, r.Raw)
	return r
}

// TestProcessesShareWork runs two tierup processes on one PostgreSQL: they
// share the work of several upgrades and no step is done twice. A step due
// at once runs in the worker of the step before it, so the processes share
// upgrades rather than steps: with one worker each, an upgrade started
// while one process is busy (its charge and its node take seconds) is the
// other's.
func TestProcessesShareWork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary twice")
	}
	bin := proctest.Build(t)
	db := dbtest.Postgres(t)
	procs := []*proctest.Process{launch(t, bin, db, "--workers", "1"), launch(t, bin, db, "--workers", "1")}
	type run struct{ token, id string }
	var runs []run
	for i := range 4 {
		c := apitest.Client{T: t, BaseURL: procs[i%2].Base}
		_, token := newAccount(c, "share"+string(rune('a'+i))+"@example.com")
		runs = append(runs, run{token, startUpgrade(c, token)})
	}
	workers := map[string]bool{}
	c := apitest.Client{T: t, BaseURL: procs[0].Base}
	for _, r := range runs {
		u := poll(t, c, r.token, r.id, "completed", func(r apitest.Response) bool { return r.Str("status") == "completed" })
		for _, s := range u.List("steps") {
			if a := apitest.Dig(s, "attempts"); a != 1.0 {
				t.Errorf("step %v ran %v times", apitest.Dig(s, "name"), a)
			}
			w, _ := apitest.Dig(s, "worker").(string)
			workers[w] = true
		}
	}
	if len(workers) != 2 {
		t.Errorf("steps ran in %d processes, want both: %v", len(workers), workers)
	}
	if n := len(c.Do("GET", "/v1/sandbox/ledger", "tu_admin_crash", nil).List("data")); n != 4 {
		t.Errorf("%d charges for 4 upgrades", n)
	}
}
