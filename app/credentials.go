package app

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// credentials remembers whose API tokens and dashboard sessions this
// process has seen, so that most requests are authenticated without the
// database. Correctness rests on two rules:
//
//   - A token replaced or a session ended by this process is forgotten
//     when the change has committed (forget), and an answer the database
//     gave before that is not kept (gen).
//   - One replaced or ended by another process (another server on
//     PostgreSQL, or `tierup token` on the same SQLite file) raises the
//     store's AuthVersion; it is read again when the last read is older
//     than refresh, and everything is forgotten when it moved. So another
//     process's change takes effect here within refresh.
//
// The version is read again once the last read is half as old as refresh,
// by one request while the others still use the entries, so that under
// load the requests of a refresh do not all go to the database (at 30,000
// a second, each read of the version sent thousands there, which made it
// slower still).
//
// The refresh is timed by the monotonic clock, not the injected one: it
// bounds how stale a credential may be in real time, and a frozen test
// clock must not freeze it. Only hashes of the secrets are kept.
type credentials struct {
	version func(context.Context) (int64, error)
	refresh time.Duration

	mu sync.Mutex
	// gen counts the times everything was forgotten: a database answer
	// read under an older generation may predate the change and is not
	// kept.
	gen        uint64
	seen       int64     // the AuthVersion the entries are valid for
	checked    time.Time // when it was read (the read's start); zero: never
	refreshing bool
	tokens     map[key]string  // SHA-256 of a token → its account's ID
	sessions   map[key]Session // SHA-256 of a session ID → the session
}

// key is the SHA-256 of a secret: a token or a session ID.
type key = [sha256.Size]byte

// maxCredentials bounds each map; a full one is emptied (the database
// answers until it fills again).
const maxCredentials = 100_000

// newCredentials returns the cache; refresh < 0 turns it off.
func newCredentials(version func(context.Context) (int64, error), refresh time.Duration) *credentials {
	if refresh < 0 {
		return nil
	}
	return &credentials{version: version, refresh: refresh}
}

// current reports whether the entries may be used now, reading the
// store's AuthVersion when the last read is older than half of refresh
// (once: the requests that come meanwhile use the entries while the last
// read is younger than refresh, and go to the database after that).
func (c *credentials) current(ctx context.Context) bool {
	c.mu.Lock()
	if c.freshLocked() && (c.refreshing || time.Since(c.checked) < c.refresh/2) {
		c.mu.Unlock()
		return true
	}
	if c.refreshing {
		c.mu.Unlock()
		return false
	}
	c.refreshing = true
	c.mu.Unlock()
	start := time.Now()
	v, err := c.version(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		// The entries stand until refresh has passed since the last read
		// that succeeded, judged now: a read that was slow to fail must
		// not stretch it.
		return c.freshLocked()
	}
	if c.checked.IsZero() || v != c.seen {
		c.clearLocked()
		c.seen = v
	}
	c.checked = start
	return true
}

// freshLocked reports whether the last read of the version is younger
// than refresh.
func (c *credentials) freshLocked() bool {
	return !c.checked.IsZero() && time.Since(c.checked) < c.refresh
}

func (c *credentials) clearLocked() {
	c.gen++
	c.tokens, c.sessions = nil, nil
}

// generation is what a caller takes before reading the database, to give
// to put afterwards.
func (c *credentials) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// forget drops everything: a credential changed in this process.
func (c *credentials) forget() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

// account returns the account of a token (by its hash), if known.
func (c *credentials) account(ctx context.Context, token key) (string, bool) {
	if c == nil {
		return "", false
	}
	return get(ctx, c, &c.tokens, token)
}

// putAccount remembers a token's account, read from the database under
// generation gen.
func (c *credentials) putAccount(gen uint64, token key, accountID string) {
	if c != nil {
		put(c, gen, &c.tokens, token, accountID)
	}
}

// session returns a session by its ID's hash, if known (expired or not:
// the caller judges).
func (c *credentials) session(ctx context.Context, sid key) (Session, bool) {
	if c == nil {
		return Session{}, false
	}
	return get(ctx, c, &c.sessions, sid)
}

// putSession remembers a session read from the database under gen.
func (c *credentials) putSession(gen uint64, sid key, s Session) {
	if c != nil {
		put(c, gen, &c.sessions, sid, s)
	}
}

// get looks an entry up in one of c's maps, when they are current.
func get[V any](ctx context.Context, c *credentials, m *map[key]V, k key) (V, bool) {
	var v V
	if !c.current(ctx) {
		return v, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := (*m)[k]
	return v, ok
}

// put adds an entry to one of c's maps unless everything was forgotten
// since gen (or the version was never read); a full map is emptied first.
func put[V any](c *credentials, gen uint64, m *map[key]V, k key, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.checked.IsZero() {
		return
	}
	if *m == nil || len(*m) >= maxCredentials {
		*m = map[key]V{}
	}
	(*m)[k] = v
}
