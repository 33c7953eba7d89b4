package tierup

import (
	"time"
	_ "time/tzdata" // account time zones must resolve on hosts without zoneinfo
)

// Clock tells the time. Every piece of code that needs "now" takes a Clock,
// so tests and sandbox test clocks can fix it.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the machine's clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// FixedClock always returns the same instant.
type FixedClock time.Time

// Now returns the fixed instant.
func (c FixedClock) Now() time.Time { return time.Time(c) }

// TimeProblem says why t cannot be an instant a client sets (a test
// clock's time, the start of a backdated period), or returns "". Such an
// instant must lie from 1970 to 2199: well inside the years 0000–9999 that
// RFC 3339 and JSON can write, so that every period and quote computed from
// it (plans last at most MaxIntervalMonths) can be written too, and an
// offset such as 9999-12-31T23:59:59-23:59 cannot carry it outside.
func TimeProblem(t time.Time) string {
	if t.Before(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)) || !t.Before(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)) {
		return "must be from 1970-01-01T00:00:00Z to 2199-12-31T23:59:59Z"
	}
	return ""
}

// AddMonths adds n calendar months to t as seen in loc: the same local time of
// day, with the day clamped to the last day of the target month (Jan 31 + 1
// month is Feb 28, or Feb 29 in a leap year). time.AddDate would normalise
// Jan 31 + 1 month to Mar 3, which is wrong for billing periods.
func AddMonths(t time.Time, n int, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, m, d := lt.Date()
	hh, mm, ss := lt.Clock()
	total := int(m) - 1 + n
	ty := y + floorDiv(total, 12)
	tm := time.Month(total - floorDiv(total, 12)*12 + 1)
	if last := DaysIn(ty, tm); d > last {
		d = last
	}
	return time.Date(ty, tm, d, hh, mm, ss, lt.Nanosecond(), loc).In(t.Location())
}

// DaysIn returns the number of days in month m of year y.
func DaysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
