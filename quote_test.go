package tierup_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tierup/tierup"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// sub returns a subscription to plan starting at start, with its end computed
// the way the store does it.
func sub(cat *tierup.Catalog, plan string, start time.Time, loc *time.Location) tierup.Subscription {
	p, err := cat.Plan(plan)
	if err != nil {
		panic(err)
	}
	if p.Free() {
		return tierup.Subscription{PlanID: plan}
	}
	return tierup.Subscription{PlanID: plan, PeriodStart: start, PeriodEnd: tierup.AddMonths(start, p.IntervalMonths, loc)}
}

func price(t *testing.T, cat *tierup.Catalog, now time.Time, loc *time.Location, current tierup.Subscription, to string, policy tierup.Policy) (*tierup.Quote, error) {
	t.Helper()
	from, err := cat.Plan(current.PlanID)
	if err != nil {
		t.Fatal(err)
	}
	target, err := cat.Plan(to)
	if err != nil {
		return nil, err
	}
	return cat.PriceUpgrade(tierup.QuoteInput{Now: now, Location: loc, Current: current, From: from, To: target, Policy: policy})
}

func TestPriceUpgrade(t *testing.T) {
	cat := tierup.DefaultCatalog()
	utc := time.UTC
	tokyo := mustLoc(t, "Asia/Tokyo")
	newYork := mustLoc(t, "America/New_York")
	type want struct {
		kind     string
		seconds  int64
		end      string
		due      int64
		credit   int64 // account credit, 0 when none
		adjusted int64 // adjustment.amount for credit, 0 when none
		err      error
	}
	tests := []struct {
		name    string
		now     string
		loc     *time.Location
		current tierup.Subscription
		to      string
		policy  tierup.Policy
		want    want
	}{
		// The worked examples of the foundation issue.
		{"hobby to pro-1m", "2026-03-10T12:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-1m", "",
			want{kind: "none", end: "2026-04-10T12:00:00Z", due: 2900}},
		{"hobby to pro-1m on Jan 31 clamps to Feb 28", "2026-01-31T10:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-1m", "",
			want{kind: "none", end: "2026-02-28T10:00:00Z", due: 2900}},
		{"pro-1m to pro-3m extends by 10 days", "2026-03-22T00:00:00Z", utc, sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), utc), "pro-3m", "",
			want{kind: "extension", seconds: 864000, end: "2026-07-02T00:00:00Z", due: 8100}},
		{"pro-6m to team-1m deducts 20 days", "2026-06-11T00:00:00Z", utc, sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", "",
			want{kind: "deduction", seconds: -1728000, end: "2026-06-21T00:00:00Z", due: 9900}},
		{"pro-12m to team-1m leaves nothing", "2026-03-01T00:00:00Z", utc, sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", "",
			want{err: tierup.ErrRemainingExceedsNewPeriod}},
		{"ended pro-1m to pro-12m starts afresh", "2026-03-05T00:00:00Z", utc, sub(cat, "pro-1m", ts("2026-02-01T00:00:00Z"), utc), "pro-12m", "",
			want{kind: "none", end: "2027-03-05T00:00:00Z", due: 29000}},
		{"pro-3m to pro-1m", "2026-03-05T00:00:00Z", utc, sub(cat, "pro-3m", ts("2026-02-01T00:00:00Z"), utc), "pro-1m", "",
			want{err: tierup.ErrNotAnUpgrade}},
		{"pro-3m to pro-3m", "2026-03-05T00:00:00Z", utc, sub(cat, "pro-3m", ts("2026-02-01T00:00:00Z"), utc), "pro-3m", "",
			want{err: tierup.ErrSamePlan}},
		{"team-1m to pro-12m", "2026-03-05T00:00:00Z", utc, sub(cat, "team-1m", ts("2026-03-01T00:00:00Z"), utc), "pro-12m", "",
			want{err: tierup.ErrNotAnUpgrade}},
		{"pro-1m to hobby", "2026-03-05T00:00:00Z", utc, sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), utc), "hobby", "",
			want{err: tierup.ErrNotAnUpgrade}},
		{"unknown plan", "2026-03-05T00:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-2m", "",
			want{err: tierup.ErrUnknownPlan}},
		// Equal durations deduct too: the current plan is "the longer or equal one".
		{"pro-3m to team-3m deducts", "2026-03-01T00:00:00Z", utc, sub(cat, "pro-3m", ts("2026-02-01T00:00:00Z"), utc), "team-3m", "",
			want{kind: "deduction", seconds: -(31 + 30) * 86400, end: "2026-04-01T00:00:00Z", due: 28200}},

		// Time zones: months are calendar months of the account's zone.
		{"Tokyo local midnight Jan 31 + 1 month", "2026-01-30T15:00:00Z", tokyo, sub(cat, "hobby", time.Time{}, tokyo), "pro-1m", "",
			want{kind: "none", end: "2026-02-27T15:00:00Z", due: 2900}},
		{"the same instant in UTC is Jan 30", "2026-01-30T15:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-1m", "",
			want{kind: "none", end: "2026-02-28T15:00:00Z", due: 2900}},
		{"New York local midnight across spring-forward", "2026-03-01T05:00:00Z", newYork, sub(cat, "hobby", time.Time{}, newYork), "pro-1m", "",
			want{kind: "none", end: "2026-04-01T04:00:00Z", due: 2900}},
		{"New York extension across fall-back", "2026-10-22T04:00:00Z", newYork, sub(cat, "pro-1m", ts("2026-10-01T04:00:00Z"), newYork), "pro-3m", "",
			// current period ends Nov 1 00:00 EDT = 04:00Z; 10 days left.
			want{kind: "extension", seconds: 864000, end: "2027-02-01T05:00:00Z", due: 8100}},

		// Leap years.
		{"Jan 31 2028 + 1 month is Feb 29", "2028-01-31T10:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-1m", "",
			want{kind: "none", end: "2028-02-29T10:00:00Z", due: 2900}},
		{"Feb 29 2028 + 12 months is Feb 28", "2028-02-29T08:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "pro-12m", "",
			want{kind: "none", end: "2029-02-28T08:00:00Z", due: 29000}},

		// value: 20 days of a 181-day period at 156.00 buy
		// ⌊15600·1728000·2592000 / (15638400·9900)⌋ = 451310 s of team-1m.
		{"value policy buys time", "2026-06-11T00:00:00Z", utc, sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyValue,
			want{kind: "time_credit", seconds: 451310, end: "2026-07-16T05:21:50Z", due: 9900}},
		{"value policy from hobby", "2026-06-11T00:00:00Z", utc, sub(cat, "hobby", time.Time{}, utc), "team-1m", tierup.PolicyValue,
			want{kind: "none", end: "2026-07-11T00:00:00Z", due: 9900}},
		// credit: 15600·1728000/15638400 = 1723.757 → 1724; 9900 − 1724 = 8176.
		{"credit policy", "2026-06-11T00:00:00Z", utc, sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit,
			want{kind: "credit", adjusted: 1724, end: "2026-07-11T00:00:00Z", due: 8176}},
		// credit: 29000·26438400/31536000 = 24312.33 → 24312 > 9900: due 0, credit 14412.
		{"credit policy with excess", "2026-03-01T00:00:00Z", utc, sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit,
			want{kind: "credit", adjusted: 24312, end: "2026-04-01T00:00:00Z", due: 0, credit: 14412}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := price(t, cat, ts(tt.now), tt.loc, tt.current, tt.to, tt.policy)
			if tt.want.err != nil {
				if !errors.Is(err, tt.want.err) {
					t.Fatalf("err = %v, want %v", err, tt.want.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Adjustment.Kind != tt.want.kind || q.Adjustment.Seconds != tt.want.seconds {
				t.Errorf("adjustment = %s %d, want %s %d", q.Adjustment.Kind, q.Adjustment.Seconds, tt.want.kind, tt.want.seconds)
			}
			if got := q.NewPeriod.End.UTC().Format(time.RFC3339); got != tt.want.end {
				t.Errorf("end = %s, want %s", got, tt.want.end)
			}
			if !q.NewPeriod.Start.Equal(ts(tt.now)) {
				t.Errorf("start = %s, want now", q.NewPeriod.Start)
			}
			if q.AmountDue.Amount != tt.want.due || q.AmountDue.Currency != "USD" {
				t.Errorf("due = %v, want %d", q.AmountDue, tt.want.due)
			}
			var credit, adjusted int64
			if q.AccountCredit != nil {
				credit = q.AccountCredit.Amount
			}
			if q.Adjustment.Amount != nil {
				adjusted = q.Adjustment.Amount.Amount
			}
			if credit != tt.want.credit || adjusted != tt.want.adjusted {
				t.Errorf("credit = %d, adjustment amount = %d; want %d, %d", credit, adjusted, tt.want.credit, tt.want.adjusted)
			}
			var sum int64
			for _, l := range q.Lines {
				sum += l.Amount.Amount
			}
			if sum != q.AmountDue.Amount {
				t.Errorf("lines sum to %d, amount due is %d", sum, q.AmountDue.Amount)
			}
			if q.Explanation == "" || strings.Contains(q.Explanation, "%!") {
				t.Errorf("explanation = %q", q.Explanation)
			}
		})
	}
}

