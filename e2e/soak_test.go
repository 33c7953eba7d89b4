package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
	"github.com/tierup/tierup/internal/smtptest"
)

// soakSize is how much chaos a soak makes.
type soakSize struct {
	upgrades int // accounts, each upgrading once
	kills    int // SIGKILLs over the run, all processes together
}

// soakSizeOf reads the size: the CI form by default, the long soak with
// TIERUP_SOAK=1; TIERUP_SOAK_UPGRADES and TIERUP_SOAK_KILLS set either
// (to replay a seed at another size, say).
func soakSizeOf(t *testing.T) soakSize {
	t.Helper()
	size := soakSize{upgrades: 100, kills: 15}
	if os.Getenv("TIERUP_SOAK") == "1" {
		size = soakSize{upgrades: 1000, kills: 100}
	}
	for name, v := range map[string]*int{"TIERUP_SOAK_UPGRADES": &size.upgrades, "TIERUP_SOAK_KILLS": &size.kills} {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive whole number", name, s)
			}
			*v = n
		}
	}
	return size
}

// soakSeed is TIERUP_SOAK_SEED, or a fresh seed.
func soakSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("TIERUP_SOAK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TIERUP_SOAK_SEED=%q: want an unsigned whole number", s)
		}
		return seed
	}
	return rand.Uint64()
}

// arrivalPerUpgrade spreads the accounts' starts: the upgrades arrive over
// upgrades × arrivalPerUpgrade, and the kills are spread over the same
// window, so that each kill finds upgrades in every step.
const arrivalPerUpgrade = 450 * time.Millisecond

// TestSoak is the chaos soak. Accounts each start one upgrade (to every
// paid plan of the catalog in turn: one dedicated node and three) while
// the real binary is SIGKILLed at random moments and started again at
// once; the simulated cluster and the sandbox's charges take a little
// time, so that kills land in the middle of steps. A seeded source decides
// when each account starts and when each kill comes;
// the seed is logged, and TIERUP_SOAK_SEED replays that schedule (the
// interleaving still depends on the machine). Clients that lose their
// connection wait and send the same request again, to the other process
// when there are two; the upgrade is sent with the same Idempotency-Key.
//
// It runs on SQLite, on PostgreSQL, and on PostgreSQL with two processes
// sharing the work, each killed on its own schedule. At the end, for every
// upgrade (soakClient.check says what each check proves): it completed;
// the gateway's ledger has exactly one successful charge for it, of its
// amount, and nothing is refunded; the account is on its new plan with
// exactly the plan's number of dedicated nodes, its workloads on them; and
// no step's side effect was performed twice after its commit.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary over and over")
	}
	size, seed := soakSizeOf(t), soakSeed(t)
	t.Logf("soak: %d upgrades, %d kills, seed %d (TIERUP_SOAK_SEED=%d replays it)", size.upgrades, size.kills, seed, seed)
	bin := proctest.Build(t)
	for _, run := range []struct {
		name  string
		db    func(testing.TB) string
		procs int
	}{
		{"sqlite", dbtest.SQLite, 1},
		{"postgres", dbtest.Postgres, 1},
		{"postgres two processes", dbtest.Postgres, 2},
	} {
		t.Run(run.name, func(t *testing.T) {
			s := newSoak(t, bin, run.db(t), run.procs, size, seed)
			s.run()
			s.check()
		})
	}
}

// soak is one run: the processes, their schedules and the clients.
type soak struct {
	*fleet
	size    soakSize
	seed    uint64
	mail    *smtptest.Server
	plans   []paidPlan
	clients []*soakClient
	kills   []int // by process
}

// soakClient is one account and its upgrade, as its client saw them.
type soakClient struct {
	customer
	start  time.Duration // after the run's start
	proc   int           // the process it talks to
	status string        // the upgrade's last status seen
	err    error         // why the client stopped short
	lost   int           // requests that got no answer
	resent bool          // the upgrade's request was among them
}

