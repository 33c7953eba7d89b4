package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		kind failure
		code string
	}{
		{&tierup.PaymentError{Code: "gateway_unavailable", Unavailable: true}, failUnreachable, "gateway_unavailable"},
		{&tierup.PaymentError{Code: "processing_error", Retryable: true}, failRetry, "processing_error"},
		{&tierup.PaymentError{Code: "idempotency_key_reused"}, failFatal, "idempotency_key_reused"},
		{&tierup.PaymentError{Code: "card_declined", DeclineCode: "insufficient_funds"}, failDeclined, "card_declined"},
		{fmt.Errorf("charging: %w", &tierup.PaymentError{Code: "expired_card"}), failDeclined, "expired_card"},
		{tierup.Errorf(tierup.CodeClusterUnreachable, "no API server"), failUnreachable, "cluster_unreachable"},
		{fmt.Errorf("wrapped: %w", tierup.ErrClusterUnreachable), failUnreachable, "cluster_unreachable"},
		{tierup.Errorf(tierup.CodeGatewayUnavailable, "down"), failUnreachable, "gateway_unavailable"},
		{tierup.Errorf(tierup.CodeQuoteInvalid, "bad signature"), failFatal, "quote_invalid"},
		{tierup.Errorf(tierup.CodeResourceShortage, "no capacity"), failRetry, "resource_shortage"},
		{tierup.Errorf(tierup.CodeMigrationFailed, "rolled back"), failRetry, "migration_failed"},
		{errors.New("connection reset"), failRetry, "step_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			kind, code, msg := classify(tt.err)
			if kind != tt.kind || code != tt.code {
				t.Errorf("classify = %v, %q, %q; want %v, %q", kind, code, msg, tt.kind, tt.code)
			}
		})
	}
}

// claimed is the rig's upgrade with its payment step claimed by the engine.
func claimed(t *testing.T, r *rig, prep func(u *tierup.Upgrade)) *tierup.Upgrade {
	t.Helper()
	return claimedBy(t, r, r.e.process, prep)
}

// claimedBy is the rig's upgrade with its payment step claimed by worker,
// no job queued.
func claimedBy(t *testing.T, r *rig, worker string, prep func(u *tierup.Upgrade)) *tierup.Upgrade {
	t.Helper()
	r.create(t)
	r.store.st.jobs = nil
	u := r.upgrade(t)
	if err := u.StartStep(tierup.StepPayment, worker, start); err != nil {
		t.Fatal(err)
	}
	if prep != nil {
		prep(u)
	}
	r.store.st.upgrades[u.ID] = cloneUpgrade(u)
	return u
}

