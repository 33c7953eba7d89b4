package tierup_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tierup/tierup"
)

func usd(n int64) tierup.Money   { return tierup.Money{Amount: n, Currency: "USD"} }
func usdp(n int64) *tierup.Money { m := usd(n); return &m }

func entry(upgrade string, k tierup.CreditKind, amount int64) tierup.CreditEntry {
	return tierup.CreditEntry{ID: "cred_" + upgrade + string(k), AccountID: "acct_1", Kind: k, Amount: usd(amount), UpgradeID: upgrade,
		QuoteID: "quo_" + upgrade}
}

// kinds lists the entries as "kind amount" for comparison.
func kinds(es []tierup.CreditEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Kind)+" "+e.Amount.String())
	}
	return strings.Join(out, ", ")
}

func TestCreditBalance(t *testing.T) {
	es := []tierup.CreditEntry{entry("upg_1", tierup.CreditGranted, 1441), entry("upg_2", tierup.CreditApplied, -1000),
		{Kind: tierup.CreditGranted, Amount: tierup.Money{Amount: 500, Currency: "EUR"}}}
	if b := tierup.CreditBalance(es, "USD"); b != usd(441) {
		t.Errorf("USD balance %v, want $4.41", b)
	}
	if b := tierup.CreditBalance(es, "EUR"); b != (tierup.Money{Amount: 500, Currency: "EUR"}) {
		t.Errorf("EUR balance %v", b)
	}
	if b := tierup.CreditBalance(nil, "JPY"); b != (tierup.Money{Currency: "JPY"}) {
		t.Errorf("empty ledger: %v", b)
	}
}

func TestActivationCredit(t *testing.T) {
	now := ts("2026-03-01T00:00:00Z")
	granted := entry("upg_0", tierup.CreditGranted, 1441) // an earlier upgrade's
	tests := []struct {
		name    string
		ledger  []tierup.CreditEntry
		applied *tierup.Money // the quote's CreditApplied
		kept    *tierup.Money // the quote's AccountCredit
		want    string
		err     error
	}{
		{name: "nothing to move"},
		{name: "grants the excess", kept: usdp(14412), want: "granted $144.12"},
		{name: "takes what the quote applies", ledger: []tierup.CreditEntry{granted}, applied: usdp(1441), want: "applied -$14.41"},
		{name: "takes part of the balance", ledger: []tierup.CreditEntry{granted}, applied: usdp(1000), want: "applied -$10.00"},
		{name: "repeated: nothing twice", ledger: []tierup.CreditEntry{granted, entry("upg_1", tierup.CreditApplied, -1441)}, applied: usdp(1441)},
		{name: "spent by another upgrade", ledger: []tierup.CreditEntry{granted, entry("upg_9", tierup.CreditApplied, -1000)},
			applied: usdp(1441), err: tierup.ErrQuoteInvalid},
		{name: "no credit at all", applied: usdp(1), err: tierup.ErrQuoteInvalid},
		{name: "credit in another currency does not count", ledger: []tierup.CreditEntry{{Kind: tierup.CreditGranted,
			Amount: tierup.Money{Amount: 5000, Currency: "EUR"}, UpgradeID: "upg_0"}}, applied: usdp(1), err: tierup.ErrQuoteInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &tierup.Quote{ID: "quo_upg_1", AccountID: "acct_1", CreditApplied: tt.applied, AccountCredit: tt.kept}
			got, err := tierup.ActivationCredit(tt.ledger, q, "upg_1", now)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "new quote") {
					t.Errorf("the error does not say what to do: %v", err)
				}
				return
			}
			if kinds(got) != tt.want {
				t.Errorf("entries %q, want %q", kinds(got), tt.want)
			}
			for _, e := range got {
				if e.UpgradeID != "upg_1" || e.QuoteID != "quo_upg_1" || e.AccountID != "acct_1" || !e.CreatedAt.Equal(now) || e.ID == "" {
					t.Errorf("entry %+v does not name its upgrade, quote, account and time", e)
				}
			}
		})
	}
}

func TestCancelCredit(t *testing.T) {
	now := ts("2026-03-01T00:00:00Z")
	other := entry("upg_0", tierup.CreditGranted, 2000)
	tests := []struct {
		name   string
		ledger []tierup.CreditEntry
		want   string
	}{
		{name: "nothing taken or granted", ledger: []tierup.CreditEntry{other}},
		{name: "applied credit comes back", ledger: []tierup.CreditEntry{other, entry("upg_1", tierup.CreditApplied, -1441)},
			want: "returned $14.41"},
		{name: "granted credit is taken back", ledger: []tierup.CreditEntry{entry("upg_1", tierup.CreditGranted, 14412)},
			want: "revoked -$144.12"},
		{name: "already undone", ledger: []tierup.CreditEntry{other, entry("upg_1", tierup.CreditApplied, -1441),
			entry("upg_1", tierup.CreditReturned, 1441)}},
		// Cannot happen while the upgrade holds the account's slot; if it
		// did, the balance would still not go negative.
		{name: "a grant already spent is taken back as far as the balance goes", ledger: []tierup.CreditEntry{
			entry("upg_1", tierup.CreditGranted, 1000), entry("upg_2", tierup.CreditApplied, -600)}, want: "revoked -$4.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tierup.CancelCredit(tt.ledger, "upg_1", now)
			if kinds(got) != tt.want {
				t.Errorf("entries %q, want %q", kinds(got), tt.want)
			}
			if b := tierup.CreditBalance(append(got, tt.ledger...), "USD"); b.Amount < 0 {
				t.Errorf("balance %v after the cancel", b)
			}
		})
	}
}

func TestValueOfNewPeriod(t *testing.T) {
	cat := tierup.DefaultCatalog()
	team, _ := cat.Plan("team-1m")
	if v := (&tierup.Quote{}).ValueOfNewPeriod(team); v != usd(9900) {
		t.Errorf("a quote from before period_value: %v, want the plan's price", v)
	}
	if v := (&tierup.Quote{PeriodValue: usdp(10835)}).ValueOfNewPeriod(team); v != usd(10835) {
		t.Errorf("quoted value: %v", v)
	}
	if v := (tierup.Subscription{PlanID: "team-1m"}).ValueOn(team); v != usd(9900) {
		t.Errorf("a subscription without value: %v", v)
	}
}