func TestExplanationsSayWhatHappens(t *testing.T) {
	cat := tierup.DefaultCatalog()
	utc := time.UTC
	tests := []struct {
		name    string
		now     string
		current tierup.Subscription
		to      string
		policy  tierup.Policy
		want    []string
		minute  bool // the period's ends are given to the minute: an adjustment in hours moved them
	}{
		{"extension", "2026-03-22T00:00:00Z", sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), utc), "pro-3m", "",
			[]string{"10 days left on Pro (1 month) are added to Pro (3 months)", "from 22 Mar 2026 to 2 Jul 2026 instead of 22 Jun 2026.", "$81.00"}, false},
		{"deduction", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", "",
			[]string{"20 days left on Pro (6 months)", "already used", "to 21 Jun 2026 instead of 11 Jul 2026.", "$99.00"}, false},
		{"deduction in hours", "2026-06-11T06:30:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", "",
			[]string{"19 days and 17 hours left on Pro (6 months)", "from 11 Jun 2026, 06:30 UTC to 21 Jun 2026, 13:00 UTC instead of 11 Jul 2026, 06:30 UTC."}, true},
		{"fresh start", "2026-03-10T12:00:00Z", sub(cat, "hobby", time.Time{}, utc), "pro-1m", "",
			[]string{"Hobby has no paid time", "runs from 10 Mar 2026 to 10 Apr 2026.", "$29.00"}, false},
		{"expired", "2026-03-05T00:00:00Z", sub(cat, "pro-1m", ts("2026-02-01T00:00:00Z"), utc), "pro-12m", "",
			[]string{"ended on 1 Mar 2026,", "5 Mar 2027"}, false},
		{"credit excess", "2026-03-01T00:00:00Z", sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit,
			[]string{"worth $243.12", "It runs from 1 Mar 2026 to 1 Apr 2026.", "You pay $0.00", "$144.12 stays on your account"}, false},
		{"value", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyValue,
			[]string{"worth $17.24", "buys 5 days and 5 hours more", "to 16 Jul 2026, 05:"}, true},
	}
	clock := regexp.MustCompile(`\d\d:\d\d`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := price(t, cat, ts(tt.now), utc, tt.current, tt.to, tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(q.Explanation, w) {
					t.Errorf("explanation %q lacks %q", q.Explanation, w)
				}
			}
			if clock.MatchString(q.Explanation) != tt.minute {
				t.Errorf("explanation %q: times of day %v, want %v", q.Explanation, !tt.minute, tt.minute)
			}
		})
	}

	_, err := price(t, cat, ts("2026-03-01T00:00:00Z"), utc, sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", "")
	if err == nil || !strings.Contains(err.Error(), "ends on 1 Jan 2027") {
		t.Errorf("rejection should say when the current period ends: %v", err)
	}
}

