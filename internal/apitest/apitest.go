// Package apitest is a small client for tests that talk to tierup's HTTP
// API: JSON in, decoded JSON out, and a check that every error is an RFC
// 9457 problem with a code.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Client calls one server.
type Client struct {
	T       testing.TB
	BaseURL string
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Get reads the value at a dotted path such as "subscription.plan".
func (r Response) Get(path string) any { return Dig(r.Body, path) }

// Str reads a string at a dotted path.
func (r Response) Str(path string) string { s, _ := r.Get(path).(string); return s }

// Num reads a number at a dotted path.
func (r Response) Num(path string) int64 { f, _ := r.Get(path).(float64); return int64(f) }

// List reads a list at a dotted path.
func (r Response) List(path string) []any { l, _ := r.Get(path).([]any); return l }

// Dig reads the value at a dotted path inside decoded JSON.
func Dig(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// Do sends a request; body is JSON-encoded unless it is a string. Extra
// headers come in pairs.
func (c Client) Do(method, path, token string, body any, headers ...string) Response {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := Response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			c.T.Errorf("%s %s: %d with Content-Type %q, want application/problem+json", method, path, res.StatusCode, ct)
		}
		if r.Str("code") == "" || r.Str("detail") == "" || r.Num("status") != int64(res.StatusCode) {
			c.T.Errorf("%s %s: problem lacks code, detail or status: %s", method, path, raw)
		}
	}
	return r
}

// Expect fails the test unless r has the status and, when given, the
// problem code.
func (c Client) Expect(r Response, status int, code string) {
	c.T.Helper()
	if r.Status != status || (code != "" && r.Str("code") != code) {
		c.T.Fatalf("got %d %s, want %d %s: %s", r.Status, r.Str("code"), status, code, r.Raw)
	}
}
