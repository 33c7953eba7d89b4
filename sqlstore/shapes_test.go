package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// fixture makes accounts, each with a quote, for upgrades to reference.
type fixture struct {
	t  *testing.T
	db *sqlstore.DB
	at time.Time
}

// upgrade stores an upgrade of a new account (or of account, when given)
// changed by edit first.
func (f fixture) upgrade(id, account string, edit func(u *tierup.Upgrade)) (*tierup.Upgrade, error) {
	f.t.Helper()
	ctx := context.Background()
	if account == "" {
		account = "acct_" + id
		a := &tierup.Account{ID: account, Email: id + "@example.com", TimeZone: "UTC", Subscription: tierup.Subscription{PlanID: "hobby"}, CreatedAt: f.at}
		if err := f.db.CreateAccount(ctx, a, tierup.HashToken(id)); err != nil {
			f.t.Fatal(err)
		}
	}
	q := &tierup.Quote{ID: "quo_" + id, AccountID: account, FromPlan: "hobby", ToPlan: "pro-1m", Policy: tierup.PolicyCredit,
		Now: f.at, ExpiresAt: f.at.Add(time.Hour), AmountDue: tierup.Money{Amount: 100, Currency: "USD"}}
	if err := f.db.CreateQuote(ctx, q); err != nil {
		f.t.Fatal(err)
	}
	u := tierup.NewUpgrade(id, q, &tierup.PaymentMethod{ID: "pm_1"}, tierup.TermsAcceptance{}, f.at)
	if edit != nil {
		edit(u)
	}
	return u, f.db.CreateUpgrade(ctx, u)
}

func TestConstraintNames(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		f := fixture{t, db, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		if _, err := f.upgrade("upg_1", "", nil); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name       string
			stmt       string
			args       []any
			constraint string
		}{
			{"email", `INSERT INTO accounts (id, email, plan_id, token_hash, created_at) VALUES ('a2', 'upg_1@example.com', 'hobby', 'x', $1)`,
				[]any{f.at}, sqlstore.ConAccountEmail},
			{"token", `INSERT INTO accounts (id, email, plan_id, token_hash, created_at) VALUES ('a2', 'b@example.com', 'hobby', $1, $2)`,
				[]any{tierup.HashToken("upg_1"), f.at}, "accounts_token_hash_key"},
			{"account id", `INSERT INTO accounts (id, email, plan_id, token_hash, created_at) VALUES ('acct_upg_1', 'b@example.com', 'hobby', 'y', $1)`,
				[]any{f.at}, "accounts_pkey"},
			{"quote used", `INSERT INTO upgrades (id, account_id, quote_id, status, version, state, created_at, updated_at)
				VALUES ('upg_9', 'acct_upg_1', 'quo_upg_1', 'completed', 1, '{}', $1, $1)`, []any{f.at}, sqlstore.ConUpgradeQuote},
			{"record", `INSERT INTO records (scope, key, value, version, updated_at) VALUES ('s', 'k', '', 1, $1), ('s', 'k', '', 1, $1)`,
				[]any{f.at}, sqlstore.ConRecord},
		}
		for _, tt := range tests {
			_, err := sqlstore.Exec(ctx, db, tt.stmt, tt.args...)
			if got := sqlstore.Violated(err); got != tt.constraint {
				t.Errorf("%s: violated %q, want %q (%v)", tt.name, got, tt.constraint, err)
			}
		}

		// Through the store: the codes the API shows.
		_, err := f.upgrade("upg_2", "acct_upg_1", nil)
		if !errors.Is(err, tierup.ErrUpgradeInProgress) {
			t.Errorf("second active upgrade: %v", err)
		}
		u, err := f.upgrade("upg_3", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		again := *u
		again.ID, again.Status = "upg_3b", tierup.UpgradeCompleted
		if err := db.CreateUpgrade(ctx, &again); tierup.ErrorCode(err) != tierup.CodeQuoteUsed {
			t.Errorf("quote used twice: %v", err)
		}
		// A finished upgrade frees the account's slot (the active column).
		u.Status = tierup.UpgradeCompleted
		if err := db.UpdateUpgrade(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := f.upgrade("upg_4", u.AccountID, nil); err != nil {
			t.Errorf("after completion: %v", err)
		}
		// And the slot is enforced on update too.
		u.Status = tierup.UpgradeProcessing
		if err := db.UpdateUpgrade(ctx, u); !errors.Is(err, tierup.ErrUpgradeInProgress) {
			t.Errorf("reactivated beside another: %v", err)
		}
	})
}

