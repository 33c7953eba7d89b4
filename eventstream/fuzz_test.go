package eventstream_test

import (
	"errors"
	"math"
	"math/big"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tierup/tierup/eventstream"
)

// FuzzLastEventID: for any Last-Event-ID header and query string,
// LastEventID answers the event number the header (or, without one, the
// last_event_id parameter) spells in decimal, 0 for none, or
// ErrBadLastEventID for anything that is not a number from 0 to 2^63-1.
func FuzzLastEventID(f *testing.F) {
	for _, s := range [][2]string{{"7", ""}, {"", "last_event_id=9"}, {"3", "last_event_id=9"}, {"x", ""}, {"-1", ""},
		{"9223372036854775807", ""}, {"9223372036854775808", ""}, {"", "last_event_id=%zz"}, {"+7", ""}, {"-0", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, header, rawQuery string) {
		r := httptest.NewRequest("GET", "/v1/upgrades/upg_1/events", nil)
		r.URL.RawQuery = rawQuery
		if header != "" {
			r.Header.Set("Last-Event-ID", header)
		}
		got, err := eventstream.LastEventID(r)

		s := header
		if s == "" {
			q, _ := url.ParseQuery(rawQuery) // what parses of a bad query counts
			s = q.Get("last_event_id")
		}
		// The reference: the exact decimal value, in range, in digits
		// alone (big.Int also reads a sign).
		v, ok := new(big.Int).SetString(s, 10)
		ok = ok && strings.Trim(s, "0123456789") == ""
		switch {
		case s == "":
			if got != 0 || err != nil {
				t.Fatalf("no ID: %d, %v", got, err)
			}
		case ok && v.Sign() >= 0 && v.Cmp(big.NewInt(math.MaxInt64)) <= 0:
			if got != v.Int64() || err != nil {
				t.Fatalf("LastEventID(%q) = %d, %v; want %s", s, got, err, v)
			}
		default:
			if got != 0 || !errors.Is(err, eventstream.ErrBadLastEventID) {
				t.Fatalf("LastEventID(%q) = %d, %v; want ErrBadLastEventID", s, got, err)
			}
		}
	})
}
