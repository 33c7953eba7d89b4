package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
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
	t       *testing.T
	size    soakSize
	seed    uint64
	dsn     string
	addrs   []string           // each process's address, kept across restarts
	cmds    []proctest.Command // how each process starts
	procs   []*proctest.Process
	logs    []string // each process's log file, all its lives
	mail    *smtptest.Server
	plans   []soakPlan
	clients []*soakClient
	kills   []int // by process
}

// soakPlan is a paid plan of the catalog and its dedicated nodes.
type soakPlan struct {
	id    string
	nodes int
}

// soakClient is one account and its upgrade, as its client saw them.
type soakClient struct {
	i       int
	start   time.Duration // after the run's start
	plan    soakPlan
	proc    int // the process it talks to
	email   string
	account string
	token   string
	upgrade string
	status  string // the upgrade's last status seen
	err     error  // why the client stopped short
	lost    int    // requests that got no answer
	resent  bool   // the upgrade's request was among them
}

func newSoak(t *testing.T, bin, dsn string, procs int, size soakSize, seed uint64) *soak {
	t.Helper()
	s := &soak{t: t, size: size, seed: seed, dsn: dsn, mail: smtptest.Start(t), kills: make([]int, procs)}
	dir := t.TempDir()
	for p := range procs {
		s.addrs = append(s.addrs, proctest.KeptAddr(t))
		s.logs = append(s.logs, filepath.Join(dir, fmt.Sprintf("tierup-%d.log", p)))
		logFile, err := os.OpenFile(s.logs[p], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { logFile.Close() })
		s.cmds = append(s.cmds, proctest.Command{Bin: bin, Log: logFile, Env: []string{"TIERUP_SECRET_KEY=" + dbtest.SecretKey},
			Args: []string{"serve", "--db", dsn, "--addr", s.addrs[p], "--admin-token", admin, "--demo=false", "--log-format", "json",
				"--smtp-addr", s.mail.Addr(), "--workers", "20", "--sim-capacity", strconv.Itoa(3*size.upgrades + 10),
				"--sim-provision-delay", "200ms", "--sim-migrate-delay", "50ms", "--sandbox-charge-latency", "100ms",
				// Short, so that a job a dead process had fetched but not
				// begun is rescued soon.
				"--job-timeout", "5s", "--retry-base-delay", "50ms", "--pause-probe", "100ms"}})
	}
	// Killers replace the processes while the test runs: kill whichever
	// runs at the end.
	t.Cleanup(func() {
		for _, p := range s.procs {
			p.Kill()
		}
	})
	// The first process migrates the database before the second opens it.
	for p := range procs {
		proc, err := s.start(p)
		if proc != nil {
			s.procs = append(s.procs, proc)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	plans := apitest.Client{T: t, BaseURL: s.procs[0].Base}.Do("GET", "/v1/plans", admin, nil)
	for _, p := range plans.List("data") {
		nodes, _ := apitest.Dig(p, "limits.dedicated_nodes").(float64)
		if retired, _ := apitest.Dig(p, "retired").(bool); nodes > 0 && !retired {
			s.plans = append(s.plans, soakPlan{id: apitest.Dig(p, "id").(string), nodes: int(nodes)})
		}
	}
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
		s.clients = append(s.clients, &soakClient{i: i, start: time.Duration(rng.Int64N(int64(window))),
			plan: s.plans[i%len(s.plans)], proc: i % procs})
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
		killers.Go(func() { s.kill(p, began, at, clientsDone) })
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

// kill SIGKILLs process p at the moments after began and starts it again
// each time at once, until the clients are done. A moment that comes
// while the process is still starting waits for it.
func (s *soak) kill(p int, began time.Time, at []time.Duration, done <-chan struct{}) {
	for _, moment := range at {
		select {
		case <-done:
			return // nothing left to interrupt
		case <-time.After(time.Until(began.Add(moment))):
		}
		s.procs[p].Kill()
		s.kills[p]++
		np, err := s.start(p)
		if np != nil {
			s.procs[p] = np
		}
		if err != nil {
			s.t.Errorf("after kill %d: %v", s.kills[p], err)
			return
		}
	}
}

// start starts process p; a process that does not start is told with the
// end of its log.
func (s *soak) start(p int) (*proctest.Process, error) {
	proc, err := proctest.Run(s.cmds[p])
	if err != nil {
		b, _ := os.ReadFile(s.logs[p])
		err = fmt.Errorf("process %d: %w; its log ends:\n%s", p, err, b[max(0, len(b)-2000):])
	}
	return proc, err
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
// database, once the run is over.
func (s *soak) check() {
	t := s.t
	api := apitest.Client{T: t, BaseURL: "http://" + s.addrs[0]}
	charges := s.charges(api)
	mail := map[string]int{} // completion emails by recipient
	for _, m := range s.mail.Messages() {
		if strings.HasSuffix(m.Subject, " is complete") {
			for _, to := range m.To {
				mail[to]++
			}
		}
	}
	var receipts []string
	resumed, mine, told := 0, map[string]bool{}, 0
	for _, c := range s.clients {
		problems := []string{}
		if c.err != nil {
			problems = append(problems, fmt.Sprintf("the client stopped short: %v", c.err))
		} else {
			mine[c.upgrade] = true
			var n int
			var receipt string
			n, receipt, problems = c.check(api, charges[c.upgrade], mail[c.email])
			resumed += n
			if receipt != "" {
				receipts = append(receipts, receipt)
			}
		}
		if len(problems) == 0 {
			continue
		}
		story := ""
		if told++; told <= 3 { // the first few upgrades' stories are enough to start from
			story = "\naudit:" + c.audit(api)
		}
		t.Errorf("seed %d, client %d (account %s, %s, upgrade %s):\n  %s%s", s.seed, c.i, c.account, c.plan.id, c.upgrade,
			strings.Join(problems, "\n  "), story)
	}
	for upgrade, amounts := range charges {
		if !mine[upgrade] {
			t.Errorf("%d successful charges for %q, which no client started", len(amounts), upgrade)
		}
	}
	apitest.CheckReceiptNumbers(t, receipts, len(s.clients))
	kills := 0
	for _, n := range s.kills {
		kills += n
	}
	if resumed == 0 && kills > 0 {
		t.Errorf("%d kills and no step resumed after a crash: none landed in the middle of a step", kills)
	}
	t.Logf("%d steps resumed after a crash", resumed)
	for _, p := range s.procs {
		p.Kill() // the store is read alone from here on
	}
	s.checkSimulatedNodes()
	if t.Failed() {
		s.tailLogs()
	}
}

// charges reads the sandbox gateway's ledger: the amounts of the
// successful charges by upgrade. A refund, or a charge that did not
// succeed (the test card always does), fails the test.
func (s *soak) charges(api apitest.Client) map[string][]int64 {
	charges := map[string][]int64{}
	for _, e := range sandboxLedger(api) {
		switch {
		case e.kind == "refund":
			s.t.Errorf("seed %d: a refund in the ledger: %v", s.seed, e.raw)
		case e.succeeded():
			charges[e.upgrade] = append(charges[e.upgrade], e.amount)
		default:
			s.t.Errorf("seed %d: a charge that did not succeed: %v", s.seed, e.raw)
		}
	}
	return charges
}

// steps are the upgrade's steps in order; the last one's success is the
// upgrade's completion.
var steps = []string{"payment", "activate_plan", "provision_node", "migrate_workloads", "enable_features", "notify"}

// check verifies one upgrade, given its successful charges and the
// completion emails its account got. It returns how many times its steps
// were resumed after a crash, its receipt's number and what is wrong. What
// each check proves:
//
//   - the upgrade completed, its payment succeeded and every step did:
//     every upgrade completed;
//   - one successful charge in the ledger, of the upgrade's amount: the
//     payment step charged once; a charge made again after the payment
//     committed would carry the next attempt's idempotency key and show
//     as a second one;
//   - the account is on the new plan with its dedicated-node limit: the
//     plan switch and the features were committed;
//   - the simulated cluster has exactly the plan's number of nodes for the
//     account, all ready, the very nodes the upgrade recorded, and every
//     workload runs on them, with the plan's features on;
//   - in the audit log, one step_succeeded per step but the last and one
//     completed (a step whose outcome was committed twice would show
//     twice), and one move per workload (each move commits its event with
//     the workload's new state, so a workload moved again after its move
//     committed would show a second);
//   - the account has one upgrade: a request sent again after a lost
//     connection got the first answer (its Idempotency-Key) rather than
//     starting another;
//   - one in-app notification (written in the notify step's commit);
//   - at least one completion email and no more than the notify step's
//     runs (its starts and takeovers): an email may go twice when a
//     process dies between sending it and committing, never after;
//   - one receipt: the series over all accounts is checked by
//     apitest.CheckReceiptNumbers.
func (c *soakClient) check(api apitest.Client, charges []int64, emails int) (resumed int, receipt string, problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	u := api.Do("GET", "/v1/upgrades/"+c.upgrade, c.token, nil)
	if u.Str("status") != "completed" || u.Str("payment.status") != "succeeded" {
		bad("status %s, payment %s: want completed and succeeded", u.Str("status"), u.Str("payment.status"))
	}
	for _, st := range u.List("steps") {
		if apitest.Dig(st, "status") != "succeeded" {
			bad("step %v is %v", apitest.Dig(st, "name"), apitest.Dig(st, "status"))
		}
	}
	if len(charges) != 1 || charges[0] != u.Num("payment.amount.amount") {
		bad("successful charges %v in the ledger, want exactly one of %d", charges, u.Num("payment.amount.amount"))
	}

	acct := api.Do("GET", "/v1/account", c.token, nil)
	if acct.Str("subscription.plan") != c.plan.id || acct.Num("limits.dedicated_nodes") != int64(c.plan.nodes) {
		bad("account on %s with %d dedicated nodes, want %s with %d", acct.Str("subscription.plan"), acct.Num("limits.dedicated_nodes"), c.plan.id, c.plan.nodes)
	}

	var recorded []string
	for _, n := range u.List("nodes") {
		recorded = append(recorded, fmt.Sprint(apitest.Dig(n, "name")))
	}
	cluster := api.Do("GET", "/v1/sandbox/cluster?account="+c.account, admin, nil)
	var nodes []string
	for _, n := range cluster.List("nodes") {
		nodes = append(nodes, fmt.Sprint(apitest.Dig(n, "name")))
		if apitest.Dig(n, "ready") != true {
			bad("node %v is not ready", apitest.Dig(n, "name"))
		}
	}
	slices.Sort(nodes)
	slices.Sort(recorded)
	if len(nodes) != c.plan.nodes || !slices.Equal(nodes, recorded) {
		bad("the cluster has nodes %v, the upgrade recorded %v: want the plan's %d", nodes, recorded, c.plan.nodes)
	}
	for _, w := range cluster.List("workloads") {
		for _, n := range apitest.Dig(w, "nodes").([]any) {
			if !slices.Contains(nodes, n.(string)) {
				bad("workload %v runs on %v", apitest.Dig(w, "name"), n)
			}
		}
	}
	if cluster.Str("features") != c.plan.id {
		bad("the cluster has the features of %q", cluster.Str("features"))
	}

	audit := api.Do("GET", "/v1/upgrades/"+c.upgrade+"/audit", c.token, nil)
	count := map[string]int{}
	notifyRuns := 0
	for _, e := range audit.List("data") {
		action, msg := fmt.Sprint(apitest.Dig(e, "action")), fmt.Sprint(apitest.Dig(e, "message"))
		switch {
		case action == "step_succeeded":
			count[strings.SplitN(msg, ":", 2)[0]]++
		case action == "completed":
			count["notify"]++
		case action == "resumed_after_crash":
			resumed++
		case action == "step_started" && strings.HasPrefix(msg, "notify "), action == "step_taken_over" && strings.HasPrefix(msg, "notify "):
			notifyRuns++
		}
		if action == "step_progress" || action == "step_succeeded" {
			for _, w := range u.List("workloads") {
				if strings.Contains(msg, fmt.Sprintf("%v %v moved to ", apitest.Dig(w, "kind"), apitest.Dig(w, "name"))) {
					count["move "+fmt.Sprint(apitest.Dig(w, "name"))]++
				}
			}
		}
	}
	for _, st := range steps {
		if count[st] != 1 {
			bad("step %s committed its success %d times", st, count[st])
		}
	}
	if ws := u.List("workloads"); len(ws) == 0 {
		bad("no workloads")
	} else {
		for _, w := range ws {
			if n := count["move "+fmt.Sprint(apitest.Dig(w, "name"))]; n != 1 || apitest.Dig(w, "state") != "migrated" {
				bad("workload %v is %v, its move committed %d times", apitest.Dig(w, "name"), apitest.Dig(w, "state"), n)
			}
		}
	}

	if n := len(api.Do("GET", "/v1/upgrades", c.token, nil).List("data")); n != 1 {
		bad("the account has %d upgrades: a resent request started another", n)
	}

	notes := 0
	for _, n := range api.Do("GET", "/v1/notifications", c.token, nil).List("data") {
		if apitest.Dig(n, "kind") == "upgrade_completed" {
			notes++
		}
	}
	if notes != 1 {
		bad("%d completion notifications", notes)
	}
	if emails < 1 || emails > notifyRuns {
		bad("%d completion emails for %d runs of the notify step", emails, notifyRuns)
	}

	list := api.Do("GET", "/v1/receipts", c.token, nil)
	if rs := list.List("data"); len(rs) != 1 {
		bad("%d receipts", len(rs))
	} else {
		receipt, _ = apitest.Dig(rs[0], "number").(string)
	}
	return resumed, receipt, problems
}

// checkSimulatedNodes reads the simulated cluster's own records (the
// processes are stopped): each account's upgrade made each of its nodes
// once, under its key, and released none. The cluster route shows only the
// nodes not released, so a node released and made again would hide there.
func (s *soak) checkSimulatedNodes() {
	t := s.t
	recs, err := dbtest.OpenStore(t, s.dsn).Records(context.Background(), "sim:account")
	if err != nil {
		t.Fatal(err)
	}
	byAccount := map[string][]byte{}
	for _, r := range recs {
		byAccount[r.Key] = r.Value
	}
	for _, c := range s.clients {
		if c.err != nil {
			continue
		}
		var st struct {
			Nodes []struct {
				Key      string `json:"key"`
				Released bool   `json:"released"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(byAccount[c.account], &st); err != nil {
			t.Errorf("account %s's simulated cluster: %v", c.account, err)
			continue
		}
		var keys []string
		for _, n := range st.Nodes {
			if n.Released {
				t.Errorf("seed %d: account %s's node %s was released", s.seed, c.account, n.Key)
			}
			keys = append(keys, n.Key)
		}
		var want []string
		for i := range c.plan.nodes {
			want = append(want, tierup.NodeRequest{Key: c.upgrade + ":node", Index: i}.NodeKey())
		}
		slices.Sort(keys)
		slices.Sort(want)
		if !slices.Equal(keys, want) {
			t.Errorf("seed %d: account %s's simulated nodes were made under the keys %v, want each of %v once", s.seed, c.account, keys, want)
		}
	}
}

// audit is the upgrade's audit log, one line an event, for a failure's
// message.
func (c *soakClient) audit(api apitest.Client) string {
	if c.upgrade == "" {
		return " (no upgrade)"
	}
	r, err := api.Try("GET", "/v1/upgrades/"+c.upgrade+"/audit", c.token, nil)
	if err != nil {
		return " " + err.Error()
	}
	var b strings.Builder
	for _, e := range r.List("data") {
		fmt.Fprintf(&b, "\n    %v %v: %v", apitest.Dig(e, "at"), apitest.Dig(e, "action"), apitest.Dig(e, "message"))
	}
	return b.String()
}

// tailLogs shows the warnings and errors the processes logged, the last
// ones of each, to go with a failure.
func (s *soak) tailLogs() {
	for p, path := range s.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			s.t.Log(err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				lines = append(lines, l)
			}
		}
		s.t.Logf("process %d: %d warnings and errors, the last ones:\n%s", p, len(lines), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}
