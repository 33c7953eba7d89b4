package workflow

import (
	"context"
	"testing"

	"github.com/tierup/tierup"
)

// TestReportsAWholeUpgrade: each committed step outcome is reported once,
// the start and the end once.
func TestReportsAWholeUpgrade(t *testing.T) {
	r := newRig(t)
	r.create(t)
	r.cluster.provisionErrs = map[int][]error{0: {tierup.Errorf(tierup.CodeResourceShortage, "no capacity")}}
	r.drain(t, 50)
	seen := r.metrics.seen
	for _, want := range []string{"started", "step payment succeeded", "payment succeeded ", "step activate_plan succeeded",
		"step provision_node retry", "step provision_node succeeded", "step migrate_workloads succeeded",
		"step enable_features succeeded", "step notify succeeded", "finished completed"} {
		if n := count(seen, want); n != 1 {
			t.Errorf("%q reported %d times, want once; all: %q", want, n, seen)
		}
	}
	if seen[0] != "started" || seen[len(seen)-1] != "finished completed" {
		t.Errorf("reported %q: want the start first and the end last", seen)
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}

// TestFinishObserves: what finish collects for each kind of outcome.
func TestFinishObserves(t *testing.T) {
	down := &tierup.PaymentError{Code: "gateway_unavailable", Unavailable: true, Message: "down"}
	retryable := &tierup.PaymentError{Code: "processing_error", Retryable: true, Message: "try again"}
	tests := []struct {
		name string
		prep func(u *tierup.Upgrade)
		res  result
		want observed
	}{
		{name: "a decline", res: result{err: &tierup.PaymentError{Code: "card_declined", DeclineCode: "insufficient_funds"}},
			want: observed{outcome: "declined", payment: "declined", decline: "insufficient_funds"}},
		{name: "a first pause", res: result{err: down},
			want: observed{outcome: "paused", payment: "error", pausedBy: "gateway_unavailable"}},
		{name: "a probe still down is no new pause", prep: func(u *tierup.Upgrade) { u.Status, u.PausedReason = tierup.UpgradePaused, "down" },
			res: result{err: down}, want: observed{outcome: "paused", payment: "error"}},
		{name: "exhausted retries", prep: func(u *tierup.Upgrade) { u.Step(tierup.StepPayment).Attempts = 3 }, res: result{err: retryable},
			want: observed{outcome: "needs_support", payment: "error", support: true}},
		{name: "a cancel", prep: func(u *tierup.Upgrade) { u.CancelRequestedAt = &start },
			res: result{msg: "charged"}, want: observed{outcome: "canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			u := claimed(t, r, tt.prep)
			var ob observed
			if err := r.store.InTx(context.Background(), func(tx tierup.Store) error {
				_, err := r.e.finish(context.Background(), tx, u, tierup.StepPayment, tt.res, &ob)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if ob != tt.want {
				t.Errorf("observed %+v, want %+v", ob, tt.want)
			}
		})
	}
}

// TestNoMetricsByDefault: Metrics is optional.
func TestNoMetricsByDefault(t *testing.T) {
	r := newRig(t)
	d := r.e.Deps
	d.Metrics = nil
	e, err := New(d, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Metrics.(tierup.NoMetrics); !ok {
		t.Errorf("Metrics %T, want tierup.NoMetrics", e.Metrics)
	}
}