// TestFinish records one outcome of the running payment step and checks
// the statuses, the events and the jobs it leaves.
func TestFinish(t *testing.T) {
	declined := &tierup.PaymentError{Code: "card_declined", DeclineCode: "insufficient_funds", Message: "Your card has insufficient funds."}
	retryable := &tierup.PaymentError{Code: "processing_error", Retryable: true, Message: "try again"}
	down := &tierup.PaymentError{Code: "gateway_unavailable", Unavailable: true, Message: "the gateway does not answer"}
	unknown := &tierup.PaymentError{Code: "timeout", Retryable: true, OutcomeUnknown: true, Message: "no answer in time"}
	paused := func(u *tierup.Upgrade) { u.Status, u.PausedReason = tierup.UpgradePaused, "down" }
	canceling := func(u *tierup.Upgrade) { u.CancelRequestedAt = &start }
	attempts := func(n int) func(u *tierup.Upgrade) {
		return func(u *tierup.Upgrade) { u.Step(tierup.StepPayment).Attempts = n }
	}
	charged := func(_ context.Context, _ tierup.Store, u *tierup.Upgrade) error { return u.PaymentCharged("ch_1") }
	tests := []struct {
		name       string
		prep       func(u *tierup.Upgrade)
		res        result
		status     tierup.UpgradeStatus
		step       tierup.StepStatus
		actions    []tierup.Action
		job        tierup.StepName // "" for none
		jobIn      time.Duration
		mailToTeam bool
	}{
		{name: "success starts the next step", res: result{msg: "charged", apply: charged},
			status: tierup.UpgradeProcessing, step: tierup.StepSucceeded, actions: []tierup.Action{tierup.ActionStepSucceeded}, job: tierup.StepActivatePlan},
		{name: "partial success runs again", res: result{more: true, msg: "one of two"},
			status: tierup.UpgradeProcessing, step: tierup.StepRunning, actions: []tierup.Action{tierup.ActionStepProgress}, job: tierup.StepPayment},
		{name: "success after a pause resumes", prep: paused, res: result{msg: "charged", apply: charged},
			status: tierup.UpgradeProcessing, step: tierup.StepSucceeded, actions: []tierup.Action{tierup.ActionResumed, tierup.ActionStepSucceeded}, job: tierup.StepActivatePlan},
		{name: "an unreachable gateway pauses", res: result{err: down},
			status: tierup.UpgradePaused, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionPaused}, job: tierup.StepPayment, jobIn: 2 * time.Second},
		{name: "a probe that finds it still down is quiet", prep: paused, res: result{err: down},
			status: tierup.UpgradePaused, step: tierup.StepRetrying, job: tierup.StepPayment, jobIn: 2 * time.Second},
		{name: "a decline waits for a card", res: result{err: declined},
			status: tierup.UpgradePaymentFailed, step: tierup.StepFailed, actions: []tierup.Action{tierup.ActionPaymentFailed}},
		{name: "a transient error retries later", prep: attempts(1), res: result{err: retryable},
			status: tierup.UpgradeProcessing, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionStepRetryScheduled}, job: tierup.StepPayment, jobIn: time.Second},
		{name: "retries exhausted go to support", prep: attempts(3), res: result{err: retryable},
			status: tierup.UpgradeNeedsSupport, step: tierup.StepFailed, actions: []tierup.Action{tierup.ActionNeedsSupport}, mailToTeam: true},
		{name: "an unknown outcome retries like any transient error", prep: attempts(1), res: result{err: unknown},
			status: tierup.UpgradeProcessing, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionStepRetryScheduled}, job: tierup.StepPayment, jobIn: time.Second},
		{name: "an unknown outcome is never given up: retries exhausted, it pauses and asks again", prep: attempts(3), res: result{err: unknown},
			status: tierup.UpgradePaused, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionPaused}, job: tierup.StepPayment, jobIn: 2 * time.Second},
		{name: "a cancel waits for an unknown outcome", prep: func(u *tierup.Upgrade) { canceling(u); attempts(3)(u) }, res: result{err: unknown},
			status: tierup.UpgradePaused, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionPaused}, job: tierup.StepPayment, jobIn: 2 * time.Second},
		{name: "a reused idempotency key goes to support", res: result{err: &tierup.PaymentError{Code: "idempotency_key_reused"}},
			status: tierup.UpgradeNeedsSupport, step: tierup.StepFailed, actions: []tierup.Action{tierup.ActionNeedsSupport}, mailToTeam: true},
		{name: "a cancel concludes a success and compensates", prep: canceling, res: result{msg: "charged", apply: charged},
			status: tierup.UpgradeProcessing, step: tierup.StepSucceeded, actions: []tierup.Action{tierup.ActionStepConcludedForCancel}, job: stepCompensate},
		{name: "a cancel lets a transient error retry first", prep: func(u *tierup.Upgrade) { canceling(u); attempts(1)(u) }, res: result{err: retryable},
			status: tierup.UpgradeProcessing, step: tierup.StepRetrying, actions: []tierup.Action{tierup.ActionStepRetryScheduled}, job: tierup.StepPayment, jobIn: time.Second},
		{name: "a cancel concludes a decline", prep: canceling, res: result{err: declined},
			status: tierup.UpgradeProcessing, step: tierup.StepFailed, actions: []tierup.Action{tierup.ActionStepConcludedForCancel}, job: stepCompensate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			u := claimed(t, r, tt.prep)
			r.store.st.events = nil
			var after func()
			err := r.store.InTx(context.Background(), func(tx tierup.Store) error {
				var err error
				after, err = r.e.finish(context.Background(), tx, u, tierup.StepPayment, tt.res, &observed{})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			got := r.upgrade(t)
			if got.Status != tt.status || got.Step(tierup.StepPayment).Status != tt.step {
				t.Errorf("upgrade %s, payment step %s; want %s, %s", got.Status, got.Step(tierup.StepPayment).Status, tt.status, tt.step)
			}
			if !slices.Equal(r.actions(), tt.actions) {
				t.Errorf("events %v, want %v", r.actions(), tt.actions)
			}
			jobs := r.store.st.jobs
			switch {
			case tt.job == "" && len(jobs) > 0:
				t.Errorf("jobs %+v, want none", jobs)
			case tt.job != "" && (len(jobs) != 1 || jobs[0].job.Step != tt.job):
				t.Errorf("jobs %+v, want one for %s", jobs, tt.job)
			case tt.job != "" && tt.jobIn > 0 && (jobs[0].at.Before(start.Add(tt.jobIn/2)) || jobs[0].at.After(start.Add(tt.jobIn))):
				t.Errorf("job at %s, want within %s of %s", jobs[0].at, tt.jobIn, start) // backoff has jitter on its upper half
			}
			if (after != nil) != tt.mailToTeam {
				t.Fatalf("support email: %v, want %v", after != nil, tt.mailToTeam)
			}
			if after != nil {
				after()
				if len(r.mailer.sent) != 1 || r.mailer.sent[0].To != "support@tierup.dev" || len(r.store.st.tickets) != 1 || got.SupportTicket != r.store.st.tickets[0].ID {
					t.Errorf("support: mails %+v, tickets %+v", r.mailer.sent, r.store.st.tickets)
				}
			}
		})
	}
}

