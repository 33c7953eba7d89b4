package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
)

// withStack opens the database at dsn, hands it to f and closes it.
func withStack(t *testing.T, dsn string, f func(st *stack.Stack)) {
	t.Helper()
	ctx := context.Background()
	st, err := stack.Open(ctx, stack.Options{DB: dsn, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	f(st)
}

func TestMigratePlan(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.SQLite(t)
	var acct string
	var nodeNames []string
	withStack(t, dsn, func(st *stack.Stack) {
		a, _, err := st.App.CreateAccount(ctx, app.NewAccount{Email: "plan@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		acct = a.ID
	})

	out, stderr, code := runCmd(t, "migrate-plan", "--db", dsn, "--account", acct)
	if code != 0 {
		t.Fatalf("migrate-plan: exit %d: %s", code, stderr)
	}
	want := []string{
		acct + ": 6 workloads would move to a dedicated node",
		"1. Deployment web (2 replicas)\n   - pod template: node selector tierup.dev/pool=dedicated, tierup.dev/account=" + acct + "\n   - toleration tierup.dev/dedicated=" + acct + ":NoSchedule\n   - topology spread over the account's dedicated nodes by kubernetes.io/hostname: maxSkew 1, DoNotSchedule, its own pods\n   - rolling update with maxSurge 1, maxUnavailable 0",
		"2. Deployment api (2 replicas)\n",
		"3. Deployment worker (1 replica)\n",
		"4. CronJob nightly-report (1 replica)\n",
		"5. CronJob cleanup (1 replica)\n   - pod template",
		"   - job template patched; running jobs finish where they are",
		"6. Function thumbnailer (1 replica)\n",
		"Pre-flight: the move can succeed.",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after byte %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}

	// Nothing was changed: the cluster has not even recorded the account.
	withStack(t, dsn, func(st *stack.Stack) {
		if _, _, err := st.Store.Record(ctx, "sim:account", acct); tierup.ErrorCode(err) != tierup.CodeNotFound {
			t.Errorf("migrate-plan wrote the account's cluster state: %v", err)
		}
		// Move web as a Team upgrade's migration would, onto three nodes;
		// the plan no longer lists it.
		c := sim.New(st.Store, st.Faults, sim.Config{})
		var nodes []tierup.Node
		for i := range 3 {
			node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_cli:node", Index: i, AccountID: acct})
			if err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes, *node)
		}
		if _, err := c.MigrateWorkload(ctx, acct, tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2, Node: "shared"}, nodes); err != nil {
			t.Fatal(err)
		}
		nodeNames = []string{nodes[0].Name, nodes[1].Name, nodes[2].Name}
	})

	out, stderr, code = runCmd(t, "migrate-plan", "--db", dsn, "--account", acct)
	if want := acct + ": 5 workloads would move to the account's 3 dedicated nodes (" + strings.Join(nodeNames, ", ") + "), spread over them"; code != 0 || !strings.Contains(out, want) {
		t.Errorf("migrate-plan after provisioning: exit %d, want %q in:\n%s%s", code, want, out, stderr)
	}

	out, stderr, code = runCmd(t, "migrate-plan", "--db", dsn, "--account", acct, "--json")
	if code != 0 {
		t.Fatalf("migrate-plan --json: exit %d: %s", code, stderr)
	}
	var moves []tierup.PlannedMove
	if err := json.Unmarshal([]byte(out), &moves); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	var names []string
	for _, m := range moves {
		names = append(names, m.Workload.Name)
		if strings.Join(m.Nodes, ",") != strings.Join(nodeNames, ",") {
			t.Errorf("%s planned onto %v, want %v", m.Workload.Name, m.Nodes, nodeNames)
		}
		if len(m.Changes) == 0 {
			t.Errorf("%s has no changes", m.Workload.Name)
		}
	}
	if got := strings.Join(names, ","); got != "api,worker,nightly-report,cleanup,thumbnailer" {
		t.Errorf("plan after moving web: %s", got)
	}

	for _, args := range [][]string{
		{"migrate-plan", "--db", dsn},
		{"migrate-plan", "--db", dsn, "--account", "acct_nope"},
		{"migrate-plan", "--db", dsn, "--account", acct, "--cluster", "eks"},
	} {
		if _, stderr, code := runCmd(t, args...); code == 0 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestPrintMigrationPlanInterruption: a move that cannot keep its workload
// serving is marked, with the reason, under the workload it concerns.
func TestPrintMigrationPlanInterruption(t *testing.T) {
	var b strings.Builder
	printMigrationPlan(&b, "acct_1", []tierup.PlannedMove{
		{Workload: tierup.Workload{Kind: "Deployment", Name: "web", Replicas: 2}, Changes: []string{"rolling update"}},
		{Workload: tierup.Workload{Kind: "StatefulSet", Name: "db", Replicas: 1}, Changes: []string{"in place"},
			Interruption: "StatefulSet db has 1 replica: it is unavailable for about the time its pod takes to restart on the dedicated node"},
	})
	want := "1. Deployment web (2 replicas)\n   - rolling update\n" +
		"2. StatefulSet db (1 replica)\n   ! not without interruption: StatefulSet db has 1 replica: it is unavailable for about the time its pod takes to restart on the dedicated node\n   - in place\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Errorf("printed:\n%s\nwant it to end:\n%s", b.String(), want)
	}
}
