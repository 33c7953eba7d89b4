package tierup

import "context"

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
	Node     string `json:"node" doc:"Where it runs now: \"shared\" or the dedicated node's name."`
}

// MigrationReport says how one workload moved.
type MigrationReport struct {
	Workload     Workload `json:"workload"`
	MinAvailable int      `json:"min_available" doc:"The fewest available replicas seen during the move."`
	Notes        []string `json:"notes,omitempty"`
}

// PlannedMove is one step of a migration plan: a workload that will move to
// the dedicated node and what will be changed on it. The migration's report
// for that workload lists the same changes in its notes.
type PlannedMove struct {
	Workload Workload `json:"workload"`
	Changes  []string `json:"changes" doc:"What will be changed on the workload, in words."`
	// Interruption, when set, says why and for how long the workload will
	// be unavailable during its move; empty means it keeps serving.
	Interruption string `json:"interruption,omitempty" doc:"Why and for about how long the workload will be unavailable while it moves; absent when it keeps serving throughout."`
}

// NodeRequest asks for an account's dedicated node. Key is derived from the
// upgrade so that a retried or resumed request finds the node it made
// before instead of making a second one.
type NodeRequest struct {
	Key       string
	AccountID string
	Plan      *Plan
}

// Cluster is the Kubernetes cluster the account's workloads run on.
//
// Every method returns ErrResourceShortage (code resource_shortage,
// retryable) when capacity is lacking and ErrClusterUnreachable (code
// cluster_unreachable: the upgrade pauses) when the cluster cannot be
// reached. Every method is idempotent.
type Cluster interface {
	// ProvisionNode makes the account's dedicated node, or returns the one
	// made earlier under the same key, once it is ready.
	ProvisionNode(ctx context.Context, req NodeRequest) (*Node, error)
	// Workloads lists the account's workloads in migration order.
	Workloads(ctx context.Context, accountID string) ([]Workload, error)
	// PlanMigration lists, in migration order, the workloads that would move
	// to a dedicated node and the changes each would get. It changes
	// nothing.
	PlanMigration(ctx context.Context, accountID string) ([]PlannedMove, error)
	// MigrateWorkload moves one workload onto the node with no loss of
	// availability: new replicas are ready before old ones stop. On failure
	// the workload is rolled back to where it was.
	MigrateWorkload(ctx context.Context, accountID string, w Workload, node *Node) (*MigrationReport, error)
	// ReturnWorkload moves a workload back to the shared pool (compensation).
	ReturnWorkload(ctx context.Context, accountID string, w Workload) error
	// EnableFeatures applies the plan's entitlements in the cluster
	// (quotas, backups, AIOps labels).
	EnableFeatures(ctx context.Context, accountID string, plan *Plan) error
	// ReleaseNode removes what ProvisionNode made under req.Key, ready or
	// not (compensation). It refuses while the account's workloads still run
	// there.
	ReleaseNode(ctx context.Context, req NodeRequest) error
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
