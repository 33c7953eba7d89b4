package workflow

import (
	"context"
	"sync"

	"github.com/tierup/tierup"
)

// keptSize bounds the records of each kind an engine keeps: a few minutes
// of upgrades at full speed. Past it the kind starts over.
const keptSize = 4096

// kept holds records that do not change once stored, by ID, so that an
// upgrade reads each once, or not at all when Create was handed it: its
// quote (both dialects refuse an UPDATE of one), which the payment, the
// activation and the receipt read; and the card it pays with, of which
// only a deletion is ever recorded, and a charge reads only the gateway's
// reference and customer, fixed when the card was saved.
type kept[T any] struct {
	mu sync.Mutex
	m  map[string]*T
}

func (k *kept[T]) put(id string, v *T) {
	if v == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) >= keptSize {
		k.m = make(map[string]*T)
	}
	k.m[id] = v
}

// get returns the record id, kept or read by read (and kept then). Errors:
// read's.
func (k *kept[T]) get(ctx context.Context, id string, read func(context.Context, string) (*T, error)) (*T, error) {
	k.mu.Lock()
	v, ok := k.m[id]
	k.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := read(ctx, id)
	if err != nil {
		return nil, err
	}
	k.put(id, v)
	return v, nil
}

// quote returns the quote id. Its signature is the caller's to check.
// Errors: the store's (ErrNotFound).
func (e *Engine) quote(ctx context.Context, id string) (*tierup.Quote, error) {
	return e.quotes.get(ctx, id, e.Store.Quote)
}

// paymentMethod returns the card id. Errors: the store's (ErrNotFound).
func (e *Engine) paymentMethod(ctx context.Context, id string) (*tierup.PaymentMethod, error) {
	return e.cards.get(ctx, id, e.Store.PaymentMethod)
}
