package app

import (
	"context"
	"fmt"
)

// Schema tells whether the database's schema is current (*sqlstore.DB).
type Schema interface {
	// SchemaVersion returns the database's migration version and the
	// newest migration the binary knows.
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
}

// Worker tells whether the workflow works jobs (*workflow.Engine).
type Worker interface {
	Running() bool
}

// Readiness checks, in the order they are reported.
const (
	CheckDatabase   = "database"
	CheckMigrations = "migrations"
	CheckQueue      = "queue"
)

// CheckOK is a passing check's value in Readiness.Checks.
const CheckOK = "ok"

// Readiness is whether the process should get traffic, and each check's
// result: "ok" or why it failed.
type Readiness struct {
	Ready  bool
	Checks map[string]string
}

// Drain marks the process as shutting down: readiness fails from now on,
// so that a load balancer stops sending requests while the ones in flight
// finish. It cannot be undone; a drained process exits.
func (a *App) Drain() { a.draining.Store(true) }

// Readiness runs the readiness checks: the database answers, its schema is
// at the newest migration (an older one means this binary would query
// columns that are missing; a newer one, that a newer binary migrated and
// this one is stale), and the workflow works jobs and is not draining.
func (a *App) Readiness(ctx context.Context) Readiness {
	r := Readiness{Ready: true, Checks: map[string]string{}}
	set := func(name, failure string) {
		if failure == "" {
			r.Checks[name] = CheckOK
			return
		}
		r.Checks[name], r.Ready = failure, false
	}
	dbUp := a.Ping(ctx) == nil
	if dbUp {
		set(CheckDatabase, "")
	} else {
		set(CheckDatabase, "the database is unreachable")
	}
	switch {
	case a.deps.Schema == nil:
		set(CheckMigrations, "not wired")
	case !dbUp:
		set(CheckMigrations, "unknown: the database is unreachable")
	default:
		cur, latest, err := a.deps.Schema.SchemaVersion(ctx)
		switch {
		case err != nil:
			a.log.WarnContext(ctx, "readiness: schema version", "err", err)
			set(CheckMigrations, "the schema version cannot be read")
		case cur != latest:
			set(CheckMigrations, fmt.Sprintf("the schema is at migration %d, this binary needs %d", cur, latest))
		default:
			set(CheckMigrations, "")
		}
	}
	switch {
	case a.draining.Load():
		set(CheckQueue, "draining: the process is shutting down")
	case a.deps.Worker == nil || !a.deps.Worker.Running():
		set(CheckQueue, "the workflow engine is not running")
	default:
		set(CheckQueue, "")
	}
	return r
}