func newSoak(t *testing.T, bin, dsn string, procs int, size soakSize, seed uint64) *soak {
	t.Helper()
	s := &soak{size: size, seed: seed, mail: smtptest.Start(t), kills: make([]int, procs)}
	s.fleet = newFleet(t, bin, dsn, procs, s.mail, "--workers", "20", "--sim-capacity", strconv.Itoa(3*size.upgrades+10),
		"--sim-provision-delay", "200ms", "--sim-migrate-delay", "50ms", "--sandbox-charge-latency", "100ms",
		// Short, so that a job a dead process had fetched but not
		// begun is rescued soon.
		"--job-timeout", "5s", "--retry-base-delay", "50ms", "--pause-probe", "100ms")
	s.startAll()
	s.plans = paidPlans(s.api(0))
	counts := map[int]bool{}
	for _, p := range s.plans {
		counts[p.nodes] = true
	}
	if !counts[1] || !counts[3] {
		t.Fatalf("the catalog's paid plans %v: want plans with one dedicated node and with three", s.plans)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	window := time.Duration(size.upgrades) * arrivalPerUpgrade
	for i := range size.upgrades {
		s.clients = append(s.clients, &soakClient{customer: customer{i: i, plan: s.plans[i%len(s.plans)]},
			start: time.Duration(rng.Int64N(int64(window))), proc: i % procs})
	}
	return s
}

// run starts every client and every process's killer, and returns when
// every client saw its upgrade end (or gave up) and the killers stopped.
func (s *soak) run() {
	window := time.Duration(s.size.upgrades) * arrivalPerUpgrade
	// Bounds a hung run only: far beyond what the schedule needs.
	ctx, cancel := context.WithTimeout(context.Background(), 4*window+5*time.Minute)
	defer cancel()
	began := time.Now()
	clientsDone := make(chan struct{})
	var clients sync.WaitGroup
	for _, c := range s.clients {
		clients.Go(func() { c.run(ctx, s) })
	}
	go func() { clients.Wait(); close(clientsDone) }()

	var killers sync.WaitGroup
	for p := range s.procs {
		kills := s.size.kills / len(s.procs)
		if p < s.size.kills%len(s.procs) {
			kills++
		}
		// Moments uniform over the arrivals' window, each process its own:
		// a Poisson process of that many kills, whose gaps are exponential.
		rng := rand.New(rand.NewPCG(s.seed, uint64(p)+1))
		at := make([]time.Duration, kills)
		for k := range at {
			at[k] = time.Duration(rng.Int64N(int64(window)))
		}
		slices.Sort(at)
		s.t.Logf("process %d is killed at %v", p, roundAll(at))
		killers.Go(func() { s.killer(p, began, at, clientsDone) })
	}
	killers.Wait()
	<-clientsDone
	lost, resent := 0, 0
	for _, c := range s.clients {
		lost += c.lost
		if c.resent {
			resent++
		}
	}
	s.t.Logf("%d upgrades in %s; kills by process %v (%d planned); %d requests got no answer and were sent again, %d of them starting an upgrade",
		len(s.clients), time.Since(began).Round(time.Second), s.kills, s.size.kills, lost, resent)
}

// killer SIGKILLs process p at the moments after began and starts it
// again each time at once, until the clients are done. A moment that
// comes while the process is still starting waits for it.
func (s *soak) killer(p int, began time.Time, at []time.Duration, done <-chan struct{}) {
	for _, moment := range at {
		select {
		case <-done:
			return // nothing left to interrupt
		case <-time.After(time.Until(began.Add(moment))):
		}
		s.kill(p)
		s.kills[p]++
		if err := s.start(p); err != nil {
			s.t.Errorf("after kill %d: %v", s.kills[p], err)
			return
		}
	}
}

// roundAll rounds the moments to tenths of a second, for the log.
func roundAll(at []time.Duration) []time.Duration {
	out := make([]time.Duration, len(at))
	for i, d := range at {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}

// ended are the statuses an upgrade rests in.
var ended = []string{"completed", "payment_failed", "needs_support", "canceled"}

// run is one customer: an account, a card, a quote and the upgrade, then
// watching it until it ends. Every request that gets no answer is sent
// again as it was, but for the account's email: the lost request may
// have opened the account, and emails are unique.
func (c *soakClient) run(ctx context.Context, s *soak) {
	select {
	case <-ctx.Done():
		c.err = ctx.Err()
		return
	case <-time.After(c.start):
	}
	acct, err := c.call(ctx, s, "POST", "/v1/accounts", admin, func(attempt int) any {
		c.email = fmt.Sprintf("soak%d-%d@example.com", c.i, attempt)
		return map[string]any{"email": c.email}
	})
	if c.expect(acct, err, 201) {
		return
	}
	c.account, c.token = acct.Str("id"), acct.Str("token")
	pm, err := c.call(ctx, s, "POST", "/v1/payment-methods", c.token, same(map[string]any{
		"card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}))
	if c.expect(pm, err, 201) {
		return
	}
	q, err := c.call(ctx, s, "POST", "/v1/quotes", c.token, same(map[string]any{"plan": c.plan.id}))
	if c.expect(q, err, 201) {
		return
	}
	up, err := c.call(ctx, s, "POST", "/v1/upgrades", c.token,
		same(map[string]any{"quote": q.Str("id"), "payment_method": pm.Str("id"), "accept_terms": "2026-11-01"}),
		"Idempotency-Key", fmt.Sprintf("soak-%d-%d", s.seed, c.i))
	if c.expect(up, err, 202) {
		return
	}
	c.upgrade = up.Str("id")
	for !slices.Contains(ended, c.status) {
		select {
		case <-ctx.Done():
			c.err = fmt.Errorf("upgrade %s still %s: %w", c.upgrade, c.status, ctx.Err())
			return
		case <-time.After(250 * time.Millisecond):
		}
		r, err := c.call(ctx, s, "GET", "/v1/upgrades/"+c.upgrade, c.token, same(nil))
		if c.expect(r, err, 200) {
			return
		}
		c.status = r.Str("status")
	}
}

// call sends a request until it is answered: after a lost connection it
// waits a moment and sends it again, to the next process when there are
// several. body makes the request's body for each attempt.
func (c *soakClient) call(ctx context.Context, s *soak, method, path, token string, body func(attempt int) any, headers ...string) (apitest.Response, error) {
	for attempt := 0; ; attempt++ {
		r, err := apitest.Client{T: s.t, BaseURL: "http://" + s.addrs[c.proc]}.Try(method, path, token, body(attempt), headers...)
		if err == nil {
			return r, nil
		}
		c.lost++
		c.resent = c.resent || method == "POST" && path == "/v1/upgrades"
		c.proc = (c.proc + 1) % len(s.addrs)
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("%s %s: %w (last attempt: %v)", method, path, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// same is a request body that is the same for every attempt.
func same(body any) func(int) any { return func(int) any { return body } }

// expect records why the client stops when the answer is not the one
// wanted, and says whether it does.
func (c *soakClient) expect(r apitest.Response, err error, status int) (stop bool) {
	switch {
	case err != nil:
		c.err = err
	case r.Status != status:
		c.err = fmt.Errorf("answered %d, want %d: %s", r.Status, status, r.Raw)
	}
	return c.err != nil
}

// check verifies the soak's invariants over every upgrade and the whole
// database, once the run is over: verifyUpgrades and checkSimulatedNodes
// say what they prove.
func (s *soak) check() {
	t := s.t
	api := s.api(0)
	label := fmt.Sprintf("seed %d", s.seed)
	var done []*customer
	told := 0
	for _, c := range s.clients {
		if c.err == nil {
			done = append(done, &c.customer)
			continue
		}
		story := ""
		if told++; told <= 3 { // the first few upgrades' stories are enough to start from
			story = "\naudit:" + c.audit(api)
		}
		t.Errorf("%s, client %d (account %s, %s, upgrade %s):\n  the client stopped short: %v%s", label, c.i, c.account, c.plan.id, c.upgrade,
			c.err, story)
	}
	resumed := verifyUpgrades(t, api, s.mail, label, done)
	kills := 0
	for _, n := range s.kills {
		kills += n
	}
	if resumed == 0 && kills > 0 {
		t.Errorf("%d kills and no step resumed after a crash: none landed in the middle of a step", kills)
	}
	t.Logf("%d steps resumed after a crash", resumed)
	s.killAll() // the store is read alone from here on
	checkSimulatedNodes(t, s.dsn, label, done)
	if t.Failed() {
		s.tailLogs()
	}
}
