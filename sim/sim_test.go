package sim_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sandbox"
	"github.com/tierup/tierup/sim"
)

func newCluster(t *testing.T, dsn string) (*sim.Cluster, *sandbox.Faults, tierup.Store) {
	t.Helper()
	db := dbtest.OpenStore(t, dsn)
	faults := &sandbox.Faults{Store: db, Clock: tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
	return sim.New(db, faults, sim.Config{}), faults, db
}

func TestPlanMigration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		c, faults, db := newCluster(t, dsn)
		ctx := context.Background()
		const acct = "acct_plan"
		selector := "pod template: node selector tierup.dev/pool=dedicated, tierup.dev/account=" + acct
		toleration := "toleration tierup.dev/dedicated=" + acct + ":NoSchedule"
		rolling := "rolling update with maxSurge 1, maxUnavailable 0"
		cron := "job template patched; running jobs finish where they are"

		// The plan, in migration order, of an account the cluster has not
		// seen yet: the six default workloads, all on the shared pool.
		tests := []struct {
			kind, name string
			replicas   int
			changes    []string // each must be one of the planned changes, or start one
		}{
			{"Deployment", "web", 2, []string{selector, toleration, rolling}},
			{"Deployment", "api", 2, []string{selector, toleration, rolling}},
			{"Deployment", "worker", 1, []string{selector, toleration, rolling}},
			{"CronJob", "nightly-report", 1, []string{selector, toleration, cron}},
			{"CronJob", "cleanup", 1, []string{selector, toleration, cron}},
			{"Function", "thumbnailer", 1, []string{selector, toleration, rolling}},
		}

		plan, err := c.PlanMigration(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.Record(ctx, "sim:account", acct); tierup.ErrorCode(err) != tierup.CodeNotFound {
			t.Errorf("planning wrote the account's state: %v", err)
		}
		if len(plan) != len(tests) {
			t.Fatalf("plan has %d moves, want %d: %+v", len(plan), len(tests), plan)
		}
		ws, err := c.Workloads(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		for i, tt := range tests {
			m := plan[i]
			if m.Workload.Kind != tt.kind || m.Workload.Name != tt.name || m.Workload.Replicas != tt.replicas || m.Workload.Node != "shared" {
				t.Errorf("move %d: %+v, want %s %s (%d replicas) on shared", i+1, m.Workload, tt.kind, tt.name, tt.replicas)
			}
			if m.Workload != ws[i] {
				t.Errorf("move %d is %+v but Workloads has %+v there", i+1, m.Workload, ws[i])
			}
			if len(m.Changes) != len(tt.changes) {
				t.Errorf("%s %s: changes %q, want %d", tt.kind, tt.name, m.Changes, len(tt.changes))
			}
			for _, want := range tt.changes {
				if !slices.ContainsFunc(m.Changes, func(c string) bool { return strings.HasPrefix(c, want) }) {
					t.Errorf("%s %s: changes %q lack %q", tt.kind, tt.name, m.Changes, want)
				}
			}
		}

		node, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_plan:node", AccountID: acct})
		if err != nil {
			t.Fatal(err)
		}
		if again, err := c.PlanMigration(ctx, acct); err != nil || len(again) != len(tests) {
			t.Fatalf("a ready node alone moves nothing: %d moves, %v", len(again), err)
		}

		// Each move reports exactly the planned changes and leaves the
		// plan, whose remaining moves keep their order.
		for i, tt := range tests {
			t.Run(tt.kind+" "+tt.name, func(t *testing.T) {
				before, err := c.PlanMigration(ctx, acct)
				if err != nil {
					t.Fatal(err)
				}
				if len(before) == 0 || before[0].Workload.Name != tt.name {
					t.Fatalf("the next planned move is %+v, want %s", before, tt.name)
				}
				report, err := c.MigrateWorkload(ctx, acct, before[0].Workload, node)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(report.Notes, before[0].Changes) {
					t.Errorf("report notes %q, planned changes %q", report.Notes, before[0].Changes)
				}
				if report.Workload.Node != node.Name {
					t.Errorf("moved to %q, want %q", report.Workload.Node, node.Name)
				}
				after, err := c.PlanMigration(ctx, acct)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, m := range after {
					names = append(names, m.Workload.Name)
				}
				var want []string
				for _, rest := range tests[i+1:] {
					want = append(want, rest.name)
				}
				if !slices.Equal(names, want) {
					t.Errorf("plan after moving %s: %v, want %v", tt.name, names, want)
				}
			})
		}

		plan, err = c.PlanMigration(ctx, acct)
		if err != nil || plan == nil || len(plan) != 0 {
			t.Fatalf("everything moved: plan %#v, %v; want an empty, non-nil list", plan, err)
		}

		// A workload sent back to the shared pool is planned again, as is
		// everything once the node is released.
		if err := c.ReturnWorkload(ctx, acct, tierup.Workload{Kind: "CronJob", Name: "cleanup"}); err != nil {
			t.Fatal(err)
		}
		if plan, err = c.PlanMigration(ctx, acct); err != nil || len(plan) != 1 || plan[0].Workload.Name != "cleanup" {
			t.Errorf("after a return: %+v, %v", plan, err)
		}
		if err := c.ReleaseNode(ctx, tierup.NodeRequest{Key: "upg_plan:node", AccountID: acct}); err != nil {
			t.Fatal(err)
		}
		if plan, err = c.PlanMigration(ctx, acct); err != nil || len(plan) != len(tests) {
			t.Errorf("after the node's release: %d moves, %v", len(plan), err)
		}

		if _, err := faults.Inject(ctx, sandbox.FaultClusterUnreachable, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PlanMigration(ctx, acct); tierup.ErrorCode(err) != tierup.CodeClusterUnreachable {
			t.Errorf("unreachable cluster: %v, want %s", err, tierup.CodeClusterUnreachable)
		}
	})
}
