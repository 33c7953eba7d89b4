// Package apitest is a small client for tests that talk to tierup's HTTP
// API: JSON in, decoded JSON out, and a check that every error is an RFC
// 9457 problem with a code.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup"
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
// headers come in pairs. A request that gets no answer fails the test.
func (c Client) Do(method, path, token string, body any, headers ...string) Response {
	c.T.Helper()
	r, err := c.Try(method, path, token, body, headers...)
	if err != nil {
		c.T.Fatal(err)
	}
	return r
}

// Try is Do for a server that may be down: it returns the error of a
// request that got no answer (the connection refused or cut) instead of
// failing the test, so that the caller can send it again. It may be called
// from any goroutine.
func (c Client) Try(method, path, token string, body any, headers ...string) (Response, error) {
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
		return Response{}, err
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
		return Response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return Response{}, err // cut off mid-answer
	}
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
	return r, nil
}

// Expect fails the test unless r has the status and, when given, the
// problem code.
func (c Client) Expect(r Response, status int, code string) {
	c.T.Helper()
	if r.Status != status || (code != "" && r.Str("code") != code) {
		c.T.Fatalf("got %d %s, want %d %s: %s", r.Status, r.Str("code"), status, code, r.Raw)
	}
}

// CheckReceiptNumbers checks that the receipt numbers are 1…want in one
// series: none skipped nor used twice.
func CheckReceiptNumbers(t testing.TB, numbers []string, want int) {
	t.Helper()
	var seqs []int64
	series := map[string]bool{}
	for _, number := range numbers {
		s, seq, ok := tierup.ParseReceiptNumber(number)
		if !ok {
			t.Errorf("receipt number %q", number)
			continue
		}
		series[s] = true
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Errorf("receipt numbers %v: want 1…%d with no gap and no duplicate", seqs, want)
			break
		}
	}
	if len(seqs) != want || len(series) != 1 {
		t.Errorf("%d receipts in series %v, want %d in one", len(seqs), series, want)
	}
}
