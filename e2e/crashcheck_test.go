package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
	"github.com/tierup/tierup/internal/smtptest"
)

// This file holds what the tests that SIGKILL the real binary share (the
// chaos soak and the kill during a burst): serve processes restarted on
// one database, and the checks of every upgrade once they are done.

// fleet is serve processes on one database, each keeping its address and
// its log file across restarts.
type fleet struct {
	t     *testing.T
	dsn   string
	addrs []string           // each process's address
	cmds  []proctest.Command // how each process starts
	procs []*proctest.Process
	logs  []string // each process's log file, all its lives
}

// newFleet makes n processes' commands: serve on dsn with the sandbox
// gateway, the simulated cluster, mail to mail and the extra flags. None
// runs yet; whichever runs when the test ends is killed.
func newFleet(t *testing.T, bin, dsn string, n int, mail *smtptest.Server, flags ...string) *fleet {
	t.Helper()
	f := &fleet{t: t, dsn: dsn}
	dir := t.TempDir()
	for p := range n {
		f.addrs = append(f.addrs, proctest.KeptAddr(t))
		f.logs = append(f.logs, filepath.Join(dir, fmt.Sprintf("tierup-%d.log", p)))
		logFile, err := os.OpenFile(f.logs[p], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { logFile.Close() })
		f.cmds = append(f.cmds, proctest.Command{Bin: bin, Log: logFile, Env: []string{"TIERUP_SECRET_KEY=" + dbtest.SecretKey},
			Args: append([]string{"serve", "--db", dsn, "--addr", f.addrs[p], "--admin-token", admin, "--demo=false", "--log-format", "json",
				"--smtp-addr", mail.Addr()}, flags...)})
		f.procs = append(f.procs, nil)
	}
	// Killers replace the processes while the test runs: kill whichever
	// runs at the end.
	t.Cleanup(f.killAll)
	return f
}

// startAll starts every process in turn (the first migrates the database
// before the next opens it), failing the test when one does not start.
func (f *fleet) startAll() {
	f.t.Helper()
	for p := range f.procs {
		if err := f.start(p); err != nil {
			f.t.Fatal(err)
		}
	}
}

// start starts process p; a process that does not start is told with the
// end of its log. It may be called from any goroutine.
func (f *fleet) start(p int) error {
	proc, err := proctest.Run(f.cmds[p])
	if proc != nil {
		f.procs[p] = proc
	}
	if err != nil {
		b, _ := os.ReadFile(f.logs[p])
		err = fmt.Errorf("process %d: %w; its log ends:\n%s", p, err, b[max(0, len(b)-2000):])
	}
	return err
}

// kill SIGKILLs process p, when it runs.
func (f *fleet) kill(p int) {
	if f.procs[p] != nil {
		f.procs[p].Kill()
	}
}

func (f *fleet) killAll() {
	for p := range f.procs {
		f.kill(p)
	}
}

// api is a client of process p.
func (f *fleet) api(p int) apitest.Client {
	return apitest.Client{T: f.t, BaseURL: "http://" + f.addrs[p]}
}