func TestSQLiteConstraintNames(t *testing.T) {
	tests := []struct {
		columns string
		pk      bool
		want    string
	}{
		{"upgrades.account_id", false, sqlstore.ConOneActive},
		{"upgrades.quote_id", false, sqlstore.ConUpgradeQuote},
		{"accounts.email", false, sqlstore.ConAccountEmail},
		{"records.scope, records.key", true, sqlstore.ConRecord},
		{"t.a, t.b", false, "t_a_b_key"},
	}
	for _, tt := range tests {
		if got := sqlstore.SQLiteConstraint(tt.columns, tt.pk); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.columns, got, tt.want)
		}
	}
}

// TestTimesSort stores times within one second that sort wrongly as
// variable-width text (.5 and .55, a whole second and .05).
func TestTimesSort(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, _, u := oneUpgrade(t, dsn)
		sec := time.Date(2026, 3, 1, 12, 30, 15, 0, time.UTC)
		// Appended newest first, so that seq order is not time order.
		times := []time.Time{sec.Add(550 * time.Millisecond), sec.Add(500 * time.Millisecond), sec.Add(50 * time.Millisecond), sec,
			sec.Add(-time.Second + 123456789)}
		for i, at := range times {
			e := &tierup.UpgradeEvent{UpgradeID: u.ID, Upgrade: u, Actor: "system", Action: tierup.ActionStepProgress, Message: fmt.Sprint(i), At: at}
			if err := db.AppendEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		raw := rawSQL(t, dsn)
		rs, err := raw.QueryContext(ctx, `SELECT message FROM upgrade_events WHERE action = 'step_progress' ORDER BY created_at`)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for rs.Next() {
			var m string
			if err := rs.Scan(&m); err != nil {
				t.Fatal(err)
			}
			order = append(order, m)
		}
		if want := []string{"4", "3", "2", "1", "0"}; !slices.Equal(order, want) {
			t.Errorf("ORDER BY created_at: %v, want %v", order, want)
		}
		var pairs int
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM upgrade_events a, upgrade_events b
			WHERE a.action = 'step_progress' AND b.action = 'step_progress' AND a.created_at < b.created_at`).Scan(&pairs); err != nil {
			t.Fatal(err)
		}
		if pairs != 10 {
			t.Errorf("%d pairs compare with <, want 10", pairs)
		}
		for _, tt := range []struct {
			since time.Time
			want  int
		}{{sec, 3}, {sec.Add(50 * time.Millisecond), 2}, {sec.Add(500 * time.Millisecond), 1}, {sec.Add(-time.Second), 5}} {
			if n, err := db.CountEvents(ctx, u.AccountID, tierup.ActionStepProgress, tt.since); err != nil || n != tt.want {
				t.Errorf("events after %s: %d, %v; want %d", tt.since.Format(time.RFC3339Nano), n, err, tt.want)
			}
		}
		// A time argument in another zone compares by its instant: the
		// querier converts it, not the call site.
		jst := time.FixedZone("JST", 9*3600)
		for _, tt := range []struct {
			before time.Time
			want   int64
		}{{sec.Add(520 * time.Millisecond).In(jst), 4}, {sec.In(jst), 1}, {sec.Add(time.Second).In(jst), 5}} {
			n, err := sqlstore.Exec(ctx, db, `UPDATE upgrade_events SET message = message WHERE action = 'step_progress' AND created_at < $1`, tt.before)
			if err != nil || n != tt.want {
				t.Errorf("events before %s: %d, %v; want %d", tt.before.Format(time.RFC3339Nano), n, err, tt.want)
			}
		}

		// Sub-second digits round-trip, to the microsecond on both.
		events, err := db.Events(ctx, u.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		last := events[len(events)-1]
		if want := sec.Add(-time.Second + 123456000); !last.At.Equal(want) || last.At.Location() != time.UTC {
			t.Errorf("read back %s, want %s", last.At.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
		clock := &tierup.TestClock{ID: "clock_1", FrozenTime: sec.Add(987654 * time.Microsecond), CreatedAt: sec}
		if err := db.CreateTestClock(ctx, clock); err != nil {
			t.Fatal(err)
		}
		if c, err := db.TestClock(ctx, clock.ID); err != nil || !c.FrozenTime.Equal(clock.FrozenTime) {
			t.Errorf("test clock: %v, %v", c, err)
		}
	})
}

// TestUpdateUpgradeAppendsEvents stores an upgrade with its events in one
// call: each event carries the upgrade as stored (its new version), and a
// refused update appends none.
func TestUpdateUpgradeAppendsEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, f, u := oneUpgrade(t, dsn)
		stale := *u
		u.Progress = 40
		evs := []*tierup.UpgradeEvent{
			{UpgradeID: u.ID, Actor: "system", Action: tierup.ActionStepSucceeded, Message: "one", At: f.at},
			{UpgradeID: u.ID, Actor: "system", Action: tierup.ActionStepStarted, Message: "two", At: f.at},
			{UpgradeID: u.ID, Actor: "support", Action: tierup.ActionStepProgress, Message: "three", At: f.at.Add(time.Second)},
		}
		if err := db.UpdateUpgrade(ctx, u, evs...); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateUpgrade(ctx, &stale, &tierup.UpgradeEvent{UpgradeID: u.ID, Actor: "system",
			Action: tierup.ActionStepProgress, Message: "lost", At: f.at}); !errors.Is(err, tierup.ErrConflict) {
			t.Fatalf("a stale update: %v, want a conflict", err)
		}
		got, err := db.Events(ctx, u.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		// The events of one save come back in the order given, each with
		// the seq its caller was told, its actor and time.
		var saved []*tierup.UpgradeEvent
		for _, e := range got {
			if e.Message == "lost" {
				t.Errorf("the refused update's event was stored")
			}
			if i := slices.IndexFunc(evs, func(x *tierup.UpgradeEvent) bool { return x.Message == e.Message }); i >= 0 {
				saved = append(saved, e)
				if e.Seq != evs[i].Seq || e.Actor != evs[i].Actor || e.Action != evs[i].Action || !e.At.Equal(evs[i].At) {
					t.Errorf("event %q read back as seq %d %s %s at %s, stored as seq %d %s %s at %s", e.Message,
						e.Seq, e.Actor, e.Action, e.At, evs[i].Seq, evs[i].Actor, evs[i].Action, evs[i].At)
				}
				if e.Upgrade == nil || e.Upgrade.Version != u.Version || e.Upgrade.Progress != 40 || e.Seq == 0 {
					t.Errorf("event %q carries %+v, want version %d at 40%%", e.Message, e.Upgrade, u.Version)
				}
			}
		}
		if len(saved) != 3 || saved[0].Message != "one" || saved[1].Message != "two" || saved[2].Message != "three" {
			t.Errorf("%d events read back, want one, two and three in that order", len(saved))
		}
		// They count for their account (the rate of failed payments).
		if n, err := db.CountEvents(ctx, u.AccountID, tierup.ActionStepProgress, f.at); err != nil || n != 1 {
			t.Errorf("the account's step_progress events since the save: %d, %v; want 1", n, err)
		}
	})
}

// oneUpgrade opens the store at dsn with one upgrade in it.
func oneUpgrade(t *testing.T, dsn string) (*sqlstore.DB, fixture, *tierup.Upgrade) {
	t.Helper()
	db := dbtest.OpenStore(t, dsn)
	f := fixture{t, db, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	u, err := f.upgrade("upg_1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, f, u
}

// TestActiveUpgrade: an account's active upgrade is found among its
// finished ones; an account with none active gets ErrNotFound.
func TestActiveUpgrade(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := dbtest.OpenStore(t, dsn)
		f := fixture{t, db, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		done := func(u *tierup.Upgrade) { u.Status = tierup.UpgradeCompleted }
		for _, id := range []string{"upg_old", "upg_none"} {
			if _, err := f.upgrade(id, "", done); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.upgrade("upg_now", "acct_upg_old", nil); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			account, want string // want "": none active
		}{
			{"acct_upg_old", "upg_now"},
			{"acct_upg_none", ""},
			{"acct_missing", ""},
		}
		for _, tt := range tests {
			u, err := db.ActiveUpgrade(ctx, tt.account)
			switch {
			case tt.want == "" && !errors.Is(err, tierup.ErrNotFound):
				t.Errorf("%s: %v, %v; want ErrNotFound", tt.account, u, err)
			case tt.want != "" && (err != nil || u.ID != tt.want):
				t.Errorf("%s: %v, %v; want %s", tt.account, u, err, tt.want)
			}
		}
	})
}
