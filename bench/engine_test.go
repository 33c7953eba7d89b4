package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/riverqueue"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
)

const adminToken = "tu_admin_bench"

// benchDatabase is the PostgreSQL database the benchmarks work in, so that
// its pg_stat_database row counts their transactions and no other test's.
const benchDatabase = "tierup_bench"

// dialect is a database the benchmarks run on: fresh returns the DSN of a
// new, empty one.
type dialect struct {
	name  string
	fresh func(testing.TB) string
}

var dialects = []dialect{
	{"sqlite", dbtest.SQLite},
	{"postgres", func(t testing.TB) string { return dbtest.PostgresDatabase(t, benchDatabase) }},
}

// options are the binary's defaults (serve with no flags) but for what the
// benchmarks set: the simulated cluster and the sandbox gateway at zero
// delay, room for every node, no request or upgrade logs kept.
func options(dsn string, workers int, nodes int) stack.Options {
	return stack.Options{DB: dsn, App: app.Config{Sandbox: true, AdminToken: adminToken}, SecretKey: dbtest.SecretKey,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Sim: sim.Config{Capacity: nodes + 10},
		Queue: riverqueue.Config{Workers: workers}}
}

// prepared is an account ready to upgrade: a card and a quote for Pro.
type prepared struct {
	account, card, quote string
}

// prepare opens n Hobby accounts with a card and a quote each, in a stack
// of its own that is closed afterwards, so that what the measured stack
// does is the upgrades alone.
func prepare(b *testing.B, o stack.Options, n int) []prepared {
	b.Helper()
	ctx := context.Background()
	st, err := stack.Open(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(ctx)
	out := make([]prepared, n)
	parallel(b, n, 4, func(i int) error {
		v, _, err := st.App.CreateAccount(ctx, app.NewAccount{Email: fmt.Sprintf("bench-%d@example.com", i)})
		if err != nil {
			return err
		}
		pm, err := st.App.CreatePaymentMethod(ctx, v.ID, tierup.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2034, CVC: "123", Name: "Ada Lovelace"})
		if err != nil {
			return err
		}
		q, err := st.App.CreateQuote(ctx, v.ID, "pro-1m")
		if err != nil {
			return err
		}
		out[i] = prepared{v.ID, pm.ID, q.ID}
		return nil
	})
	return out
}

// parallel runs f(0…n-1) on k goroutines and fails b on the first error.
func parallel(b *testing.B, n, k int, f func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for range k {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEngine starts b.N upgrades at once (from 8 callers, as a load
// generator would) and reports how many finish per second, the database
// transactions each costs, and the CPU time. Run it with -benchtime=300x:
// b.N is the number of upgrades.
func BenchmarkEngine(b *testing.B) {
	for _, d := range dialects {
		for _, workers := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/workers=%d", d.name, workers), func(b *testing.B) {
				benchEngine(b, d, workers)
			})
		}
	}
}

func benchEngine(b *testing.B, d dialect, workers int) {
	ctx := context.Background()
	n := b.N
	o := options(d.fresh(b), workers, n)
	accounts := prepare(b, o, n)

	st, err := stack.Open(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = st.Close(ctx)
		}
	}()
	if _, err := st.App.EnsureAdminToken(ctx); err != nil {
		b.Fatal(err)
	}
	stats := newXactCounter(b, d, o.DB)
	commits0, txs0, cpu0 := st.Store.Commits(), st.Store.Transactions(), cpuTime()
	reads0, writes0 := st.StandIns.Calls()

	b.ResetTimer()
	start := time.Now()
	if err := st.StartWorkflow(ctx); err != nil {
		b.Fatal(err)
	}
	parallel(b, n, 8, func(i int) error {
		a := accounts[i]
		_, err := st.App.CreateUpgrade(ctx, a.account, app.NewUpgrade{Quote: a.quote, PaymentMethod: a.card, AcceptTerms: app.TermsVersion})
		return err
	})
	polls := waitIdle(b, st)
	b.StopTimer()
	commits, txs, cpu := st.Store.Commits()-commits0, st.Store.Transactions()-txs0, cpuTime()-cpu0
	reads, writes := st.StandIns.Calls()
	reads, writes = reads-reads0, writes-writes0

	// The end is the last upgrade's last step, as the engine stamped it:
	// the polling above does not blur it.
	end := start
	for _, a := range accounts {
		us, err := st.App.Upgrades(ctx, a.account)
		if err != nil {
			b.Fatal(err)
		}
		if len(us) != 1 || us[0].Status != tierup.UpgradeCompleted {
			b.Fatalf("account %s: want one completed upgrade, got %+v", a.account, us)
		}
		for _, s := range us[0].Steps {
			if s.FinishedAt != nil && s.FinishedAt.After(end) {
				end = *s.FinishedAt
			}
		}
	}
	elapsed := end.Sub(start)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "upgrades/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "cpu-ms/upgrade")
	// The stand-ins for Stripe and the cluster (the sandbox gateway, the
	// simulated cluster) keep their state in the same database, each call
	// a transaction of its own that production would not make: the
	// engine's own count leaves them out.
	// On SQLite the group commit carries several write transactions in a
	// database commit: commits/upgrade is what SQLite committed, tx/upgrade
	// the write transactions as the callers made them.
	if stats == nil {
		b.ReportMetric(float64(commits)/float64(n), "commits/upgrade")
		b.ReportMetric(float64(txs)/float64(n), "tx/upgrade")
		b.ReportMetric(float64(txs-writes)/float64(n), "engine-tx/upgrade")
		return
	}
	// PostgreSQL's backends report their statistics when they end: stop
	// the process first. Its start and stop are counted too, and the
	// polls above are not the upgrades'.
	if err := st.Close(ctx); err != nil {
		b.Fatal(err)
	}
	closed = true
	xact := stats.delta(b) - polls - int64(n) // n: the check above, one read an account
	b.ReportMetric(float64(xact)/float64(n), "xact/upgrade")
	b.ReportMetric(float64(xact-reads-writes)/float64(n), "engine-xact/upgrade")
}

