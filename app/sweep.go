package app

import (
	"context"
	"time"

	"github.com/tierup/tierup"
)

// Sweep deletes, by the clock's now, the sessions, login links and
// idempotency keys expired longer than Config.Retention.Expired and the
// webhook event IDs older than Config.Retention.WebhookEvents, and counts
// them. Upgrades, their audit events, quotes, receipts and the credit
// ledger are never swept.
func (a *App) Sweep(ctx context.Context) (tierup.Swept, error) {
	s, err := a.store.DeleteExpired(ctx, a.clock.Now().UTC(), a.cfg.Retention)
	if s.Sessions > 0 {
		a.creds.forget() // expired, but a test clock may go back
	}
	return s, err
}

// RunSweeper sweeps at once and then every Config.SweepEvery (1 minute by
// default), logging what each sweep removed; a failed sweep is logged and
// the next one tries again. It returns when ctx is done.
func (a *App) RunSweeper(ctx context.Context) {
	t := time.NewTicker(a.cfg.SweepEvery)
	defer t.Stop()
	for {
		s, err := a.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			a.log.WarnContext(ctx, "sweep failed", "err", err)
		case s != tierup.Swept{}:
			a.log.InfoContext(ctx, "swept expired rows", "sessions", s.Sessions, "login_links", s.LoginLinks, "idempotency_keys", s.IdempotencyKeys,
				"webhook_events", s.WebhookEvents)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
