// Package sim is the simulated cluster, tierup's embedded default: a
// shared node pool, dedicated nodes and each account's workloads, kept in
// the store so that they survive restarts. It obeys the sandbox's injected
// faults, and provisioning and moves take a configurable time.
package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/sandbox"
)

const scope = "sim:account"

// Config shapes the simulation.
type Config struct {
	ProvisionDelay time.Duration // how long a node takes to become ready (none when zero: tests)
	MigrateDelay   time.Duration // how long one workload takes to move (none when zero: tests)
	Capacity       int           // dedicated nodes the cluster can hold; 0 means DefaultConfig's
}

// DefaultConfig is what the binary runs with: delays a person can watch.
func DefaultConfig() Config {
	return Config{ProvisionDelay: 3 * time.Second, MigrateDelay: time.Second, Capacity: 100}
}

// Cluster is the simulated cluster.
type Cluster struct {
	store  tierup.Store
	faults *sandbox.Faults
	cfg    Config
	copies copies
}

// copies are the accounts' states as this process last stored them, which
// an update starts from instead of reading (tierup.UpdateRecordFrom): the
// write's version check finds one that another process changed since.
type copies struct {
	mu sync.Mutex
	m  map[string]tierup.RecordCopy
}

// maxCopies bounds the copies kept; a full set is emptied (the updates
// read until it fills again).
const maxCopies = 10_000

func (c *copies) get(accountID string) *tierup.RecordCopy {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.m[accountID]; ok {
		return &rc
	}
	return nil
}

// put keeps rc. Of two updates of one account that finish out of order
// the older is kept, which costs the next update a conflict and a read.
func (c *copies) put(accountID string, rc tierup.RecordCopy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, kept := c.m[accountID]; c.m == nil || !kept && len(c.m) >= maxCopies {
		c.m = map[string]tierup.RecordCopy{}
	}
	c.m[accountID] = rc
}

var _ tierup.Cluster = (*Cluster)(nil)

// New returns a simulated cluster.
func New(store tierup.Store, faults *sandbox.Faults, cfg Config) *Cluster {
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultConfig().Capacity
	}
	return &Cluster{store: store, faults: faults, cfg: cfg}
}

// state is one account's slice of the cluster.
type state struct {
	Workloads []tierup.Workload `json:"workloads"`
	Nodes     []node            `json:"nodes"`
	Features  string            `json:"features,omitempty"` // plan whose features are on
}

type node struct {
	tierup.Node
	Key      string `json:"key"`
	Released bool   `json:"released,omitempty"`
}

// defaultWorkloads is what every simulated account runs on the shared pool:
// three Deployments, two CronJobs and one Function.
func defaultWorkloads() []tierup.Workload {
	return []tierup.Workload{
		{Kind: "Deployment", Name: "web", Replicas: 2, Node: "shared"},
		{Kind: "Deployment", Name: "api", Replicas: 2, Node: "shared"},
		{Kind: "Deployment", Name: "worker", Replicas: 1, Node: "shared"},
		{Kind: "CronJob", Name: "nightly-report", Replicas: 1, Node: "shared"},
		{Kind: "CronJob", Name: "cleanup", Replicas: 1, Node: "shared"},
		{Kind: "Function", Name: "thumbnailer", Replicas: 1, Node: "shared"},
	}
}

func (c *Cluster) reachable(ctx context.Context) (sandbox.Snapshot, error) {
	faults, err := c.faults.Now(ctx)
	if err != nil {
		return faults, err
	}
	if faults.Active(sandbox.FaultClusterUnreachable) {
		return faults, tierup.Errorf(tierup.CodeClusterUnreachable, "the cluster's API server cannot be reached")
	}
	return faults, nil
}

// after lets d pass (a node boots, a rollout runs) and reads the faults
// again, for the cluster may have been cut off meanwhile; with no delay
// the faults read before stand.
func (c *Cluster) after(ctx context.Context, d time.Duration, faults sandbox.Snapshot) (sandbox.Snapshot, error) {
	if d <= 0 {
		return faults, nil
	}
	if err := sleep(ctx, d); err != nil {
		return faults, err
	}
	return c.reachable(ctx)
}

// update applies f to the account's state, seeded with the default
// workloads on first sight. Errors: f's, and tierup.UpdateRecord's.
func (c *Cluster) update(ctx context.Context, accountID string, f func(*state) error) (*state, error) {
	st, stored, err := tierup.UpdateRecordFrom(ctx, c.store, scope, accountID, c.copies.get(accountID), func(st *state, exists bool) error {
		if !exists {
			st.Workloads = defaultWorkloads()
		}
		return f(st)
	})
	if err != nil {
		return nil, err
	}
	if stored.Version > 0 {
		c.copies.put(accountID, stored)
	}
	return &st, nil
}

