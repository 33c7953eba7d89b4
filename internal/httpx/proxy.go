package httpx

import (
	"context"
	"net"
	"net/http"
	"strings"
)

type secureKey struct{}

// BehindProxy makes h see each request as the client sent it to the one
// reverse proxy in front of tierup (an ingress or load balancer that
// terminates TLS): the client's address from the proxy's Forwarded header
// (RFC 7239) or, without it, X-Forwarded-For, and the scheme from
// Forwarded's proto or X-Forwarded-Proto. Only the last element of each
// counts, the one the trusted proxy itself added: earlier ones come from
// the client and prove nothing.
//
// Use it only when every request comes through such a proxy; otherwise any
// client can claim any address.
func BehindProxy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, proto := Forwarded(r.Header)
		if client == "" && proto == "" {
			h.ServeHTTP(w, r)
			return
		}
		r2 := r.WithContext(r.Context())
		if client != "" {
			r2.RemoteAddr = net.JoinHostPort(client, "0")
		}
		if strings.EqualFold(proto, "https") {
			r2 = r2.WithContext(context.WithValue(r2.Context(), secureKey{}, true))
		}
		h.ServeHTTP(w, r2)
	})
}

// Secure reports whether the client reached tierup over HTTPS: with TLS
// here, or, under BehindProxy, to the proxy. It decides the session
// cookie's Secure attribute and HSTS.
func Secure(r *http.Request) bool {
	proxied, _ := r.Context().Value(secureKey{}).(bool)
	return r.TLS != nil || proxied
}

// Forwarded reads the client's address and the scheme it used from the
// last hop of a request's forwarding headers: Forwarded when present, else
// X-Forwarded-For and X-Forwarded-Proto. An address that does not parse as
// an IP (an obfuscated "_hidden" or "unknown" node) is "".
func Forwarded(h http.Header) (client, proto string) {
	if last, ok := lastHop(h, "Forwarded"); ok {
		for _, pair := range strings.Split(last, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				continue
			}
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "for":
				client = nodeIP(value)
			case "proto":
				proto = strings.ToLower(value)
			}
		}
		return client, proto
	}
	if last, ok := lastHop(h, "X-Forwarded-For"); ok {
		client = nodeIP(strings.TrimSpace(last))
	}
	if last, ok := lastHop(h, "X-Forwarded-Proto"); ok {
		proto = strings.ToLower(strings.TrimSpace(last))
	}
	return client, proto
}

// lastHop is the last comma-separated element of a header over all its
// lines: the one the nearest proxy added.
func lastHop(h http.Header, name string) (string, bool) {
	values := h.Values(name)
	if len(values) == 0 {
		return "", false
	}
	joined := strings.Join(values, ",")
	return joined[strings.LastIndex(joined, ",")+1:], true
}

// nodeIP is the IP of a forwarded node: 192.0.2.1, 192.0.2.1:4711,
// [2001:db8::1] or [2001:db8::1]:4711.
func nodeIP(node string) string {
	host := node
	if h, _, err := net.SplitHostPort(node); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return ""
}
