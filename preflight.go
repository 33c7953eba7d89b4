package tierup

import (
	"fmt"
	"strings"
)

// The pre-flight: before any money moves, tierup checks that the account's
// workloads can move to dedicated nodes at all, and refuses to charge for a
// move that cannot succeed.

// PreflightCode names one reason a move cannot succeed.
type PreflightCode string

// Pre-flight problem codes.
const (
	// PreflightZoneConflict: the workloads' volumes are pinned to zones no
	// one dedicated node can be in (two volumes in two zones).
	PreflightZoneConflict PreflightCode = "zone_conflict"
	// PreflightHostPath: a hostPath volume keeps the workload's data on
	// the shared node it runs on now.
	PreflightHostPath PreflightCode = "host_path"
	// PreflightNodeAffinity: a node selector or required node affinity
	// that tierup does not relax matches no dedicated node.
	PreflightNodeAffinity PreflightCode = "node_affinity"
	// PreflightTooLarge: a pod requests more than a dedicated node can
	// ever offer, so it would never schedule there.
	PreflightTooLarge PreflightCode = "exceeds_node"
)

// PreflightProblem is one reason the move cannot succeed, in words a person
// can act on.
type PreflightProblem struct {
	Workload string        `json:"workload" doc:"The workload, as Kind/name, e.g. StatefulSet/db."`
	Code     PreflightCode `json:"code" enum:"zone_conflict,host_path,node_affinity,exceeds_node"`
	Message  string        `json:"message" doc:"What is wrong and what to do about it."`
}

// Preflight is what the pre-flight found.
type Preflight struct {
	// OK: the cluster answered and nothing stands in the move's way.
	OK bool `json:"ok" doc:"The move can succeed: the cluster was checked and has no problem."`
	// Checked is false when the cluster did not answer: the upgrade may
	// start, and waits (paused) before charging until it answers.
	Checked bool `json:"checked" doc:"False when the cluster did not answer; it is checked again before the payment."`
	// Zone is the zone the dedicated nodes are asked for, because a
	// volume the workloads use is pinned there; empty when none is.
	Zone     string             `json:"zone,omitempty" doc:"The zone the dedicated nodes will be in, because a volume is pinned there."`
	Problems []PreflightProblem `json:"problems" doc:"Why the move cannot succeed; empty when it can."`
}

// PreflightPassed is the result of a pre-flight that found nothing in the
// way.
func PreflightPassed(zone string) *Preflight {
	return &Preflight{OK: true, Checked: true, Zone: zone, Problems: []PreflightProblem{}}
}

// PreflightFailed is the result of a pre-flight that found problems.
func PreflightFailed(problems []PreflightProblem) *Preflight {
	return &Preflight{Checked: true, Problems: problems}
}

// Err returns the *PreflightError of a pre-flight with problems, nil when
// the move can proceed (or the cluster was not checked).
func (p *Preflight) Err() error {
	if p == nil || len(p.Problems) == 0 {
		return nil
	}
	return &PreflightError{Problems: p.Problems}
}

// PreflightError refuses an upgrade whose move cannot succeed: nothing is
// charged. It matches ErrMigrationNotPossible with errors.Is.
type PreflightError struct {
	Problems []PreflightProblem
}

func (e *PreflightError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	what := "a problem stands"
	if len(e.Problems) > 1 {
		what = fmt.Sprintf("%d problems stand", len(e.Problems))
	}
	return fmt.Sprintf("your workloads cannot move to dedicated nodes: %s in the way, so nothing was charged. %s", what, strings.Join(msgs, " "))
}

// Unwrap makes the error a CodeMigrationNotPossible domain error.
func (e *PreflightError) Unwrap() error {
	return &Error{Code: CodeMigrationNotPossible, Message: e.Error()}
}