// peek returns the account's state without writing anything: an account
// the cluster has not seen yet runs the default workloads, as its first
// update seeds them.
func (c *Cluster) peek(ctx context.Context, accountID string) (*state, error) {
	st, err := tierup.GetRecord[state](ctx, c.store, scope, accountID)
	if errors.Is(err, tierup.ErrNotFound) {
		return &state{Workloads: defaultWorkloads()}, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// onDedicated reports whether w runs on one of the account's dedicated
// nodes that has not been released.
func (st *state) onDedicated(w tierup.Workload) bool {
	return slices.Contains(st.nodeNames(), w.Node)
}

// nodeNames lists the account's dedicated nodes that have not been
// released, by name (an upgrade's first node, then -1, -2, …).
func (st *state) nodeNames() []string {
	var names []string
	for _, n := range st.Nodes {
		if !n.Released {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	return names
}

// spread places w's replicas on the given nodes as the scheduler would
// under the topology spread constraint: each on the node with the fewest
// of the account's replicas so far (the first of those), never two of w's
// on one node while another has none of them.
func (st *state) spread(w *tierup.Workload, nodes []string) {
	load := map[string]int{}
	for _, o := range st.Workloads {
		if o.Kind == w.Kind && o.Name == w.Name {
			continue
		}
		for _, n := range o.Nodes {
			load[n]++
		}
	}
	mine := map[string]int{}
	for range max(1, w.Replicas) {
		best := ""
		for _, n := range nodes {
			if best == "" || mine[n] < mine[best] || mine[n] == mine[best] && load[n] < load[best] {
				best = n
			}
		}
		mine[best]++
		load[best]++
	}
	w.Nodes = nil
	for _, n := range nodes { // in the nodes' order
		if mine[n] > 0 {
			w.Nodes = append(w.Nodes, n)
		}
	}
	w.Node = w.Nodes[0]
}

// moveChanges says, in words, what moving w onto the account's dedicated
// nodes changes on it. PlanMigration announces these changes and
// MigrateWorkload reports them, so that the plan and the report agree.
func moveChanges(accountID string, w tierup.Workload) []string {
	changes := []string{
		"pod template: node selector tierup.dev/pool=dedicated, tierup.dev/account=" + accountID,
		"toleration tierup.dev/dedicated=" + accountID + ":NoSchedule",
	}
	spread := "topology spread over the account's dedicated nodes by kubernetes.io/hostname: maxSkew 1, DoNotSchedule, its own pods"
	switch w.Kind {
	case "Deployment", "Function":
		changes = append(changes, spread, "rolling update with maxSurge 1, maxUnavailable 0: each new replica is ready before an old one stops")
	case "StatefulSet":
		changes = append(changes, spread, "rolling update, one pod at a time")
	case "CronJob":
		changes = append(changes, "job template patched; running jobs finish where they are, the next runs use the dedicated node")
	}
	return changes
}

// nodeScope is the cluster's ledger of dedicated nodes: one empty record
// per running node, keyed by its account and name (ledgerKey) and deleted
// when the node is released, so that the capacity check counts records
// instead of decoding every account's state, or every node's entry. (The
// ledger before it, "sim:node", read every entry for every node made.)
const nodeScope = "sim:nodes"

func ledgerKey(account, name string) string { return account + "/" + name }

// otherNodes counts the running dedicated nodes of the accounts but one,
// at one moment: two counts read apart let the account's own nodes
// recorded between them pass for fewer of the others'.
func (c *Cluster) otherNodes(ctx context.Context, accountID string) (int, error) {
	own, all, err := c.store.CountRecords(ctx, nodeScope, ledgerKey(accountID, ""))
	return all - own, err
}

// ledger records that the node runs for account.
func (c *Cluster) ledger(ctx context.Context, account, name string) error {
	err := c.store.PutRecord(ctx, nodeScope, ledgerKey(account, name), []byte("{}"), 0)
	if errors.Is(err, tierup.ErrConflict) { // recorded before: a retry or a resume
		return nil
	}
	return err
}

// ProvisionNode implements tierup.Cluster: each node of an upgrade is
// known by its key and index, and counts against the capacity.
func (c *Cluster) ProvisionNode(ctx context.Context, req tierup.NodeRequest) (*tierup.Node, error) {
	faults, err := c.reachable(ctx)
	if err != nil {
		return nil, err
	}
	st, err := c.peek(ctx, req.AccountID)
	if err != nil {
		return nil, err
	}
	key := req.NodeKey()
	for _, nd := range st.Nodes {
		if nd.Key == key && !nd.Released { // made before: a retry or a resume
			if err := c.ledger(ctx, req.AccountID, nd.Name); err != nil {
				return nil, err
			}
			return c.waitReady(ctx, &nd.Node)
		}
	}
	short, err := c.faults.Consume(ctx, faults, sandbox.FaultResourceShortage)
	if err != nil {
		return nil, err
	}
	others, err := c.otherNodes(ctx, req.AccountID)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(req.Key))
	// A node that takes no time to boot is ready as it is made: one write.
	fresh := tierup.Node{Name: "dedicated-" + req.AccountID + "-" + hex.EncodeToString(sum[:3]) + req.NameSuffix(), AccountID: req.AccountID, Pool: "dedicated",
		Ready: c.cfg.ProvisionDelay <= 0}
	made := &tierup.Node{}
	st, err = c.update(ctx, req.AccountID, func(st *state) error {
		*made = fresh // set afresh on every run: f may run again on a newer state
		for _, nd := range st.Nodes {
			if nd.Key == key && !nd.Released {
				*made = nd.Node // a concurrent attempt made it first
				return nil
			}
		}
		// The account's own nodes are counted in its record, so that its
		// nodes asked for at once cannot all take the last place.
		if short || others+len(st.nodeNames()) >= c.cfg.Capacity {
			return tierup.Errorf(tierup.CodeResourceShortage, "no capacity for a dedicated node right now (resource shortage)")
		}
		st.Nodes = append(st.Nodes, node{Node: *made, Key: key})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.ledger(ctx, req.AccountID, made.Name); err != nil {
		return nil, err
	}
	return c.waitReady(ctx, made)
}

// waitReady lets the node boot, then marks it ready.
func (c *Cluster) waitReady(ctx context.Context, n *tierup.Node) (*tierup.Node, error) {
	if n.Ready {
		return n, nil
	}
	if _, err := c.after(ctx, c.cfg.ProvisionDelay, sandbox.Snapshot{}); err != nil { // the node boots
		return nil, err
	}
	_, err := c.update(ctx, n.AccountID, func(st *state) error {
		for i := range st.Nodes {
			if st.Nodes[i].Name == n.Name {
				st.Nodes[i].Ready = true
			}
		}
		return nil
	})
	ready := *n
	ready.Ready = true
	return &ready, err
}

// Workloads implements tierup.Cluster.
func (c *Cluster) Workloads(ctx context.Context, accountID string) ([]tierup.Workload, error) {
	if _, err := c.reachable(ctx); err != nil {
		return nil, err
	}
	st, err := c.peek(ctx, accountID)
	if err != nil {
		return nil, err
	}
	return st.Workloads, nil
}

// PlanMigration implements tierup.Cluster: the workloads not on one of the
// account's dedicated nodes, in the order of Workloads, each with the
// changes MigrateWorkload would report. It writes nothing, not even the
// state of an account seen for the first time.
func (c *Cluster) PlanMigration(ctx context.Context, accountID string) ([]tierup.PlannedMove, error) {
	if _, err := c.reachable(ctx); err != nil {
		return nil, err
	}
	st, err := c.peek(ctx, accountID)
	if err != nil {
		return nil, err
	}
	moves := []tierup.PlannedMove{}
	for _, w := range st.Workloads {
		if !st.onDedicated(w) {
			moves = append(moves, tierup.PlannedMove{Workload: w, Changes: moveChanges(accountID, w), Nodes: st.nodeNames()})
		}
	}
	return moves, nil
}

// Preflight implements tierup.Cluster. Simulated workloads have no volumes
// nor placement rules of their own, so the move can always succeed —
// unless the sandbox fault migration_blocked is in force: then the first
// workload not yet moved mounts a hostPath volume, to rehearse a refused
// upgrade.
func (c *Cluster) Preflight(ctx context.Context, accountID string, _ *tierup.Plan) (*tierup.Preflight, error) {
	faults, err := c.reachable(ctx)
	if err != nil {
		return nil, err
	}
	if !faults.Active(sandbox.FaultMigrationBlocked) {
		return tierup.PreflightPassed(""), nil
	}
	st, err := c.peek(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, w := range st.Workloads {
		if !st.onDedicated(w) {
			return tierup.PreflightFailed([]tierup.PreflightProblem{{Workload: w.Kind + "/" + w.Name, Code: tierup.PreflightHostPath,
				Message: fmt.Sprintf("%s %s mounts the host path /var/lib/%s, which stays on the shared node it runs on now: move that data to a PersistentVolumeClaim, then upgrade.", w.Kind, w.Name, w.Name)}}), nil
		}
	}
	return tierup.PreflightPassed(""), nil
}

// MigrateWorkload implements tierup.Cluster. The simulated rollout surges
// one new replica at a time and stops an old one only when the new one is
// ready, so availability never drops below the desired count; the
// replicas are spread over the nodes given.
func (c *Cluster) MigrateWorkload(ctx context.Context, accountID string, w tierup.Workload, nodes []tierup.Node) (*tierup.MigrationReport, error) {
	if len(nodes) == 0 {
		return nil, tierup.Errorf(tierup.CodeInvalid, "%s %s: no dedicated node to move it to", w.Kind, w.Name)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	faults, err := c.reachable(ctx)
	if err != nil {
		return nil, err
	}
	if faults, err = c.after(ctx, c.cfg.MigrateDelay, faults); err != nil {
		return nil, err // cut off mid-rollout: nothing was switched
	}
	fail, err := c.faults.Consume(ctx, faults, sandbox.FaultMigrationFailure)
	if err != nil {
		return nil, err
	}
	if fail {
		return nil, tierup.Errorf(tierup.CodeMigrationFailed, "%s %s did not become ready on %s; it was rolled back to the shared pool", w.Kind, w.Name, strings.Join(names, ", "))
	}
	report := &tierup.MigrationReport{Workload: w, MinAvailable: w.Replicas, Notes: moveChanges(accountID, w)}
	_, err = c.update(ctx, accountID, func(st *state) error {
		for i := range st.Workloads {
			if st.Workloads[i].Kind == w.Kind && st.Workloads[i].Name == w.Name {
				st.spread(&st.Workloads[i], names)
				report.Workload = st.Workloads[i]
				return nil
			}
		}
		return tierup.Errorf(tierup.CodeNotFound, "%s %s no longer exists", w.Kind, w.Name)
	})
	return report, err
}

// ReturnWorkload implements tierup.Cluster.
func (c *Cluster) ReturnWorkload(ctx context.Context, accountID string, w tierup.Workload) error {
	if _, err := c.reachable(ctx); err != nil {
		return err
	}
	_, err := c.update(ctx, accountID, func(st *state) error {
		for i := range st.Workloads {
			if st.Workloads[i].Kind == w.Kind && st.Workloads[i].Name == w.Name {
				st.Workloads[i].Node, st.Workloads[i].Nodes = "shared", nil
			}
		}
		return nil
	})
	return err
}

// EnableFeatures implements tierup.Cluster.
func (c *Cluster) EnableFeatures(ctx context.Context, accountID string, plan *tierup.Plan) error {
	if _, err := c.reachable(ctx); err != nil {
		return err
	}
	_, err := c.update(ctx, accountID, func(st *state) error { st.Features = plan.ID; return nil })
	return err
}

// ReleaseNode implements tierup.Cluster.
func (c *Cluster) ReleaseNode(ctx context.Context, req tierup.NodeRequest) error {
	if _, err := c.reachable(ctx); err != nil {
		return err
	}
	var released []string
	_, err := c.update(ctx, req.AccountID, func(st *state) error {
		released = released[:0]
		for i := range st.Nodes {
			if st.Nodes[i].Key == req.NodeKey() {
				st.Nodes[i].Released = true
				released = append(released, st.Nodes[i].Name)
			}
		}
		return nil
	})
	for _, name := range released {
		err = errors.Join(err, c.store.DeleteRecord(ctx, nodeScope, ledgerKey(req.AccountID, name)))
	}
	return err
}

// Snapshot is an account's slice of the simulated cluster, for tests and
// the sandbox API.
type Snapshot = tierup.ClusterSnapshot

// Snapshot returns the account's state without changing it.
func (c *Cluster) Snapshot(ctx context.Context, accountID string) (*Snapshot, error) {
	st, err := c.peek(ctx, accountID)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Workloads: st.Workloads, Nodes: []tierup.Node{}, Features: st.Features}
	for _, n := range st.Nodes {
		if !n.Released {
			s.Nodes = append(s.Nodes, n.Node)
		}
	}
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sim: %w", ctx.Err())
	}
}
