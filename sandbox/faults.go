// Package sandbox holds tierup's test-mode stand-ins that behave like the
// real thing: a payment gateway with Stripe's documented test cards and an
// idempotent ledger in the database, and injectable faults (resource
// shortage, unreachable cluster or gateway, lost responses) that the
// simulated cluster and the gateway obey. Their state lives in the store, so
// it survives restarts and is shared by every tierup process.
package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tierup/tierup"
)

// Fault kinds.
const (
	FaultResourceShortage   = "resource_shortage"   // the next Count node provisionings fail
	FaultClusterUnreachable = "cluster_unreachable" // the cluster answers nothing until Until
	FaultGatewayUnreachable = "gateway_unreachable" // the gateway answers nothing until Until
	FaultGatewayTimeout     = "gateway_timeout"     // the next Count charges go through but their answer is lost
	FaultMigrationFailure   = "migration_failure"   // the next Count workload moves fail and are rolled back
	FaultMigrationBlocked   = "migration_blocked"   // until Until, the pre-flight finds a workload that cannot move
	FaultGatewayFlaky       = "gateway_flaky"       // a share (Rate) of the gateway's payment calls fail in one of Modes
)

// FaultKinds lists every kind, for validation and documentation.
func FaultKinds() []string {
	return []string{FaultResourceShortage, FaultClusterUnreachable, FaultGatewayUnreachable, FaultGatewayTimeout, FaultMigrationFailure,
		FaultMigrationBlocked, FaultGatewayFlaky}
}

// How a call fails under gateway_flaky. To the caller all three look
// alike, an answer that did not come, as they do from a real gateway: only
// the gateway knows whether the money moved.
const (
	FlakyTimeout      = "timeout"       // the request was never carried out; the answer times out
	FlakyServerError  = "server_error"  // the gateway answered 500 without carrying it out
	FlakyLostResponse = "lost_response" // carried out (the money moved), but the answer was lost
)

// FlakyModes lists gateway_flaky's modes.
func FlakyModes() []string { return []string{FlakyTimeout, FlakyServerError, FlakyLostResponse} }

const faultScope = "sandbox:fault"

// Fault is one injected fault.
type Fault = tierup.Fault

var _ tierup.FaultInjector = (*Faults)(nil)

// Kinds implements tierup.FaultInjector.
func (f *Faults) Kinds() []string { return FaultKinds() }

// FaultRefresh is the stack's Faults.Refresh: what another process's
// fault takes at most to be in force here.
const FaultRefresh = time.Second

// Faults reads and changes the injected faults.
type Faults struct {
	Store tierup.Store
	Clock tierup.Clock
	// Refresh is how long one read of the faults answers this process's
	// calls. A fault injected, cleared or used up through this Faults is
	// in force for the next call at once; one changed by another process
	// (a second server on the same PostgreSQL) within Refresh. Zero reads
	// them on every call. It is timed by the monotonic clock, not Clock: a
	// frozen test clock must not freeze it.
	Refresh time.Duration

	mu sync.Mutex
	// gen counts this process's changes: a read that began before one is
	// not kept.
	gen    uint64
	kept   map[string]Fault // nil: read on the next call
	readAt time.Time
}

// Inject sets a fault (see tierup.FaultSpec). It replaces an earlier fault
// of the same kind.
func (f *Faults) Inject(ctx context.Context, spec tierup.FaultSpec) (*Fault, error) {
	flt := &Fault{Kind: spec.Kind}
	bad := func(loc, msg string) (*Fault, error) {
		return nil, tierup.Invalid(tierup.FieldError{Location: "body." + loc, Message: msg})
	}
	until := func() *time.Time { u := f.Clock.Now().Add(spec.Duration).UTC(); return &u }
	switch spec.Kind {
	case FaultResourceShortage, FaultGatewayTimeout, FaultMigrationFailure:
		if spec.Count < 1 {
			return bad("count", spec.Kind+" needs a count of at least 1")
		}
		flt.Remaining = spec.Count
	case FaultClusterUnreachable, FaultGatewayUnreachable, FaultMigrationBlocked:
		if spec.Duration <= 0 {
			return bad("seconds", spec.Kind+" needs seconds of at least 1")
		}
		flt.Until = until()
	case FaultGatewayFlaky:
		if !(spec.Rate > 0 && spec.Rate <= 1) {
			return bad("rate", "gateway_flaky needs a rate above 0 and at most 1, the share of calls that fail (0.2 for one in five)")
		}
		flt.Rate, flt.Modes = spec.Rate, FlakyModes()
		if len(spec.Modes) > 0 {
			flt.Modes = nil
			for _, m := range spec.Modes {
				if !slices.Contains(FlakyModes(), m) {
					return bad("modes", fmt.Sprintf("unknown mode %q; any of %v", m, FlakyModes()))
				}
				if !slices.Contains(flt.Modes, m) {
					flt.Modes = append(flt.Modes, m)
				}
			}
		}
		if spec.Duration > 0 {
			flt.Until = until()
		}
	default:
		return bad("kind", fmt.Sprintf("unknown fault %q; one of %v", spec.Kind, FaultKinds()))
	}
	return flt, f.put(ctx, flt)
}

