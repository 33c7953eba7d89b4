package sim_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
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
		spread := "topology spread over the account's dedicated nodes by kubernetes.io/hostname"

		// The plan, in migration order, of an account the cluster has not
		// seen yet: the six default workloads, all on the shared pool.
		tests := []struct {
			kind, name string
			replicas   int
			changes    []string // each must be one of the planned changes, or start one
		}{
			{"Deployment", "web", 2, []string{selector, toleration, spread, rolling}},
			{"Deployment", "api", 2, []string{selector, toleration, spread, rolling}},
			{"Deployment", "worker", 1, []string{selector, toleration, spread, rolling}},
			{"CronJob", "nightly-report", 1, []string{selector, toleration, cron}},
			{"CronJob", "cleanup", 1, []string{selector, toleration, cron}},
			{"Function", "thumbnailer", 1, []string{selector, toleration, spread, rolling}},
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
			if !reflect.DeepEqual(m.Workload, ws[i]) {
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
				if !slices.Equal(before[0].Nodes, []string{node.Name}) {
					t.Errorf("planned onto %v, want the ready node %s", before[0].Nodes, node.Name)
				}
				report, err := c.MigrateWorkload(ctx, acct, before[0].Workload, []tierup.Node{*node})
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

		if _, err := faults.Inject(ctx, tierup.FaultSpec{Kind: sandbox.FaultClusterUnreachable, Duration: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PlanMigration(ctx, acct); tierup.ErrorCode(err) != tierup.CodeClusterUnreachable {
			t.Errorf("unreachable cluster: %v, want %s", err, tierup.CodeClusterUnreachable)
		}
	})
}

// TestSeveralNodes: a Team upgrade's three nodes, asked for at once, count
// against the capacity one each, are found again by a retry, carry the
// workloads spread over them, and all go on release.
func TestSeveralNodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := dbtest.OpenStore(t, dsn)
		faults := &sandbox.Faults{Store: db, Clock: tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
		c := sim.New(db, faults, sim.Config{Capacity: 4})
		ctx := context.Background()
		const acct = "acct_team"
		req := func(i int) tierup.NodeRequest {
			return tierup.NodeRequest{Key: "upg_team:node", Index: i, AccountID: acct}
		}
		provisionAll := func(n int) ([]tierup.Node, []error) {
			nodes, errs := make([]tierup.Node, n), make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					nd, err := c.ProvisionNode(ctx, req(i))
					if err == nil {
						nodes[i] = *nd
					}
					errs[i] = err
				})
			}
			wg.Wait()
			return nodes, errs
		}
		// Another account holds one of the four places: the third node is
		// one too many until a place frees up.
		if _, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_other:node", AccountID: "acct_other"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_other:node", Index: 1, AccountID: "acct_other"}); err != nil {
			t.Fatal(err)
		}
		_, errs := provisionAll(3)
		short := 0
		for _, err := range errs {
			if tierup.ErrorCode(err) == tierup.CodeResourceShortage {
				short++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if short != 1 {
			t.Fatalf("%d shortages with 2 of 4 places free, want 1: %v", short, errs)
		}
		if err := c.ReleaseNode(ctx, tierup.NodeRequest{Key: "upg_other:node", Index: 1, AccountID: "acct_other"}); err != nil {
			t.Fatal(err)
		}
		nodes, errs := provisionAll(3) // the retry
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		snap, err := c.Snapshot(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Nodes) != 3 {
			t.Fatalf("the retry made more nodes: %+v", snap.Nodes)
		}
		var names []string
		for i, n := range nodes {
			if !n.Ready || !strings.HasPrefix(n.Name, "dedicated-"+acct+"-") || i > 0 && !strings.HasSuffix(n.Name, "-"+strconv.Itoa(i)) {
				t.Errorf("node %d: %+v", i, n)
			}
			names = append(names, n.Name)
		}
		again, err := c.ProvisionNode(ctx, req(1))
		if err != nil || again.Name != names[1] {
			t.Errorf("node 2 asked again: %+v, %v", again, err)
		}

		plan, err := c.PlanMigration(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range plan {
			if !slices.Equal(m.Nodes, names) {
				t.Errorf("%s planned onto %v, want %v", m.Workload.Name, m.Nodes, names)
			}
			if _, err := c.MigrateWorkload(ctx, acct, m.Workload, nodes); err != nil {
				t.Fatal(err)
			}
		}
		snap, err = c.Snapshot(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]int{}
		for _, w := range snap.Workloads {
			if len(w.Nodes) != min(w.Replicas, 3) || w.Node != w.Nodes[0] {
				t.Errorf("%s (%d replicas) runs on %v (node %q): not spread", w.Name, w.Replicas, w.Nodes, w.Node)
			}
			for _, n := range w.Nodes {
				if !slices.Contains(names, n) {
					t.Errorf("%s runs on %s, not one of the account's nodes", w.Name, n)
				}
				used[n]++
			}
		}
		if len(used) != 3 {
			t.Errorf("the workloads use %d of the 3 nodes: %v", len(used), used)
		}

		for i := range 3 {
			if err := c.ReleaseNode(ctx, req(i)); err != nil {
				t.Fatal(err)
			}
		}
		if snap, err = c.Snapshot(ctx, acct); err != nil || len(snap.Nodes) != 0 {
			t.Errorf("nodes after the release: %+v, %v", snap, err)
		}
	})
}

