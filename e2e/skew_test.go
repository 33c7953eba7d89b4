package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
)

// skewedClock is a host whose clock is off by a fixed amount.
type skewedClock time.Duration

func (c skewedClock) Now() time.Time { return time.Now().UTC().Add(time.Duration(c)) }

// TestClockSkewTakesNothingOver runs two processes on one PostgreSQL, one
// with its clock 30 s ahead (beyond the 30 s after which a lost job counts
// as stalled), while steps take a while: heartbeats, staleness and job
// delays are judged by the database's and the queue's clocks, so neither
// process resumes a step whose owner is alive, no job waits for the skew,
// and every step runs once.
func TestClockSkewTakesNothingOver(t *testing.T) {
	dsn := dbtest.Postgres(t)
	// One worker each: a step due at once runs in the worker of the step
	// before it, so the processes share upgrades, and an upgrade started
	// while one process is busy is the other's.
	slow := func(o *stack.Options) {
		o.Sim = sim.Config{ProvisionDelay: 1500 * time.Millisecond, MigrateDelay: 400 * time.Millisecond}
		o.Queue.Workers = 1
	}
	ahead := func(o *stack.Options) { o.Clock = skewedClock(30 * time.Second) }
	procs := []*harness{start(t, dsn, slow), start(t, dsn, slow, ahead)}

	type run struct{ token, id string }
	var runs []run
	for i := range 6 {
		h := procs[i%2]
		_, token := hobby(h, fmt.Sprintf("skew%d@example.com", i))
		runs = append(runs, run{token, h.upgrade(token, "pro-1m", h.card(token, "4242 4242 4242 4242"))})
	}
	workers := map[string]bool{}
	for _, r := range runs {
		u := procs[0].waitStatus(r.token, r.id, "completed")
		for _, s := range u.List("steps") {
			if a := apitest.Dig(s, "attempts"); a != 1.0 {
				t.Errorf("upgrade %s: step %v ran %v times", r.id, apitest.Dig(s, "name"), a)
			}
			w, _ := apitest.Dig(s, "worker").(string)
			workers[w] = true
		}
		// A continuation of the migration may run in either process
		// (step_taken_over); resuming an orphan must never happen.
		if acts := procs[0].actions(r.token, r.id); count(acts, string(tierup.ActionResumedAfterCrash)) > 0 {
			t.Errorf("upgrade %s was resumed as an orphan with both processes alive: %v", r.id, acts)
		}
	}
	if len(workers) != 2 {
		t.Errorf("steps ran in %d processes, want both: %v", len(workers), workers)
	}
	if c, _, _ := procs[0].charges(); c != len(runs) {
		t.Errorf("%d charges for %d upgrades", c, len(runs))
	}
}
