// Package adminclient is a small client of tierup's admin API, for the
// operator commands of the tierup binary (tierup upgrades, tierup
// tickets). It returns the server's JSON as it came, so that --json can
// print it untouched, and turns problem+json answers into *Problem errors.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one request when the caller's context has no
// earlier deadline.
const DefaultTimeout = 30 * time.Second

// maxBody caps what is read of an answer: a listing page of 200 upgrades
// is far below it, a misconfigured --server pointing at a download is not.
const maxBody = 32 << 20

// Client calls one tierup server as the admin.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	timeout time.Duration
}

// New returns a client of the server at base (e.g. http://127.0.0.1:8080)
// using the admin token. A zero timeout means DefaultTimeout.
func New(base, token string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want the server's http(s) URL, e.g. http://127.0.0.1:8080", base)
	}
	if token == "" {
		return nil, errors.New("no admin token: give --admin-token or set TIERUP_ADMIN_TOKEN")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// No client-wide timeout: each request gets a context deadline, which
	// also covers reading the body.
	return &Client{base: u, token: token, http: &http.Client{}, timeout: timeout}, nil
}

// Problem is the server's problem+json error.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Title  string `json:"title"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	for _, f := range p.Errors {
		msg += fmt.Sprintf("; %s: %s", f.Location, f.Message)
	}
	return fmt.Sprintf("server answered %d: %s (code %s)", p.Status, msg, p.Code)
}

// Page is one page of a listing: the raw items and the cursor of the next
// page, empty on the last.
type Page struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Get fetches path (with query) and returns the raw JSON body.
func (c *Client) Get(ctx context.Context, path string, query url.Values) (json.RawMessage, error) {
	return c.do(ctx, http.MethodGet, path, query)
}

// Post posts an empty JSON body to path and returns the raw JSON answer.
func (c *Client) Post(ctx context.Context, path string) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, path, nil)
}

// List fetches one page of a listing; with all, it follows next_cursor to
// the end and returns every item as one page.
func (c *Client) List(ctx context.Context, path string, query url.Values, all bool) (*Page, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	var out Page
	for {
		raw, err := c.Get(ctx, path, q)
		if err != nil {
			return nil, err
		}
		var p Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("GET %s: unexpected answer: %w", path, err)
		}
		out.Data = append(out.Data, p.Data...)
		out.NextCursor = p.NextCursor
		if !all || p.NextCursor == "" {
			return &out, nil
		}
		q.Set("cursor", p.NextCursor)
	}
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout,
		fmt.Errorf("no answer from %s within %s", c.base.Host, c.timeout))
	defer cancel()
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	var body io.Reader
	if method == http.MethodPost {
		body = bytes.NewReader([]byte("{}"))
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, context.Cause(ctx))
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(b, p) != nil || (p.Code == "" && p.Detail == "") {
			// Not tierup's problem+json: a proxy or another server.
			return nil, fmt.Errorf("%s %s: server answered %s: %s", method, path, resp.Status, snippet(b))
		}
		p.Status = resp.StatusCode
		return nil, p
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s %s: the answer is not JSON (is --server tierup's API?): %s", method, path, snippet(b))
	}
	return b, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
