package tierup_test

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"pgregory.net/rapid"
)

var zones = []string{"UTC", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"}

func TestAddMonthsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		loc, _ := time.LoadLocation(rapid.SampledFrom(zones).Draw(t, "zone"))
		base := time.Unix(rapid.Int64Range(ts("2000-01-01T00:00:00Z").Unix(), ts("2040-01-01T00:00:00Z").Unix()).Draw(t, "unix"), 0)
		n := rapid.IntRange(0, 36).Draw(t, "months")
		got := tierup.AddMonths(base, n, loc).In(loc)
		b := base.In(loc)

		wantMonth := (int(b.Month()) - 1 + n) % 12
		if int(got.Month())-1 != wantMonth || got.Year() != b.Year()+(int(b.Month())-1+n)/12 {
			t.Fatalf("AddMonths(%s, %d) = %s: wrong month", b, n, got)
		}
		last := tierup.DaysIn(got.Year(), got.Month())
		if want := min(b.Day(), last); got.Day() != want {
			t.Fatalf("AddMonths(%s, %d) = %s: day %d, want %d", b, n, got, got.Day(), want)
		}
		// Same wall-clock time unless that time does not exist on the
		// target day (a DST gap).
		if got.Hour() != b.Hour() || got.Minute() != b.Minute() {
			probe := time.Date(got.Year(), got.Month(), got.Day(), b.Hour(), b.Minute(), b.Second(), 0, loc)
			if probe.Hour() == b.Hour() && probe.Minute() == b.Minute() {
				t.Fatalf("AddMonths(%s, %d) = %s: time of day changed", b, n, got)
			}
		}
		if n > 0 && !got.After(base) {
			t.Fatalf("AddMonths(%s, %d) = %s is not later", b, n, got)
		}
	})
}

func TestMulDivHalfUpMatchesRational(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.Int64Range(-1e12, 1e12).Draw(t, "a")
		num := rapid.Int64Range(0, 1e9).Draw(t, "num")
		den := rapid.Int64Range(1, 1e9).Draw(t, "den")
		got, err := tierup.MulDivHalfUp(a, num, den)

		// Reference: round(|x|) = ⌊|x| + ½⌋, sign restored.
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(a), big.NewInt(num)), big.NewInt(den))
		abs := new(big.Rat).Abs(exact)
		abs.Add(abs, big.NewRat(1, 2))
		want := new(big.Int).Quo(abs.Num(), abs.Denom())
		if exact.Sign() < 0 {
			want.Neg(want)
		}
		if !want.IsInt64() {
			if !errors.Is(err, tierup.ErrOverflow) {
				t.Fatalf("MulDivHalfUp(%d,%d,%d) = %d, %v; want overflow", a, num, den, got, err)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("MulDivHalfUp(%d,%d,%d) = %d, %v; want %s", a, num, den, got, err, want)
		}
	})
}

func TestMulDivHalfUpHalves(t *testing.T) {
	for _, c := range []struct{ a, num, den, want int64 }{
		{5, 1, 2, 3}, {-5, 1, 2, -3}, {1, 1, 2, 1}, {1, 1, 3, 0}, {2, 1, 3, 1}, {15600, 1728000, 15638400, 1724},
	} {
		if got, err := tierup.MulDivHalfUp(c.a, c.num, c.den); err != nil || got != c.want {
			t.Errorf("MulDivHalfUp(%d,%d,%d) = %d, want %d", c.a, c.num, c.den, got, c.want)
		}
	}
}

func TestMulDivOverflow(t *testing.T) {
	if _, err := tierup.MulDivHalfUp(1<<62, 4, 1); !errors.Is(err, tierup.ErrOverflow) {
		t.Errorf("MulDivHalfUp overflow: %v", err)
	}
	if _, err := tierup.MulDivFloor(1<<40, 1<<40, 1, 1, 1); !errors.Is(err, tierup.ErrOverflow) {
		t.Errorf("MulDivFloor overflow: %v", err)
	}
}

func TestQuoteProperties(t *testing.T) {
	cat := tierup.DefaultCatalog()
	plans := cat.Plans()
	rapid.Check(t, func(t *rapid.T) {
		now, loc := drawNow(t)
		from, current := drawSubscription(t, plans, now, loc)
		to := rapid.SampledFrom(plans).Draw(t, "to")
		policy := rapid.SampledFrom([]tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit}).Draw(t, "policy")
		in := tierup.QuoteInput{Now: now, Location: loc, Current: current, From: &from, To: &to, Policy: policy}
		q, err := cat.PriceUpgrade(in)
		if err != nil {
			if tierup.ErrorCode(err) == tierup.CodeInternal {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if err := quoteInvariants(cat, in, q); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkPriceUpgrade(b *testing.B) {
	cat := tierup.DefaultCatalog()
	from, _ := cat.Plan("pro-6m")
	to, _ := cat.Plan("team-12m")
	start := ts("2026-01-01T00:00:00Z")
	in := tierup.QuoteInput{Now: ts("2026-03-14T09:26:53Z"), Location: time.UTC, From: from, To: to, Policy: tierup.PolicyCredit,
		Current: tierup.Subscription{PlanID: from.ID, PeriodStart: start, PeriodEnd: tierup.AddMonths(start, 6, time.UTC)}}
	for b.Loop() {
		if _, err := cat.PriceUpgrade(in); err != nil {
			b.Fatal(err)
		}
	}
}
