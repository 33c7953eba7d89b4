package workflow

import (
	"context"
	"sync"

	"github.com/tierup/tierup"
)

// quoteCacheSize bounds the quotes an engine keeps: a few minutes of
// upgrades at full speed. Past it the cache starts over.
const quoteCacheSize = 4096

// quoteCache keeps the quotes the engine has read. A stored quote never
// changes (both dialects refuse an UPDATE of one), so a kept one is never
// stale, and the payment, the activation and the receipt of an upgrade
// read it once instead of once each.
type quoteCache struct {
	mu     sync.Mutex
	quotes map[string]*tierup.Quote
}

// quote returns the quote id, from the cache or the store. Its signature
// is the caller's to check. Errors: the store's (ErrNotFound).
func (e *Engine) quote(ctx context.Context, id string) (*tierup.Quote, error) {
	c := &e.quotes
	c.mu.Lock()
	q, ok := c.quotes[id]
	c.mu.Unlock()
	if ok {
		return q, nil
	}
	q, err := e.Store.Quote(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.quotes == nil || len(c.quotes) >= quoteCacheSize {
		c.quotes = make(map[string]*tierup.Quote)
	}
	c.quotes[id] = q
	c.mu.Unlock()
	return q, nil
}
