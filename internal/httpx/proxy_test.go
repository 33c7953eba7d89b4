package httpx_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/httpx"
)

func TestForwarded(t *testing.T) {
	for _, tc := range []struct {
		name          string
		header        http.Header
		client, proto string
	}{
		{"none", http.Header{}, "", ""},
		{"X-Forwarded-For and -Proto", http.Header{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}}, "198.51.100.7", "https"},
		{"the proxy's hop is the last: earlier ones are the client's claims",
			http.Header{"X-Forwarded-For": {"10.0.0.1, 203.0.113.9", "198.51.100.7"}}, "198.51.100.7", ""},
		{"proto lists take the last too", http.Header{"X-Forwarded-Proto": {"http, HTTPS"}}, "", "https"},
		{"Forwarded", http.Header{"Forwarded": {`for=192.0.2.60;proto=https;by=203.0.113.43`}}, "192.0.2.60", "https"},
		{"Forwarded wins over X-Forwarded-For",
			http.Header{"Forwarded": {`for=192.0.2.60`}, "X-Forwarded-For": {"198.51.100.7"}}, "192.0.2.60", ""},
		{"Forwarded's last element", http.Header{"Forwarded": {`for=10.1.1.1;proto=http, for=192.0.2.61;proto=https`}}, "192.0.2.61", "https"},
		{"Forwarded over several header lines", http.Header{"Forwarded": {`for=10.1.1.1`, `For="[2001:db8:cafe::17]:4711";Proto=HTTPS`}}, "2001:db8:cafe::17", "https"},
		{"an IPv4 node with a port", http.Header{"Forwarded": {`for="192.0.2.43:47011"`}}, "192.0.2.43", ""},
		{"an obfuscated node is no address", http.Header{"Forwarded": {`for=_hidden;proto=https`}}, "", "https"},
		{"unknown", http.Header{"X-Forwarded-For": {"unknown"}}, "", ""},
		{"garbage", http.Header{"X-Forwarded-For": {"<script>"}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, proto := httpx.Forwarded(tc.header)
			if client != tc.client || proto != tc.proto {
				t.Errorf("Forwarded = %q, %q; want %q, %q", client, proto, tc.client, tc.proto)
			}
		})
	}
}

func TestBehindProxy(t *testing.T) {
	type seen struct {
		ip     string
		secure bool
	}
	serve := func(trust bool, header http.Header) seen {
		var got seen
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = seen{httpx.ClientIP(r.RemoteAddr), httpx.Secure(r)}
		})
		if trust {
			h = httpx.BehindProxy(h)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:51000" // the proxy
		r.Header = header
		h.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	forwarded := http.Header{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}}
	for _, tc := range []struct {
		name   string
		trust  bool
		header http.Header
		want   seen
	}{
		{"not trusted: the headers are ignored", false, forwarded, seen{"127.0.0.1", false}},
		{"trusted", true, forwarded, seen{"198.51.100.7", true}},
		{"trusted, plain http", true, http.Header{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"http"}}, seen{"198.51.100.7", false}},
		{"trusted, no headers: the peer", true, http.Header{}, seen{"127.0.0.1", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := serve(tc.trust, tc.header); got != tc.want {
				t.Errorf("handler saw %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzForwarded: any header gives no address or a real IP, in the form
// that the client IP recorded under BehindProxy reads back, and a
// lower-case scheme; it never panics. Seeds: below and
// testdata/fuzz/FuzzForwarded.
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{`for=192.0.2.60;proto=https`, `for="[2001:db8::1]:4711"`, `for=_x, for=1.2.3.4`, `;;==,,`, `for="`, ""} {
		f.Add(s, "198.51.100.7, 10.0.0.1", "https")
	}
	f.Fuzz(func(t *testing.T, fwd, xff, xfp string) {
		h := http.Header{}
		if fwd != "" {
			h.Set("Forwarded", fwd)
		}
		h.Set("X-Forwarded-For", xff)
		h.Set("X-Forwarded-Proto", xfp)
		client, proto := httpx.Forwarded(h)
		if client != "" && net.ParseIP(client) == nil {
			t.Errorf("client %q is not an IP", client)
		}
		if client != "" && httpx.ClientIP(net.JoinHostPort(client, "0")) != client {
			t.Errorf("client %q reads back as %q", client, httpx.ClientIP(net.JoinHostPort(client, "0")))
		}
		if proto != strings.ToLower(proto) {
			t.Errorf("proto %q is not lower case", proto)
		}
	})
}