func TestPriceUpgradeJPY(t *testing.T) {
	cat, err := tierup.ParseCatalog(strings.NewReader(`{
	  "tiers": ["hobby", "pro"],
	  "plans": [
	    {"id": "hobby", "tier": "hobby", "name": "Hobby", "interval_months": 0, "price": {"amount": 0, "currency": "JPY"},
	     "limits": {"functions": 5, "cronjobs": 10, "storage_gb": 10, "dedicated_nodes": 0, "backup_retention_days": 0},
	     "entitlements": {"node_pool": "shared", "storage_class": "standard", "aiops": [], "backups": "none", "support": "community"}, "features": []},
	    {"id": "pro-1m", "tier": "pro", "name": "Pro (1 month)", "interval_months": 1, "price": {"amount": 3000, "currency": "JPY"},
	     "limits": {"functions": null, "cronjobs": null, "storage_gb": 100, "dedicated_nodes": 1, "backup_retention_days": 7},
	     "entitlements": {"node_pool": "dedicated", "storage_class": "ssd", "aiops": [], "backups": "daily", "support": "priority_email"}, "features": []},
	    {"id": "pro-3m", "tier": "pro", "name": "Pro (3 months)", "interval_months": 3, "price": {"amount": 8000, "currency": "JPY"},
	     "limits": {"functions": null, "cronjobs": null, "storage_gb": 100, "dedicated_nodes": 1, "backup_retention_days": 7},
	     "entitlements": {"node_pool": "dedicated", "storage_class": "ssd", "aiops": [], "backups": "daily", "support": "priority_email"}, "features": []}
	  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	// 10 of 31 days of ¥3000: 967.74 → ¥968 off ¥8000.
	q, err := price(t, cat, ts("2026-03-22T00:00:00Z"), time.UTC, sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), time.UTC), "pro-3m", tierup.PolicyCredit)
	if err != nil {
		t.Fatal(err)
	}
	if q.AmountDue != (tierup.Money{Amount: 7032, Currency: "JPY"}) {
		t.Errorf("due = %v, want ¥7,032", q.AmountDue)
	}
	if !strings.Contains(q.Explanation, "¥968") || !strings.Contains(q.Explanation, "¥7,032") {
		t.Errorf("explanation = %q", q.Explanation)
	}
}

func TestCatalogRejects(t *testing.T) {
	tests := map[string]string{
		"unknown currency": `{"tiers":["a"],"plans":[{"id":"x","tier":"a","interval_months":1,"price":{"amount":1,"currency":"XXX"}}]}`,
		"unknown tier":     `{"tiers":["a"],"plans":[{"id":"x","tier":"b","interval_months":1,"price":{"amount":1,"currency":"USD"}}]}`,
		"duplicate":        `{"tiers":["a"],"plans":[{"id":"x","tier":"a","interval_months":1,"price":{"amount":1,"currency":"USD"}},{"id":"x","tier":"a","interval_months":1,"price":{"amount":1,"currency":"USD"}}]}`,
		"priced free plan": `{"tiers":["a"],"plans":[{"id":"x","tier":"a","interval_months":0,"price":{"amount":1,"currency":"USD"}}]}`,
		"unknown field":    `{"tiers":["a"],"plans":[],"extra":1}`,
		"no tiers":         `{"plans":[]}`,
		// Found by FuzzParseCatalog: the quote engine's arithmetic overflowed.
		"a thousand-year interval": `{"tiers":["a"],"plans":[{"id":"x","tier":"a","interval_months":12000,"price":{"amount":1,"currency":"USD"}}]}`,
		"a price near 2^63":        `{"tiers":["a"],"plans":[{"id":"x","tier":"a","interval_months":1,"price":{"amount":9000000000000000000,"currency":"USD"}}]}`,
	}
	for name, doc := range tests {
		if _, err := tierup.ParseCatalog(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRetiredAndCurrencyMismatch(t *testing.T) {
	cat, err := tierup.ParseCatalog(strings.NewReader(`{"tiers":["pro","team"],"plans":[
	  {"id":"pro-1m","tier":"pro","name":"Pro","interval_months":1,"price":{"amount":2900,"currency":"USD"}},
	  {"id":"team-old","tier":"team","name":"Team (legacy)","interval_months":1,"retired":true,"price":{"amount":5000,"currency":"USD"}},
	  {"id":"team-eur","tier":"team","name":"Team EUR","interval_months":1,"price":{"amount":9000,"currency":"EUR"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	current := sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), time.UTC)
	if _, err := price(t, cat, ts("2026-03-05T00:00:00Z"), time.UTC, current, "team-old", ""); !errors.Is(err, tierup.ErrPlanUnavailable) {
		t.Errorf("retired: %v", err)
	}
	if _, err := price(t, cat, ts("2026-03-05T00:00:00Z"), time.UTC, current, "team-eur", ""); !errors.Is(err, tierup.ErrCurrencyMismatch) {
		t.Errorf("currency: %v", err)
	}
}

func TestQuoteSignature(t *testing.T) {
	cat := tierup.DefaultCatalog()
	q, err := price(t, cat, ts("2026-03-22T00:00:00Z"), time.UTC, sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), time.UTC), "pro-3m", "")
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("k1")
	q.Seal("quo_1", "acct_1", ts("2026-03-22T00:30:00Z"), key)
	if !q.Verify(key) {
		t.Fatal("a sealed quote does not verify")
	}
	if q.Verify([]byte("k2")) {
		t.Error("verifies under another key")
	}
	// Times in another zone are the same instants: still valid.
	q2 := *q
	q2.Now = q2.Now.In(mustLoc(t, "Asia/Tokyo"))
	if !q2.Verify(key) {
		t.Error("changing only the zone of a time broke the signature")
	}
	q2.AmountDue.Amount--
	if q2.Verify(key) {
		t.Error("a tampered amount still verifies")
	}
}

func TestHumanDuration(t *testing.T) {
	tests := map[int64]string{0: "0 seconds", 1: "1 second", 864000: "10 days", 86400 + 3600: "1 day and 1 hour",
		86400 + 10: "1 day", 3*86400 + 4*3600 + 5*60: "3 days and 4 hours", 125: "2 minutes and 5 seconds"}
	for secs, want := range tests {
		if got := tierup.HumanDuration(secs); got != want {
			t.Errorf("HumanDuration(%d) = %q, want %q", secs, got, want)
		}
	}
}

func TestCatalogDefaultPlan(t *testing.T) {
	const plans = `"plans":[{"id":"free","tier":"a","interval_months":0,"price":{"amount":0,"currency":"USD"}},
	  {"id":"old","tier":"a","interval_months":1,"retired":true,"price":{"amount":1,"currency":"USD"}},
	  {"id":"paid","tier":"a","interval_months":1,"price":{"amount":1,"currency":"USD"}}]`
	for _, tc := range []struct {
		name, doc, want string // want "" means refused
	}{
		{"declared", `{"tiers":["a"],"default_plan":"paid",` + plans + `}`, "paid"},
		{"first on sale when absent", `{"tiers":["a"],` + plans + `}`, "free"},
		{"unknown", `{"tiers":["a"],"default_plan":"gold",` + plans + `}`, ""},
		{"retired", `{"tiers":["a"],"default_plan":"old",` + plans + `}`, ""},
		{"nothing on sale", `{"tiers":["a"],"plans":[]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := tierup.ParseCatalog(strings.NewReader(tc.doc))
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("accepted, default plan %s", cat.DefaultPlan().ID)
			case tc.want == "":
				return
			case err != nil:
				t.Fatal(err)
			case cat.DefaultPlan().ID != tc.want:
				t.Errorf("default plan %s, want %s", cat.DefaultPlan().ID, tc.want)
			}
		})
	}
	if got := tierup.DefaultCatalog().DefaultPlan().ID; got != "hobby" {
		t.Errorf("built-in catalog's default plan is %s, want hobby", got)
	}
}

// TestPriceUpgradeAppliesAccountCredit: the account's credit comes off the
// amount due, as a line, never below zero.
func TestPriceUpgradeAppliesAccountCredit(t *testing.T) {
	cat := tierup.DefaultCatalog()
	utc := time.UTC
	tests := []struct {
		name    string
		now     string
		current tierup.Subscription
		to      string
		policy  tierup.Policy
		credit  tierup.Money
		due     int64
		applied int64 // 0 when no credit is applied
		kept    int64 // Quote.AccountCredit, 0 when none
		says    string
	}{
		{"hobby to pro-1m with $10.00 of credit", "2026-03-10T12:00:00Z", sub(cat, "hobby", time.Time{}, utc), "pro-1m", "", usd(1000),
			1900, 1000, 0, "$10.00 of your account credit is taken off. You pay $19.00 now."},
		// 9900 − 1724 = 8176 (see TestPriceUpgrade), − 2000 of credit = 6176.
		{"credit policy and credit", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit, usd(2000),
			6176, 2000, 0, "You pay $61.76 now."},
		// Only the 8176 due is taken; 100.00 − 81.76 = 18.24 stays on the account.
		{"credit beyond the amount due", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit, usd(10000),
			0, 8176, 0, "$81.76 of your account credit is taken off. You pay $0.00 now."},
		{"nothing due: credit untouched, the excess kept", "2026-03-01T00:00:00Z", sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), utc), "team-1m", tierup.PolicyCredit, usd(500),
			0, 0, 14412, "$144.12 stays on your account"},
		{"carryover extension and credit", "2026-03-22T00:00:00Z", sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), utc), "pro-3m", "", usd(1),
			8099, 1, 0, "You pay $80.99 now."},
		{"credit in another currency", "2026-03-10T12:00:00Z", sub(cat, "hobby", time.Time{}, utc), "pro-1m", "", tierup.Money{Amount: 1000, Currency: "EUR"},
			2900, 0, 0, "You pay $29.00 now."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, _ := cat.Plan(tt.current.PlanID)
			to, _ := cat.Plan(tt.to)
			q, err := cat.PriceUpgrade(tierup.QuoteInput{Now: ts(tt.now), Location: utc, Current: tt.current, From: from, To: to, Policy: tt.policy, Credit: tt.credit})
			if err != nil {
				t.Fatal(err)
			}
			var applied, kept int64
			if q.CreditApplied != nil {
				applied = q.CreditApplied.Amount
			}
			if q.AccountCredit != nil {
				kept = q.AccountCredit.Amount
			}
			if q.AmountDue != usd(tt.due) || applied != tt.applied || kept != tt.kept {
				t.Errorf("due %v, applied %d, kept %d; want %d, %d, %d", q.AmountDue, applied, kept, tt.due, tt.applied, tt.kept)
			}
			var sum int64
			for _, l := range q.Lines {
				sum += l.Amount.Amount
			}
			last := q.Lines[len(q.Lines)-1]
			if sum != q.AmountDue.Amount || (applied > 0) != (last.Description == "Account credit applied" && last.Amount == usd(-applied)) {
				t.Errorf("lines %+v: sum %d, amount due %d", q.Lines, sum, q.AmountDue.Amount)
			}
			if !strings.Contains(q.Explanation, tt.says) {
				t.Errorf("explanation %q lacks %q", q.Explanation, tt.says)
			}
		})
	}
}

// TestConsecutiveUpgrades: an upgrade credits what the current period cost
// (Subscription.Value), not its plan's list price nor the last charge, so
// that two upgrades in a row cost what one straight to the last plan does.
func TestConsecutiveUpgrades(t *testing.T) {
	cat := tierup.DefaultCatalog()
	type step struct {
		at, to string
		policy tierup.Policy
		due    int64 // charged
		value  int64 // Subscription.Value after activation
	}
	tests := []struct {
		name     string
		start    tierup.Subscription
		steps    []step
		straight int64 // the charge of one upgrade straight to the last plan at the first step
		credit   int64 // the balance left at the end
	}{
		{
			// pro-12m since 1 Jan: 306 of 365 days left on 1 Mar are worth
			// 29000·306/365 = 24312.33 → 24312. team-1m is 9900: due 0, 14412
			// kept. The same day team-12m: team-1m's whole month, worth the
			// 9900 its value is (0 charged + 24312 − 14412 kept), comes off
			// 99000, and the 14412 of credit: 74688 — what pro-12m straight
			// to team-12m costs (99000 − 24312). Crediting the 0 charged
			// instead would ask 84588, 99.00 too much.
			name: "credit kept, then applied", start: sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), time.UTC),
			steps: []step{
				{"2026-03-01T00:00:00Z", "team-1m", tierup.PolicyCredit, 0, 9900},
				{"2026-03-01T00:00:00Z", "team-12m", tierup.PolicyCredit, 74688, 99000},
			},
			straight: 74688,
		},
		{
			// pro-1m since 1 Mar; on 22 Mar its 10 of 31 days, worth
			// 2900·10/31 = 935.48 → 935, are added to pro-3m (carryover):
			// 8100 is charged and pro-3m runs to 2 Jul, worth 8100 + 935 =
			// 9035. The same day team-3m under the credit policy: the whole
			// of it is unused, 9035 off 28200 = 19165. In all 27265, as
			// straight to team-3m (28200 − 935). The list price, 8100, would
			// have asked 20100.
			name: "time carried over, then credited", start: sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), time.UTC),
			steps: []step{
				{"2026-03-22T00:00:00Z", "pro-3m", tierup.PolicyCarryover, 8100, 9035},
				{"2026-03-22T00:00:00Z", "team-3m", tierup.PolicyCredit, 19165, 28200},
			},
			straight: 27265,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, credit, total := tt.start, usd(0), int64(0)
			for i, s := range tt.steps {
				from, _ := cat.Plan(cur.PlanID)
				to, _ := cat.Plan(s.to)
				q, err := cat.PriceUpgrade(tierup.QuoteInput{Now: ts(s.at), Location: time.UTC, Current: cur, From: from, To: to, Policy: s.policy, Credit: credit})
				if err != nil {
					t.Fatal(err)
				}
				if q.CreditApplied != nil {
					credit.Amount -= q.CreditApplied.Amount
				}
				if q.AccountCredit != nil {
					credit.Amount += q.AccountCredit.Amount
				}
				cur = q.Activated(to)
				if q.AmountDue != usd(s.due) || cur.Value != usd(s.value) {
					t.Errorf("step %d: due %v, value %v; want %d, %d", i+1, q.AmountDue, cur.Value, s.due, s.value)
				}
				total += q.AmountDue.Amount
			}
			if total != tt.straight || credit.Amount != tt.credit {
				t.Errorf("charged %d in all, %d credit left; straight to the last plan charges %d", total, credit.Amount, tt.straight)
			}
		})
	}
}