// waitIdle waits until no upgrade is active and returns how many reads
// it took.
func waitIdle(b *testing.B, st *stack.Stack) int64 {
	b.Helper()
	ctx := context.Background()
	var polls int64
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		polls++
		counts, err := st.Store.UpgradeCounts(ctx, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		active := 0
		for _, c := range counts {
			active += c.Active
		}
		if active == 0 {
			return polls
		}
	}
	b.Fatal("upgrades still active after 10 minutes")
	return polls
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// xactCounter reads the committed transactions of the benchmark's
// PostgreSQL database.
type xactCounter struct {
	conn   *pgx.Conn
	before int64
}

// newXactCounter returns nil for SQLite, which counts through the store
// (sqlstore.DB.Commits).
func newXactCounter(b *testing.B, d dialect, dsn string) *xactCounter {
	b.Helper()
	if d.name != "postgres" {
		return nil
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	c := &xactCounter{conn: conn}
	c.before = c.read(b)
	return c
}

// read returns xact_commit once every backend that ended has reported.
// The statistics are read in a transaction of their own (the snapshot
// is cleared first) and this connection's own statements are counted
// out: the read's.
func (c *xactCounter) read(b *testing.B) int64 {
	b.Helper()
	ctx := context.Background()
	var n int64
	// Ended backends flush as they exit; a moment covers the last ones.
	time.Sleep(200 * time.Millisecond)
	if _, err := c.conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		b.Fatal(err)
	}
	err := c.conn.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	if err != nil && !strings.Contains(err.Error(), "no rows") {
		b.Fatal(err)
	}
	return n
}

func (c *xactCounter) delta(b *testing.B) int64 { return c.read(b) - c.before }

// BenchmarkStepLatency runs b.N upgrades one after the other, the queue
// otherwise idle, and reports the time from a step's end to the start of
// the next one: what the job queue adds to every step.
func BenchmarkStepLatency(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			o := options(d.fresh(b), 0, b.N)
			accounts := prepare(b, o, b.N)
			st, err := stack.Open(ctx, o)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(ctx)
			if err := st.StartWorkflow(ctx); err != nil {
				b.Fatal(err)
			}
			var gaps []time.Duration
			b.ResetTimer()
			for _, a := range accounts {
				u, err := st.App.CreateUpgrade(ctx, a.account, app.NewUpgrade{Quote: a.quote, PaymentMethod: a.card, AcceptTerms: app.TermsVersion})
				if err != nil {
					b.Fatal(err)
				}
				u = waitCompleted(b, st, u.ID)
				for i := 1; i < len(u.Steps); i++ {
					prev, next := u.Steps[i-1], u.Steps[i]
					if prev.FinishedAt != nil && next.StartedAt != nil {
						gaps = append(gaps, next.StartedAt.Sub(*prev.FinishedAt))
					}
				}
			}
			b.StopTimer()
			var sum, worst time.Duration
			for _, g := range gaps {
				sum += g
				worst = max(worst, g)
			}
			if len(gaps) == 0 {
				b.Fatal("no step gaps recorded")
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(len(gaps))/1000, "ms/step-gap")
			b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/step-gap")
		})
	}
}

// waitCompleted waits, woken by the engine, until the upgrade completes.
func waitCompleted(b *testing.B, st *stack.Stack, id string) *tierup.Upgrade {
	b.Helper()
	ctx := context.Background()
	wake, stop := st.Engine.Subscribe(id)
	defer stop()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		u, err := st.Store.Upgrade(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		switch u.Status {
		case tierup.UpgradeCompleted:
			return u
		case tierup.UpgradeProcessing:
		default:
			b.Fatalf("upgrade %s is %s", id, u.Status)
		}
		select {
		case <-wake:
		case <-time.After(time.Second):
		}
	}
	b.Fatalf("upgrade %s did not complete", id)
	return nil
}