// TestFinishFailsAtomically: a failing write leaves the upgrade, its
// events and its jobs as they were.
func TestFinishFailsAtomically(t *testing.T) {
	r := newRig(t)
	u := claimed(t, r, nil)
	before := len(r.store.st.events)
	boom := errors.New("disk full")
	err := r.store.InTx(context.Background(), func(tx tierup.Store) error {
		_, err := r.e.finish(context.Background(), tx, u, tierup.StepPayment, result{msg: "x", apply: func(context.Context, tierup.Store, *tierup.Upgrade) error { return boom }}, &observed{})
		return err
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := r.upgrade(t); got.Step(tierup.StepPayment).Status != tierup.StepRunning || len(r.store.st.events) != before || len(r.store.st.jobs) != 0 {
		t.Errorf("a failed finish left changes: step %s, %d events, jobs %+v", got.Step(tierup.StepPayment).Status, len(r.store.st.events), r.store.st.jobs)
	}
}

// TestWholeUpgrade runs every job of an upgrade on the fakes: one charge,
// each workload moved once, completed.
func TestWholeUpgrade(t *testing.T) {
	r := newRig(t)
	r.create(t)
	r.cluster.provisionErrs = map[int][]error{0: {tierup.Errorf(tierup.CodeResourceShortage, "no capacity")}}
	r.drain(t, 50)
	u := r.upgrade(t)
	if u.Status != tierup.UpgradeCompleted || u.Progress != 100 || u.Payment.Status != tierup.PaymentSucceeded {
		t.Fatalf("upgrade %s at %d%%, payment %s", u.Status, u.Progress, u.Payment.Status)
	}
	if !slices.Equal(r.gateway.charges, []string{"upg_1:payment:1"}) {
		t.Errorf("charges %v", r.gateway.charges)
	}
	if !slices.Equal(r.gateway.chargedCustomers, []string{"cus_1"}) {
		t.Errorf("charged on behalf of %q, want the card's customer cus_1", r.gateway.chargedCustomers)
	}
	want := []string{"provision upg_1:node", "provision upg_1:node", "migrate web to 1 nodes", "migrate nightly to 1 nodes", "features pro-1m"}
	if !slices.Equal(r.cluster.calls, want) {
		t.Errorf("cluster calls %v, want %v", r.cluster.calls, want)
	}
	if a := r.store.st.accounts["acct_1"]; a.Subscription.PlanID != "pro-1m" || a.EntitlementsPlan != "pro-1m" {
		t.Errorf("account %+v", a)
	}
	if len(r.store.st.completed) == 0 {
		t.Error("no job was completed in its transaction")
	}
	for _, st := range u.Steps {
		if !st.Status.Done() {
			t.Errorf("step %s is %s", st.Name, st.Status)
		}
	}
}

// TestCompensate cancels a completed-looking upgrade midway: the refund,
// each moved workload, then the rest, one job each.
func TestCompensate(t *testing.T) {
	r := newRig(t)
	r.create(t)
	r.gateway.refundErrs = []error{&tierup.PaymentError{Code: "processing_error", Retryable: true, Message: "try again"}}
	// Run up to the migration, then cancel while enable_features waits.
	for r.upgrade(t).CurrentStep != tierup.StepEnableFeatures {
		r.runOne(t)
	}
	if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
		t.Fatal(err)
	}
	r.drain(t, 30)
	u := r.upgrade(t)
	if u.Status != tierup.UpgradeCanceled || u.Payment.Status != tierup.PaymentRefunded {
		t.Fatalf("upgrade %s, payment %s", u.Status, u.Payment.Status)
	}
	if !slices.Equal(r.gateway.refunds, []string{"upg_1:refund", "upg_1:refund"}) {
		t.Errorf("refunds %v: the retry must reuse the key", r.gateway.refunds)
	}
	calls := r.cluster.calls[slices.Index(r.cluster.calls, "migrate nightly to 1 nodes")+1:]
	want := []string{"return web", "return nightly", "release upg_1:node"}
	if !slices.Equal(calls, want) {
		t.Errorf("compensation calls %v, want %v", calls, want)
	}
	for _, w := range u.Workloads {
		if w.State != tierup.WorkloadReturned {
			t.Errorf("%s is %s", w.Name, w.State)
		}
	}
	if a := r.store.st.accounts["acct_1"]; a.Subscription.PlanID != "hobby" || a.EntitlementsPlan != "hobby" {
		t.Errorf("account %+v: the previous plan is not back", a)
	}
	acts := r.actions()
	for _, a := range []tierup.Action{tierup.ActionCancelRequested, tierup.ActionCancelRetryScheduled, tierup.ActionCancelProgress, tierup.ActionCanceled} {
		if !slices.Contains(acts, a) {
			t.Errorf("no %s event in %v", a, acts)
		}
	}
	if _, err := r.e.Cancel(context.Background(), "upg_1", "admin"); err != nil {
		t.Errorf("canceling again: %v", err)
	}
}

// TestActionsRefuse: admin and user actions from the wrong state change
// nothing and say why.
func TestActionsRefuse(t *testing.T) {
	r := newRig(t)
	r.create(t)
	r.drain(t, 50)
	ctx := context.Background()
	pm := &tierup.PaymentMethod{ID: "pm_2", Brand: "visa", Last4: "1111"}
	for name, call := range map[string]func() error{
		"retry":         func() error { _, err := r.e.Retry(ctx, "upg_1", "admin"); return err },
		"cancel":        func() error { _, err := r.e.Cancel(ctx, "upg_1", "admin"); return err },
		"retry payment": func() error { _, err := r.e.RetryPayment(ctx, "upg_1", pm, "acct_1"); return err },
	} {
		before := r.upgrade(t)
		var te *tierup.TransitionError
		if err := call(); !errors.As(err, &te) || tierup.ErrorCode(err) != tierup.CodeInvalidState {
			t.Errorf("%s of a completed upgrade: %v", name, err)
		}
		if after := r.upgrade(t); after.Version != before.Version {
			t.Errorf("%s changed the upgrade", name)
		}
	}
}

// TestResumeWhat states the orphan and stall rules for the candidates the
// store found dead or stalled by the database's clock.
func TestResumeWhat(t *testing.T) {
	r := newRig(t)
	u0 := r.create(t)
	mk := func(f func(u *tierup.Upgrade)) *tierup.Upgrade {
		u := cloneUpgrade(u0)
		f(u)
		return u
	}
	running := func(worker string) func(u *tierup.Upgrade) {
		return func(u *tierup.Upgrade) { _ = u.StartStep(tierup.StepPayment, worker, start) }
	}
	tests := []struct {
		name string
		u    *tierup.Upgrade
		what tierup.StepName
		ok   bool
	}{
		{"a step of a dead process is resumed", mk(running("proc_dead")), tierup.StepPayment, true},
		{"a step of this process is not, whatever the store saw", mk(running(r.e.process)), "", false},
		{"a stalled upgrade is resumed", u0, tierup.StepPayment, true},
		{"a stalled retry is resumed", mk(func(u *tierup.Upgrade) { u.Step(tierup.StepPayment).Status = tierup.StepRetrying }), tierup.StepPayment, true},
		{"one waiting for a card is not", mk(func(u *tierup.Upgrade) { u.Status = tierup.UpgradePaymentFailed }), "", false},
		{"one waiting for support is not", mk(func(u *tierup.Upgrade) { u.Status = tierup.UpgradeNeedsSupport }), "", false},
		{"a stalled compensation is resumed", mk(func(u *tierup.Upgrade) {
			u.Status, u.CancelRequestedAt = tierup.UpgradeNeedsSupport, &start
		}), stepCompensate, true},
		{"a retry due when a cancel came concludes first", mk(func(u *tierup.Upgrade) {
			u.CancelRequestedAt = &start
			u.Step(tierup.StepPayment).Status = tierup.StepRetrying
		}), tierup.StepPayment, true},
		{"a finished upgrade is never resumed", mk(func(u *tierup.Upgrade) { u.Status = tierup.UpgradeCompleted }), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			what, ok := r.e.resumeWhat(tt.u)
			if what != tt.what || ok != tt.ok {
				t.Errorf("resumeWhat = %q, %v; want %q, %v", what, ok, tt.what, tt.ok)
			}
		})
	}
}

