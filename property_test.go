package tierup_test

import (
	"errors"
	"math/big"
	"reflect"
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
		loc, _ := time.LoadLocation(rapid.SampledFrom(zones).Draw(t, "zone"))
		now := time.Unix(rapid.Int64Range(ts("2024-01-01T00:00:00Z").Unix(), ts("2032-01-01T00:00:00Z").Unix()).Draw(t, "now"), 0).UTC()
		from := rapid.SampledFrom(plans).Draw(t, "from")
		to := rapid.SampledFrom(plans).Draw(t, "to")
		policy := rapid.SampledFrom([]tierup.Policy{tierup.PolicyCarryover, tierup.PolicyValue, tierup.PolicyCredit}).Draw(t, "policy")
		current := tierup.Subscription{PlanID: from.ID}
		if !from.Free() {
			// Started up to two periods ago: active or ended.
			back := rapid.Int64Range(0, int64(from.IntervalMonths)*62*86400).Draw(t, "back")
			start := now.Add(-time.Duration(back) * time.Second)
			current.PeriodStart, current.PeriodEnd = start, tierup.AddMonths(start, from.IntervalMonths, loc)
		}
		in := tierup.QuoteInput{Now: now, Location: loc, Current: current, From: &from, To: &to, Policy: policy}
		q, err := cat.PriceUpgrade(in)
		if err != nil {
			if tierup.ErrorCode(err) == tierup.CodeInternal {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		again, _ := cat.PriceUpgrade(in)
		if !reflect.DeepEqual(q, again) {
			t.Fatal("the same inputs gave different quotes")
		}
		if !q.NewPeriod.End.After(now) || !q.NewPeriod.Start.Equal(now) {
			t.Fatalf("new period %v does not start now and end later", q.NewPeriod)
		}
		if q.AmountDue.Amount < 0 || q.AmountDue.Amount > to.Price.Amount {
			t.Fatalf("amount due %d outside [0, %d]", q.AmountDue.Amount, to.Price.Amount)
		}
		if q.RemainingSeconds < 0 || q.RemainingSeconds != int64(current.Remaining(now)/time.Second) {
			t.Fatalf("remaining %d", q.RemainingSeconds)
		}
		base := tierup.AddMonths(now, to.IntervalMonths, loc)
		switch q.Adjustment.Kind {
		case tierup.AdjustExtension:
			if q.Adjustment.Seconds < 0 {
				t.Fatal("negative extension")
			}
		case tierup.AdjustDeduction:
			if q.Adjustment.Seconds > 0 {
				t.Fatal("positive deduction")
			}
		case tierup.AdjustTimeCredit:
			// Never more time than the money buys: s·p_new·len_old ≤ p_old·rem·len_new,
			// and not a whole second less either.
			oldLen := int64(current.PeriodEnd.Sub(current.PeriodStart) / time.Second)
			newLen := int64(base.Sub(now) / time.Second)
			lhs := new(big.Int).Mul(big.NewInt(q.Adjustment.Seconds), big.NewInt(to.Price.Amount*oldLen))
			rhs := new(big.Int).Mul(big.NewInt(from.Price.Amount*q.RemainingSeconds), big.NewInt(newLen))
			if lhs.Cmp(rhs) > 0 {
				t.Fatalf("value policy gave %d s, more than the money buys", q.Adjustment.Seconds)
			}
			lhs.Add(lhs, big.NewInt(to.Price.Amount*oldLen))
			if lhs.Cmp(rhs) <= 0 {
				t.Fatalf("value policy gave %d s, a whole second short", q.Adjustment.Seconds)
			}
		case tierup.AdjustCredit:
			if q.Adjustment.Amount == nil || q.Adjustment.Amount.Amount < 0 {
				t.Fatal("credit without a non-negative amount")
			}
		case tierup.AdjustNone:
			if q.RemainingSeconds != 0 {
				t.Fatal("no adjustment with time remaining")
			}
		}
		if want := base.Add(time.Duration(q.Adjustment.Seconds) * time.Second); !q.NewPeriod.End.Equal(want) {
			t.Fatalf("end %s, want base %s + adjustment %d", q.NewPeriod.End, base, q.Adjustment.Seconds)
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