// tailLogs shows the warnings and errors the processes logged, the last
// ones of each, to go with a failure.
func (f *fleet) tailLogs() {
	for p, path := range f.logs {
		b, err := os.ReadFile(path)
		if err != nil {
			f.t.Log(err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				lines = append(lines, l)
			}
		}
		f.t.Logf("process %d: %d warnings and errors, the last ones:\n%s", p, len(lines), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

// paidPlan is a paid plan of the catalog and its dedicated nodes.
type paidPlan struct {
	id    string
	nodes int
}

// paidPlans reads the catalog's paid plans that are not retired.
func paidPlans(api apitest.Client) []paidPlan {
	var out []paidPlan
	for _, p := range api.Do("GET", "/v1/plans", admin, nil).List("data") {
		nodes, _ := apitest.Dig(p, "limits.dedicated_nodes").(float64)
		if retired, _ := apitest.Dig(p, "retired").(bool); nodes > 0 && !retired {
			out = append(out, paidPlan{id: apitest.Dig(p, "id").(string), nodes: int(nodes)})
		}
	}
	return out
}

// customer is one account and its one upgrade, as the checks see them.
type customer struct {
	i       int
	plan    paidPlan
	email   string
	account string
	token   string
	upgrade string
}

// verifyUpgrades checks every customer's upgrade once the work is over
// (customer.check says what each check proves), and that no charge was
// made for an upgrade none of them started and receipts are numbered
// without gap. label starts each failure (a seed to replay, say). It
// returns how many steps were resumed after a crash, all upgrades
// together.
func verifyUpgrades(t *testing.T, api apitest.Client, mail *smtptest.Server, label string, cs []*customer) (resumed int) {
	t.Helper()
	charges := ledgerCharges(t, api, label)
	emails := map[string]int{} // completion emails by recipient
	for _, m := range mail.Messages() {
		if strings.HasSuffix(m.Subject, " is complete") {
			for _, to := range m.To {
				emails[to]++
			}
		}
	}
	var receipts []string
	mine, told := map[string]bool{}, 0
	for _, c := range cs {
		mine[c.upgrade] = true
		n, receipt, problems := c.check(api, charges[c.upgrade], emails[c.email])
		resumed += n
		if receipt != "" {
			receipts = append(receipts, receipt)
		}
		if len(problems) == 0 {
			continue
		}
		story := ""
		if told++; told <= 3 { // the first few upgrades' stories are enough to start from
			story = "\naudit:" + c.audit(api)
		}
		t.Errorf("%s, client %d (account %s, %s, upgrade %s):\n  %s%s", label, c.i, c.account, c.plan.id, c.upgrade,
			strings.Join(problems, "\n  "), story)
	}
	for upgrade, amounts := range charges {
		if !mine[upgrade] {
			t.Errorf("%s: %d successful charges for %q, which no client started", label, len(amounts), upgrade)
		}
	}
	apitest.CheckReceiptNumbers(t, receipts, len(cs))
	return resumed
}

// ledgerCharges reads the sandbox gateway's ledger: the amounts of the
// successful charges by upgrade. A refund, or a charge that did not
// succeed (the test card always does), fails the test.
func ledgerCharges(t *testing.T, api apitest.Client, label string) map[string][]int64 {
	t.Helper()
	charges := map[string][]int64{}
	for _, e := range sandboxLedger(api) {
		switch {
		case e.kind == "refund":
			t.Errorf("%s: a refund in the ledger: %v", label, e.raw)
		case e.succeeded():
			charges[e.upgrade] = append(charges[e.upgrade], e.amount)
		default:
			t.Errorf("%s: a charge that did not succeed: %v", label, e.raw)
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
func (c *customer) check(api apitest.Client, charges []int64, emails int) (resumed int, receipt string, problems []string) {
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

// checkSimulatedNodes reads the simulated cluster's own records at dsn
// (no process may run any more): each customer's upgrade made each of
// its nodes once, under its key, and released none. The cluster route
// shows only the nodes not released, so a node released and made again
// would hide there.
func checkSimulatedNodes(t *testing.T, dsn, label string, cs []*customer) {
	t.Helper()
	recs, err := dbtest.OpenStore(t, dsn).Records(context.Background(), "sim:account")
	if err != nil {
		t.Fatal(err)
	}
	byAccount := map[string][]byte{}
	for _, r := range recs {
		byAccount[r.Key] = r.Value
	}
	for _, c := range cs {
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
				t.Errorf("%s: account %s's node %s was released", label, c.account, n.Key)
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
			t.Errorf("%s: account %s's simulated nodes were made under the keys %v, want each of %v once", label, c.account, keys, want)
		}
	}
}

// audit is the upgrade's audit log, one line an event, for a failure's
// message.
func (c *customer) audit(api apitest.Client) string {
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
