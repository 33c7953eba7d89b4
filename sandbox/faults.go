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
	"errors"
	"fmt"
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
)

// FaultKinds lists every kind, for validation and documentation.
func FaultKinds() []string {
	return []string{FaultResourceShortage, FaultClusterUnreachable, FaultGatewayUnreachable, FaultGatewayTimeout, FaultMigrationFailure,
		FaultMigrationBlocked}
}

const faultScope = "sandbox:fault"

// Fault is one injected fault.
type Fault = tierup.Fault

var _ tierup.FaultInjector = (*Faults)(nil)

// Kinds implements tierup.FaultInjector.
func (f *Faults) Kinds() []string { return FaultKinds() }

// Faults reads and changes the injected faults.
type Faults struct {
	Store tierup.Store
	Clock tierup.Clock
}

// Inject sets a fault: count-based kinds take count, time-based kinds take
// a duration. It replaces an earlier fault of the same kind.
func (f *Faults) Inject(ctx context.Context, kind string, count int, d time.Duration) (*Fault, error) {
	flt := &Fault{Kind: kind}
	switch kind {
	case FaultResourceShortage, FaultGatewayTimeout, FaultMigrationFailure:
		if count < 1 {
			return nil, tierup.Invalid(tierup.FieldError{Location: "body.count", Message: kind + " needs a count of at least 1"})
		}
		flt.Remaining = count
	case FaultClusterUnreachable, FaultGatewayUnreachable, FaultMigrationBlocked:
		if d <= 0 {
			return nil, tierup.Invalid(tierup.FieldError{Location: "body.seconds", Message: kind + " needs seconds of at least 1"})
		}
		until := f.Clock.Now().Add(d).UTC()
		flt.Until = &until
	default:
		return nil, tierup.Invalid(tierup.FieldError{Location: "body.kind", Message: fmt.Sprintf("unknown fault %q; one of %v", kind, FaultKinds())})
	}
	return flt, f.put(ctx, flt)
}

// Clear removes a fault (the connection is back, the capacity is there).
func (f *Faults) Clear(ctx context.Context, kind string) error {
	return f.put(ctx, &Fault{Kind: kind})
}

// List returns the faults in force.
func (f *Faults) List(ctx context.Context) ([]Fault, error) {
	recs, err := f.Store.Records(ctx, faultScope)
	if err != nil {
		return nil, err
	}
	now := f.Clock.Now()
	out := []Fault{}
	for _, r := range recs {
		var flt Fault
		if json.Unmarshal(r.Value, &flt) == nil && faultActive(&flt, now) {
			out = append(out, flt)
		}
	}
	return out, nil
}

func faultActive(flt *Fault, now time.Time) bool {
	return flt.Remaining > 0 || (flt.Until != nil && now.Before(*flt.Until))
}

// Active reports whether a time-based fault is in force now.
func (f *Faults) Active(ctx context.Context, kind string) (bool, error) {
	flt, err := tierup.GetRecord[Fault](ctx, f.Store, faultScope, kind)
	if errors.Is(err, tierup.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return flt.Until != nil && f.Clock.Now().Before(*flt.Until), nil
}

// Consume uses up one call of a count-based fault and reports whether the
// caller must fail. Errors: tierup.UpdateRecord's.
func (f *Faults) Consume(ctx context.Context, kind string) (bool, error) {
	var fail bool
	_, err := tierup.UpdateRecord(ctx, f.Store, faultScope, kind, func(flt *Fault, _ bool) error {
		fail = flt.Remaining > 0
		if fail {
			flt.Remaining--
		}
		return nil
	})
	return fail && err == nil, err
}

func (f *Faults) put(ctx context.Context, flt *Fault) error {
	_, err := tierup.UpdateRecord(ctx, f.Store, faultScope, flt.Kind, func(v *Fault, _ bool) error {
		*v = *flt
		return nil
	})
	return err
}
