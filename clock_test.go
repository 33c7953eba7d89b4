package tierup_test

import (
	"testing"
	"time"

	"github.com/tierup/tierup"
)

// TestTimeProblem: the instants clients may set stay within the years JSON
// can write, whatever their offset (found by FuzzAPIBodies: a test clock at
// 0000-01-01T00:00:00+00:01 is in the year -1 once in UTC, and its answer
// could not be written).
func TestTimeProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"now", ts("2026-03-14T09:26:53Z"), true},
		{"the first instant", ts("1970-01-01T00:00:00Z"), true},
		{"the last second", ts("2199-12-31T23:59:59Z"), true},
		{"a second before", ts("1969-12-31T23:59:59Z"), false},
		{"2200", ts("2200-01-01T00:00:00Z"), false},
		{"the year -1 in UTC", ts("0000-01-01T00:00:00+00:01"), false},
		{"the year 10000 in UTC", ts("9999-12-31T23:59:59-23:59"), false},
		{"zero", time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tierup.TimeProblem(tc.at); (got == "") != tc.ok {
				t.Errorf("TimeProblem(%s) = %q, want ok=%v", tc.at, got, tc.ok)
			}
		})
	}
}