// TestResumeOrphans schedules a dead process's step again, once, and
// leaves an upgrade that moved since the store listed it.
func TestResumeOrphans(t *testing.T) {
	r := newRig(t)
	u := claimedBy(t, r, "proc_dead", nil)
	moved := cloneUpgrade(u)
	moved.Version-- // as read before its last change
	moved.ID = "upg_moved"
	r.store.st.upgrades[moved.ID] = cloneUpgrade(u)
	r.store.st.upgrades[moved.ID].ID = moved.ID
	r.store.candidates = []*tierup.Upgrade{u, moved}
	if err := r.e.resumeOrphans(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs := r.store.st.jobs
	if len(jobs) != 1 || jobs[0].job.UpgradeID != "upg_1" || jobs[0].job.Step != tierup.StepPayment || jobs[0].job.Run != u.Step(tierup.StepPayment).Run+1 {
		t.Fatalf("jobs %+v", jobs)
	}
	if acts := r.actions(); acts[len(acts)-1] != tierup.ActionResumedAfterCrash {
		t.Errorf("events %v", acts)
	}
	// The dead process's job is stale now; the new one takes the step over.
	if err := r.e.work(context.Background(), fakeDelivery{tierup.Job{UpgradeID: "upg_1", Step: tierup.StepPayment, Run: u.Step(tierup.StepPayment).Run}}); err != nil {
		t.Fatal(err)
	}
	if len(r.gateway.charges) != 0 {
		t.Errorf("a stale job charged: %v", r.gateway.charges)
	}
	r.runOne(t)
	if got := r.upgrade(t); got.Payment.Status != tierup.PaymentSucceeded || !slices.Contains(r.actions(), tierup.ActionStepTakenOver) {
		t.Errorf("payment %s, events %v", got.Payment.Status, r.actions())
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	_, err := New(Deps{}, Config{})
	if err == nil {
		t.Fatal("New with no dependencies succeeded")
	}
	for _, name := range []string{"Store", "Queue", "Gateway", "Cluster", "Mailer", "QuoteValid"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
