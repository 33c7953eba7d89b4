package smtpmail

import (
	"net"
	"testing"
)

// The refusal to send a password in clear text to a remote relay cannot be
// shown end to end, as test relays run on loopback.
func TestAuthAllowed(t *testing.T) {
	for _, tc := range []struct {
		tls    bool
		remote net.Addr
		want   bool
	}{
		{false, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25}, true},
		{false, &net.TCPAddr{IP: net.IPv6loopback, Port: 25}, true},
		{false, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 25}, false},
		{true, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 587}, true},
		{false, &net.UnixAddr{Name: "/tmp/smtp", Net: "unix"}, false},
	} {
		if got := authAllowed(tc.tls, tc.remote); got != tc.want {
			t.Errorf("authAllowed(tls=%v, %v) = %v, want %v", tc.tls, tc.remote, got, tc.want)
		}
	}
}