// TestTwoProcesses: two simulated clusters on one database (two tierup
// processes) change one account's state in turn. Each starts its updates
// from the state it last stored, and the version check makes it read the
// other's change first: no move is lost.
func TestTwoProcesses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := dbtest.OpenStore(t, dsn)
		faults := &sandbox.Faults{Store: db, Clock: tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
		one, two := sim.New(db, faults, sim.Config{}), sim.New(db, faults, sim.Config{})
		ctx := context.Background()
		const acct = "acct_two"
		node, err := one.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_two:node", AccountID: acct})
		if err != nil {
			t.Fatal(err)
		}
		ws, err := one.Workloads(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		// one, two, then one again from the copy two made stale.
		for i, c := range []*sim.Cluster{one, two, one, two} {
			if _, err := c.MigrateWorkload(ctx, acct, ws[i], []tierup.Node{*node}); err != nil {
				t.Fatalf("move %d (%s): %v", i+1, ws[i].Name, err)
			}
		}
		if err := one.EnableFeatures(ctx, acct, &tierup.Plan{ID: "pro-1m"}); err != nil {
			t.Fatal(err)
		}
		snap, err := two.Snapshot(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range snap.Workloads {
			if onNode := w.Node == node.Name; onNode != (i < 4) {
				t.Errorf("%s on %q; want the first four moved to %s, the rest on shared", w.Name, w.Node, node.Name)
			}
		}
		if snap.Features != "pro-1m" {
			t.Errorf("features %q, want pro-1m", snap.Features)
		}
	})
}

// TestTwoProcessesCapacity: a node released by another process frees its
// place for this one, whose copy of the account still shows the node: a
// refusal on that copy is judged again on the state as stored.
func TestTwoProcessesCapacity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := dbtest.OpenStore(t, dsn)
		faults := &sandbox.Faults{Store: db, Clock: tierup.FixedClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))}
		one, two := sim.New(db, faults, sim.Config{Capacity: 1}), sim.New(db, faults, sim.Config{Capacity: 1})
		ctx := context.Background()
		const acct = "acct_cap"
		first := tierup.NodeRequest{Key: "upg_cap1:node", AccountID: acct}
		if _, err := one.ProvisionNode(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := two.ReleaseNode(ctx, first); err != nil {
			t.Fatal(err)
		}
		if _, err := one.ProvisionNode(ctx, tierup.NodeRequest{Key: "upg_cap2:node", AccountID: acct}); err != nil {
			t.Errorf("the place freed by the other process: %v", err)
		}
	})
}
