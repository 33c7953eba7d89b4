package tierup_test

import (
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestOutcomeSaysWhatThePlanGets: one sentence per kind of adjustment,
// with the plan, the end date in the account's zone and the why.
func TestOutcomeSaysWhatThePlanGets(t *testing.T) {
	cat := tierup.DefaultCatalog()
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	for _, tt := range []struct {
		name, now string
		current   tierup.Subscription
		to        string
		policy    tierup.Policy
		loc       *time.Location
		outcome   string
		priceLine string
	}{
		{"none", "2026-03-10T12:00:00Z", sub(cat, "hobby", time.Time{}, time.UTC), "pro-1m", "", time.UTC,
			"Pro (1 month) runs until 10 Apr 2026.", "$29.00 today — Pro (1 month) until 10 Apr 2026"},
		{"extension", "2026-03-22T00:00:00Z", sub(cat, "pro-1m", ts("2026-03-01T00:00:00Z"), time.UTC), "pro-3m", "", time.UTC,
			"Pro (3 months) runs until 2 Jul 2026: the 10 days left on Pro (1 month) are added to it.", "$81.00 today — Pro (3 months) until 2 Jul 2026"},
		{"deduction", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), time.UTC), "team-1m", "", time.UTC,
			"Team (1 month) runs 10 days, until 21 Jun 2026, because the 20 days left on Pro (6 months) count as time already spent on Team (1 month).",
			"$99.00 today — Team (1 month) until 21 Jun 2026"},
		{"deduction, the date in the account's zone", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), time.UTC), "team-1m", "", tokyo,
			"Team (1 month) runs 10 days, until 21 Jun 2026, because the 20 days left on Pro (6 months) count as time already spent on Team (1 month).",
			"$99.00 today — Team (1 month) until 21 Jun 2026"},
		{"time credit", "2026-06-11T00:00:00Z", sub(cat, "pro-6m", ts("2026-01-01T00:00:00Z"), time.UTC), "team-1m", tierup.PolicyValue, time.UTC,
			"Team (1 month) runs until 16 Jul 2026: the value of the 20 days left on Pro (6 months) buys 5 days and 5 hours more.",
			"$99.00 today — Team (1 month) until 16 Jul 2026"},
		{"credit", "2026-03-01T00:00:00Z", sub(cat, "pro-12m", ts("2026-01-01T00:00:00Z"), time.UTC), "team-1m", tierup.PolicyCredit, time.UTC,
			"Team (1 month) runs until 1 Apr 2026; the 306 days left on Pro (12 months), worth $243.12, are taken off the price.",
			"$0.00 today — Team (1 month) until 1 Apr 2026"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := price(t, cat, ts(tt.now), tt.loc, tt.current, tt.to, tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			from, _ := cat.Plan(tt.current.PlanID)
			to, _ := cat.Plan(tt.to)
			if got := q.Outcome(from.Name, to.Name, tt.loc); got != tt.outcome {
				t.Errorf("outcome\n got %q\nwant %q", got, tt.outcome)
			}
			if got := q.PriceLine(to.Name, tt.loc); got != tt.priceLine {
				t.Errorf("price line %q, want %q", got, tt.priceLine)
			}
		})
	}
}

// TestMonthlyPriceRoundsOnce: the price over the months, exact and rounded
// half-up once ($290 / 12 = $24.1666… → $24.17), and the saving against
// the monthly plan likewise.
func TestMonthlyPriceRoundsOnce(t *testing.T) {
	cat := tierup.DefaultCatalog()
	for _, tt := range []struct {
		plan    string
		monthly string
		saving  int64
	}{
		{"pro-12m", "$24.17", 17},  // 290/12 = 24.1666…; 1 − 290/348 = 16.67 %
		{"pro-3m", "$27.00", 7},    // 81/3; 1 − 81/87 = 6.9 %
		{"team-12m", "$82.50", 17}, // 990/12; 1 − 990/1188 = 16.67 %
		{"pro-1m", "$29.00", 0},
		{"hobby", "$0.00", 0},
	} {
		p, err := cat.Plan(tt.plan)
		if err != nil {
			t.Fatal(err)
		}
		monthly, _ := cat.Plan(p.Tier + "-1m")
		if got := p.MonthlyPrice().String(); got != tt.monthly {
			t.Errorf("%s a month: %s, want %s", tt.plan, got, tt.monthly)
		}
		if got := p.SavingPercent(monthly); got != tt.saving {
			t.Errorf("%s saves %d%%, want %d%%", tt.plan, got, tt.saving)
		}
	}
}

// TestCustomerWords: steps, brands and renewal in the words customers read.
func TestCustomerWords(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{tierup.StepTitle(tierup.StepProvisionNode, 1), "Dedicated node"},
		{tierup.StepTitle(tierup.StepProvisionNode, 3), "3 dedicated nodes"},
		{tierup.StepTitle(tierup.StepActivatePlan, 1), "Plan switch"},
		{tierup.StepTitle(tierup.StepMigrateWorkloads, 1), "Moving your workloads"},
		{tierup.CardWords(tierup.BrandAmex, "0005"), "American Express •••• 0005"},
		{tierup.BrandName("maestro"), "maestro"},
		{tierup.NoRenewal(ts("2027-03-01T03:00:00Z"), time.UTC), "This is a one-time payment: tierup does not renew plans and will not charge you again. The period ends on 1 Mar 2027."},
		{tierup.TimeWords(ts("2027-03-01T03:04:05Z"), time.UTC), "1 Mar 2027, 03:04:05 UTC"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
