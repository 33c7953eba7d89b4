package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
)

// The rolling restart's pacing. Steps are slow enough to be in flight when
// SIGTERM lands: a charge outlasts the time the shutdown leaves running
// steps (the timeout's first four fifths), so some are handed back.
const (
	rollDelay   = 500 * time.Millisecond // --shutdown-delay
	rollTimeout = 2 * time.Second        // --shutdown-timeout
	// rollGrace is the terminationGracePeriodSeconds the test plays the
	// kubelet with, above delay + timeout as the README advises: a process
	// still running this long after its SIGTERM would be killed. It is a
	// bound the shutdown promises, not a speed.
	rollGrace = 4 * time.Second
)

// TestRollingRestart runs two `tierup serve` processes on one PostgreSQL
// schema and restarts them one after the other with SIGTERM, as a rolling
// update does, while 100 accounts start an upgrade each through the API
// (clients retry on connection errors with the same Idempotency-Key,
// against whichever process is up). Every upgrade completes with one
// charge, no refund and its node; every step ran one attempt; no job of
// the queue failed, was retried or rescued; no step was resumed as a dead
// process's orphan — the job timeout is 10 minutes and the test ends long
// before, so none waited for a lease to expire — and every process exited
// with status 0 within the grace period of its SIGTERM. Event streams open
// on a stopping process end asking their client to reconnect.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the real binary many times")
	}
	const upgrades = 100
	dsn := dbtest.Postgres(t) // two processes share the work only on PostgreSQL
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := proctest.Build(t)
	migrate := exec.CommandContext(ctx, bin, "migrate", "--db", dsn)
	migrate.Env = append(os.Environ(), "TIERUP_SECRET_KEY="+dbtest.SecretKey) // the processes of one test share it
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out) // once, before two processes start at once
	}
	lb := &balancer{up: map[string]string{}}
	procs := []*server{{name: "a", bin: bin, dsn: dsn}, {name: "b", bin: bin, dsn: dsn}}
	for _, p := range procs {
		p.start(t, lb)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})

	// The accounts, their cards and quotes first: only the upgrades, which
	// carry an Idempotency-Key, are started during the restarts.
	type run struct{ acct, token, quote, pm, id string }
	runs := make([]run, upgrades)
	each(upgrades, 10, func(i int) {
		a := lb.call(t, ctx, "POST", "/v1/accounts", admin, map[string]any{"email": fmt.Sprintf("roll%d@example.com", i)}, "")
		r := &runs[i]
		r.acct, r.token = a.Str("id"), a.Str("token")
		r.pm = lb.call(t, ctx, "POST", "/v1/payment-methods", r.token, map[string]any{"card": map[string]any{
			"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}, "").Str("id")
		r.quote = lb.call(t, ctx, "POST", "/v1/quotes", r.token, map[string]any{"plan": "pro-1m"}, "").Str("id")
	})
	if t.Failed() {
		t.FailNow()
	}

	startUpgrade := func(i int) {
		r := &runs[i]
		res := lb.call(t, ctx, "POST", "/v1/upgrades", r.token,
			map[string]any{"quote": r.quote, "payment_method": r.pm, "accept_terms": "2026-11-01"}, fmt.Sprintf("roll-%d", i))
		if res.Status != http.StatusAccepted {
			t.Errorf("upgrade %d: %d %s", i, res.Status, res.Raw)
		}
		r.id = res.Str("id")
	}
	startUpgrade(0) // the first, whose event stream each stopping process serves
	if t.Failed() {
		t.FailNow()
	}
	started := make(chan struct{})
	go func() {
		defer close(started)
		each(upgrades-1, upgrades, func(i int) {
			time.Sleep(time.Duration(i) * 150 * time.Millisecond) // spread over the restarts
			startUpgrade(i + 1)
		})
	}()

	// Restart a, then b, then a… until every upgrade completed, and at
	// least once each while upgrades are still being started.
	var streams []<-chan string
	done := func() bool {
		select {
		case <-started:
		default:
			return false
		}
		for _, r := range runs {
			if r.id == "" {
				continue // its start failed, reported above
			}
			u := lb.call(t, ctx, "GET", "/v1/upgrades/"+r.id, r.token, nil, "")
			switch u.Str("status") {
			case "completed":
			case "processing":
				return false
			default:
				t.Fatalf("upgrade %s is %s: %s", r.id, u.Str("status"), u.Raw)
			}
		}
		return true
	}
	restarts := 0
	for ; restarts < 2 || !done(); restarts++ {
		if ctx.Err() != nil {
			t.Fatalf("not done after %d restarts", restarts)
		}
		p := procs[restarts%2]
		streams = append(streams, follow(t, p.base+"/v1/upgrades/"+runs[0].id+"/events", runs[0].token))
		p.stop(t, lb)
		p.start(t, lb)
	}
	t.Logf("%d upgrades completed over %d restarts", upgrades, restarts)

	charges := map[string]int{}
	for _, e := range lb.call(t, ctx, "GET", "/v1/sandbox/ledger", admin, nil, "").List("data") {
		kind, _ := apitest.Dig(e, "kind").(string)
		code, _ := apitest.Dig(e, "code").(string)
		status, _ := apitest.Dig(e, "status").(string)
		upgrade, _ := apitest.Dig(e, "metadata.upgrade").(string)
		switch {
		case kind == "refund":
			t.Errorf("refund %v", e)
		case code == "" && status == "":
			charges[upgrade]++
		default:
			t.Errorf("charge failed: %v", e)
		}
	}
	for _, r := range runs {
		if n := len(lb.call(t, ctx, "GET", "/v1/sandbox/cluster?account="+r.acct, admin, nil, "").List("nodes")); n != 1 {
			t.Errorf("account %s has %d nodes in the cluster, want 1", r.acct, n)
		}
	}
	for _, p := range procs {
		p.stop(t, lb)
	}
	for i, s := range streams {
		if body := <-s; !strings.HasSuffix(body, restartNotice) {
			t.Errorf("event stream %d ended with %q", i, body[max(0, len(body)-200):])
		}
	}

	// The record, read from the database once the processes are gone.
	db := dbtest.OpenStore(t, dsn)
	handedBack := 0
	for _, r := range runs {
		u, err := db.Upgrade(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		if charges[r.id] != 1 {
			t.Errorf("upgrade %s: %d charges", r.id, charges[r.id])
		}
		for _, s := range u.Steps {
			if s.Attempts != 1 {
				t.Errorf("upgrade %s: step %s took %d attempts", r.id, s.Name, s.Attempts)
			}
		}
		if len(u.Nodes) != 1 {
			t.Errorf("upgrade %s: %d nodes", r.id, len(u.Nodes))
		}
		for _, w := range u.Workloads {
			if w.State != tierup.WorkloadMigrated {
				t.Errorf("upgrade %s: workload %s %s", r.id, w.Workload.Name, w.State)
			}
		}
		evs, err := db.Events(ctx, r.id, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch e.Action {
			case tierup.ActionStepHandedBack:
				handedBack++
			case tierup.ActionResumedAfterCrash, tierup.ActionStepRetryScheduled, tierup.ActionNeedsSupport:
				t.Errorf("upgrade %s: %s: %s", r.id, e.Action, e.Message)
			}
		}
	}
	if handedBack == 0 {
		t.Error("no step was handed back: no SIGTERM landed while a charge was in flight")
	}
	t.Logf("%d steps handed back; the slowest stops took %s and %s (grace %s)", handedBack, procs[0].slowest, procs[1].slowest, rollGrace)
	for query, want := range map[string]int{
		`SELECT count(*) FROM river_job WHERE state <> 'completed'`:              0,
		`SELECT count(*) FROM river_job WHERE attempt > 1 OR errors IS NOT NULL`: 0,
		`SELECT count(*) FROM processes`:                                         0,
	} {
		if n := countRows(t, db, query); n != want {
			t.Errorf("%s: %d, want %d", query, n, want)
		}
	}
	if t.Failed() { // what the queue says about its jobs that did not go well
		rows, err := db.SQLDB().QueryContext(ctx, `SELECT id, state, attempt, COALESCE(errors::text, '') FROM river_job
			WHERE state <> 'completed' OR attempt > 1 OR errors IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, attempt int64
			var state, errs string
			if err := rows.Scan(&id, &state, &attempt, &errs); err != nil {
				t.Fatal(err)
			}
			t.Logf("job %d %s, attempt %d: %s", id, state, attempt, errs)
		}
	}
}

// each runs f(0)…f(n-1), at most par at once.
func each(n, par int, f func(i int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// balancer plays the load balancer in front of the processes: it sends
// requests to those whose readiness passed, and drops one when it fails.
type balancer struct {
	mu   sync.Mutex
	up   map[string]string // process name → base URL
	next int
}

func (b *balancer) set(name, base string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if base == "" {
		delete(b.up, name)
	} else {
		b.up[name] = base
	}
}

func (b *balancer) pick() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	var bases []string
	for _, name := range []string{"a", "b"} {
		if base, ok := b.up[name]; ok {
			bases = append(bases, base)
		}
	}
	if len(bases) == 0 {
		return ""
	}
	return bases[b.next%len(bases)]
}

// call sends a request to a process that is up, again to another on a
// connection error (the same Idempotency-Key when key is set), until ctx
// ends. Answers of 400 and above fail the test.
func (b *balancer) call(t *testing.T, ctx context.Context, method, path, token string, body any, key string) apitest.Response {
	t.Helper()
	buf, _ := json.Marshal(body)
	for {
		base := b.pick()
		if base == "" {
			if !sleep(ctx, 20*time.Millisecond) {
				break
			}
			continue
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(buf)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			if !sleep(ctx, 20*time.Millisecond) {
				break
			}
			continue // refused, reset or closed: the process is stopping
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := apitest.Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
		_ = json.Unmarshal(raw, &r.Body)
		if r.Status >= 400 {
			t.Errorf("%s %s: %d %s", method, path, r.Status, raw)
		}
		return r
	}
	t.Errorf("%s %s: no process answered before the test's deadline", method, path)
	return apitest.Response{}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// server is one `tierup serve` process, started again after each stop.
type server struct {
	name, bin, dsn string
	proc           *proctest.Process
	base           string
	logs           *syncBuffer
	slowest        time.Duration // the longest a stop took, for the log
}

// start runs the process and, once it listens, puts it behind lb.
func (s *server) start(t *testing.T, lb *balancer) {
	t.Helper()
	s.logs = &syncBuffer{}
	s.proc = proctest.Start(t, proctest.Command{Bin: s.bin, Log: s.logs,
		Args: []string{"serve", "--db", s.dsn, "--addr", "127.0.0.1:0", "--admin-token", admin, "--demo=false",
			"--sim-provision-delay", "300ms", "--sim-migrate-delay", "100ms", "--sandbox-charge-latency", "3s",
			"--job-timeout", "10m", "--retry-base-delay", "50ms", "--pause-probe", "100ms", "--log-format", "json",
			"--shutdown-delay", rollDelay.String(), "--shutdown-timeout", rollTimeout.String()},
		Env: []string{"TIERUP_SECRET_KEY=" + dbtest.SecretKey}}) // the processes of one test share it
	s.base = s.proc.Base
	lb.set(s.name, s.base)
}

// stop sends SIGTERM, takes the process out of lb once its readiness
// fails (as an endpoints controller does) and waits for it to exit, with
// status 0 within the grace period; past it, the process is killed.
func (s *server) stop(t *testing.T, lb *balancer) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	grace := time.NewTimer(rollGrace)
	defer grace.Stop()
	probe := time.NewTicker(20 * time.Millisecond)
	defer probe.Stop()
	for ready := true; ; {
		select {
		case <-s.proc.Exited():
			lb.set(s.name, "")
			if code := s.proc.ExitCode(); code != 0 {
				t.Errorf("tierup %s exited with status %d after SIGTERM; its log ends:\n%s", s.name, code, tail(s.logs.String(), 30))
			}
			s.slowest = max(s.slowest, time.Since(sent))
			return
		case <-grace.C:
			t.Errorf("tierup %s still runs %s after SIGTERM: killed; its log ends:\n%s", s.name, rollGrace, tail(s.logs.String(), 30))
			s.kill()
		case <-probe.C:
			if ready && !s.ready() {
				ready = false
				lb.set(s.name, "")
			}
		}
	}
}

// ready reports whether /readyz answers 200.
func (s *server) ready() bool {
	res, err := http.Get(s.base + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

func (s *server) kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
