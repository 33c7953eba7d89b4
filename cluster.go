package tierup

import (
	"context"
	"strconv"
)

// Node is a dedicated node made for one account.
type Node struct {
	Name      string `json:"name"`
	AccountID string `json:"account"`
	Pool      string `json:"pool" enum:"dedicated"`
	Ready     bool   `json:"ready"`
}

// Workload is something of the account's that runs on the cluster.
type Workload struct {
	Kind     string `json:"kind" enum:"Deployment,StatefulSet,CronJob,Function"`
	Name     string `json:"name"`
	Replicas int    `json:"replicas" doc:"Desired replicas (1 for CronJobs and Functions)."`
	Node     string `json:"node" doc:"Where it runs now: \"shared\" or the (first) dedicated node's name."`
	// Nodes are the dedicated nodes its replicas run on, by name; empty on
	// the shared pool and for a CronJob between runs.
	Nodes []string `json:"nodes,omitempty" doc:"The dedicated nodes its replicas run on, by name; absent on the shared pool."`
}

// MigrationReport says how one workload moved.
type MigrationReport struct {
	Workload     Workload `json:"workload"`
	MinAvailable int      `json:"min_available" doc:"The fewest available replicas seen during the move."`
	Notes        []string `json:"notes,omitempty"`
}

// PlannedMove is one step of a migration plan: a workload that will move to
// the dedicated nodes and what will be changed on it. The migration's report
// for that workload lists the same changes in its notes.
type PlannedMove struct {
	Workload Workload `json:"workload"`
	Changes  []string `json:"changes" doc:"What will be changed on the workload, in words."`
	// Nodes are the account's dedicated nodes its replicas will be spread
	// over, once they exist.
	Nodes []string `json:"nodes,omitempty" doc:"The account's dedicated nodes its replicas will be spread over; absent before they are provisioned."`
	// Interruption, when set, says why and for how long the workload will
	// be unavailable during its move; empty means it keeps serving.
	Interruption string `json:"interruption,omitempty" doc:"Why and for about how long the workload will be unavailable while it moves; absent when it keeps serving throughout."`
}

// NodeRequest asks for one of an upgrade's dedicated nodes. Key is derived
// from the upgrade and Index numbers its nodes from 0, so that a retried or
// resumed request finds the node it made before instead of making another.
type NodeRequest struct {
	Key       string
	Index     int
	AccountID string
	Plan      *Plan
	// Zone, when set, is the topology.kubernetes.io/zone the node must be
	// in: a volume of the account's is pinned there (Preflight.Zone).
	Zone string
}

// NodeKey identifies the one node asked for: the upgrade's key and the
// index. The first node's is the key alone, the one a single node always
// had, so that an upgrade begun before there were several finds its node.
func (r NodeRequest) NodeKey() string {
	if r.Index == 0 {
		return r.Key
	}
	return r.Key + "#" + strconv.Itoa(r.Index)
}

// NameSuffix ends the name an adapter derives from Key: "" for the first
// node (as NodeKey), "-1", "-2", … for the others.
func (r NodeRequest) NameSuffix() string {
	if r.Index == 0 {
		return ""
	}
	return "-" + strconv.Itoa(r.Index)
}

// Cluster is the Kubernetes cluster the account's workloads run on.
//
// Every method returns ErrResourceShortage (code resource_shortage,
// retryable) when capacity is lacking and ErrClusterUnreachable (code
// cluster_unreachable: the upgrade pauses) when the cluster cannot be
// reached. Every method is idempotent.
type Cluster interface {
	// ProvisionNode makes one of the account's dedicated nodes, or returns
	// the one made earlier under the same key and index, once it is ready.
	// The workflow asks for each of a plan's nodes at once, in parallel.
	ProvisionNode(ctx context.Context, req NodeRequest) (*Node, error)
	// Workloads lists the account's workloads in migration order.
	Workloads(ctx context.Context, accountID string) ([]Workload, error)
	// PlanMigration lists, in migration order, the workloads that would move
	// to a dedicated node and the changes each would get. It changes
	// nothing.
	PlanMigration(ctx context.Context, accountID string) ([]PlannedMove, error)
	// MigrateWorkload moves one workload onto the account's dedicated
	// nodes, its replicas spread over them, with no loss of availability:
	// new replicas are ready before old ones stop. On failure the workload
	// is rolled back to where it was.
	MigrateWorkload(ctx context.Context, accountID string, w Workload, nodes []Node) (*MigrationReport, error)
	// ReturnWorkload moves a workload back to the shared pool (compensation).
	ReturnWorkload(ctx context.Context, accountID string, w Workload) error
	// EnableFeatures applies the plan's entitlements in the cluster
	// (quotas, backups, AIOps labels).
	EnableFeatures(ctx context.Context, accountID string, plan *Plan) error
	// ReleaseNode removes what ProvisionNode made under req's key and
	// index, ready or not (compensation). It refuses while the account's workloads still run
	// there.
	ReleaseNode(ctx context.Context, req NodeRequest) error
	// Preflight checks, changing nothing, that the account's workloads can
	// move to the plan's dedicated nodes (plan may be nil: any plan's), and
	// says which zone those must be in. Problems are in the result, not the error: the error is
	// ErrClusterUnreachable (or another failure to look).
	Preflight(ctx context.Context, accountID string, plan *Plan) (*Preflight, error)
}

// ClusterWarnings is implemented by a cluster that can say what an
// upgrade on it cannot do (the Kubernetes cluster before 1.36 cannot keep
// workloads deployed after the move on the dedicated node). It is apart
// from Cluster so that a cluster without such limits need not implement it.
type ClusterWarnings interface {
	// Warnings says, in words, what the cluster cannot do; none when it
	// can do everything. Errors: ErrClusterUnreachable.
	Warnings(ctx context.Context) ([]string, error)
}

// Email is one message to a person.
type Email struct {
	To      string
	Subject string
	Text    string
}

// Mailer sends email.
type Mailer interface {
	Send(ctx context.Context, m Email) error
}