// Clear removes a fault (the connection is back, the capacity is there).
func (f *Faults) Clear(ctx context.Context, kind string) error {
	return f.put(ctx, &Fault{Kind: kind})
}

// List returns the faults in force, by kind.
func (f *Faults) List(ctx context.Context) ([]Fault, error) {
	s, err := f.Now(ctx)
	if err != nil {
		return nil, err
	}
	out := []Fault{}
	for _, kind := range slices.Sorted(maps.Keys(s.faults)) {
		if flt := s.faults[kind]; faultActive(&flt, s.now) {
			out = append(out, flt)
		}
	}
	return out, nil
}

func faultActive(flt *Fault, now time.Time) bool {
	if flt.Rate > 0 {
		return flt.Until == nil || now.Before(*flt.Until)
	}
	return flt.Remaining > 0 || (flt.Until != nil && now.Before(*flt.Until))
}

// Snapshot is the faults as they stood at one read: a stand-in reads them
// once a call (Faults.Now) and asks it every question of that call,
// instead of one query a question.
type Snapshot struct {
	faults map[string]Fault
	now    time.Time
}

// Now returns the faults in one query, or as the last query younger than
// Refresh found them, at Clock's time now. Errors: the store's.
func (f *Faults) Now(ctx context.Context) (Snapshot, error) {
	f.mu.Lock()
	if f.kept != nil && time.Since(f.readAt) < f.Refresh {
		kept := f.kept
		f.mu.Unlock()
		return Snapshot{faults: kept, now: f.Clock.Now()}, nil
	}
	gen := f.gen
	f.mu.Unlock()
	start := time.Now()
	recs, err := f.Store.Records(ctx, faultScope)
	if err != nil {
		return Snapshot{}, err
	}
	// Shared by every snapshot made from this read, so never changed.
	faults := make(map[string]Fault, len(recs))
	for _, r := range recs {
		var flt Fault
		if json.Unmarshal(r.Value, &flt) == nil {
			faults[r.Key] = flt
		}
	}
	if f.Refresh > 0 {
		f.mu.Lock()
		if f.gen == gen {
			f.kept, f.readAt = faults, start
		}
		f.mu.Unlock()
	}
	return Snapshot{faults: faults, now: f.Clock.Now()}, nil
}

// changed forgets the faults read, after a change made through f.
func (f *Faults) changed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.kept = nil
}

// Active reports whether a time-based fault was in force.
func (s Snapshot) Active(kind string) bool {
	flt, ok := s.faults[kind]
	return ok && flt.Until != nil && s.now.Before(*flt.Until)
}

// Pending reports whether a count-based fault had calls left to fail:
// only then need the caller use one up (Faults.Consume).
func (s Snapshot) Pending(kind string) bool { return s.faults[kind].Remaining > 0 }

// Flake decides whether this call of the gateway fails under gateway_flaky,
// and how: "" when it goes through. Each call draws anew.
func (s Snapshot) Flake() string {
	flt, ok := s.faults[FaultGatewayFlaky]
	if !ok || !faultActive(&flt, s.now) || len(flt.Modes) == 0 || rand.Float64() >= flt.Rate {
		return ""
	}
	return flt.Modes[rand.IntN(len(flt.Modes))]
}

// Consume uses up one call of a count-based fault and reports whether the
// caller must fail. It writes only when the fault had calls left in the
// caller's snapshot (Pending). Errors: tierup.UpdateRecord's.
func (f *Faults) Consume(ctx context.Context, s Snapshot, kind string) (bool, error) {
	if !s.Pending(kind) {
		return false, nil
	}
	var fail bool
	_, err := tierup.UpdateRecord(ctx, f.Store, faultScope, kind, func(flt *Fault, _ bool) error {
		fail = flt.Remaining > 0
		if fail {
			flt.Remaining--
		}
		return nil
	})
	f.changed()
	return fail && err == nil, err
}

func (f *Faults) put(ctx context.Context, flt *Fault) error {
	_, err := tierup.UpdateRecord(ctx, f.Store, faultScope, flt.Kind, func(v *Fault, _ bool) error {
		*v = *flt
		return nil
	})
	f.changed()
	return err
}
