package app

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tierup/tierup"
)

// Page sizes of the listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// UpgradeQuery selects a page of upgrades. Zero fields match everything.
type UpgradeQuery struct {
	Account string
	Status  string // one of tierup.UpgradeStatuses
	// CreatedAfter and CreatedBefore bound the creation time, exclusive.
	CreatedAfter, CreatedBefore time.Time
	Limit                       int    // DefaultPageSize when 0, at most MaxPageSize
	Cursor                      string // a previous page's NextCursor
}

// UpgradePage is one page of upgrades, newest first.
type UpgradePage struct {
	Data []*tierup.Upgrade
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// TicketQuery selects a page of support tickets. Zero fields match
// everything.
type TicketQuery struct {
	Account string
	Upgrade string
	Status  string // one of tierup.TicketStatuses
	Limit   int    // DefaultPageSize when 0, at most MaxPageSize
	Cursor  string
}

// TicketPage is one page of support tickets, newest first.
type TicketPage struct {
	Data       []*tierup.SupportTicket
	NextCursor string
}

// ListUpgrades lists upgrades: the admin's of every account, an account's
// only its own — its query's account is replaced by its own, and naming
// another finds nothing, as reading another's upgrade does.
// Errors: CodeInvalid for a bad status, limit or cursor.
func (a *App) ListUpgrades(ctx context.Context, p Principal, q UpgradeQuery) (*UpgradePage, error) {
	f := tierup.UpgradeFilter{AccountID: q.Account, CreatedAfter: q.CreatedAfter, CreatedBefore: q.CreatedBefore}
	var bad []tierup.FieldError
	if q.Status != "" {
		if !slices.Contains(tierup.UpgradeStatuses(), tierup.UpgradeStatus(q.Status)) {
			bad = append(bad, tierup.FieldError{Location: "query.status", Message: "status must be one of " + joinStatuses(tierup.UpgradeStatuses())})
		}
		f.Status = tierup.UpgradeStatus(q.Status)
	}
	filters := listingFilters(q.Status, q.Account, q.CreatedAfter.UTC().Format(time.RFC3339Nano), q.CreatedBefore.UTC().Format(time.RFC3339Nano))
	limit, after, bad := pageArgs(q.Limit, q.Cursor, filters, bad)
	if len(bad) > 0 {
		return nil, tierup.Invalid(bad...)
	}
	switch {
	case p.Admin:
	case p.Account != nil:
		if f.AccountID != "" && f.AccountID != p.Account.ID {
			return &UpgradePage{Data: []*tierup.Upgrade{}}, nil
		}
		f.AccountID = p.Account.ID
	default:
		return nil, tierup.Errorf(tierup.CodeForbidden, "listing upgrades needs an API token")
	}
	// One more than the page shows tells whether another page follows.
	f.After, f.Limit = after, limit+1
	us, err := a.store.ListUpgrades(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &UpgradePage{Data: us}
	if len(us) > limit {
		last := us[limit-1]
		page.Data, page.NextCursor = us[:limit], encodeCursor(last.CreatedAt, last.ID, filters)
	}
	if page.Data == nil {
		page.Data = []*tierup.Upgrade{}
	}
	return page, nil
}

// ListSupportTickets lists support tickets (admin). Errors: CodeInvalid for
// a bad status, limit or cursor.
func (a *App) ListSupportTickets(ctx context.Context, q TicketQuery) (*TicketPage, error) {
	f := tierup.SupportTicketFilter{AccountID: q.Account, UpgradeID: q.Upgrade}
	var bad []tierup.FieldError
	if q.Status != "" {
		if !slices.Contains(tierup.TicketStatuses(), tierup.TicketStatus(q.Status)) {
			bad = append(bad, tierup.FieldError{Location: "query.status", Message: "status must be one of " + joinStatuses(tierup.TicketStatuses())})
		}
		f.Status = tierup.TicketStatus(q.Status)
	}
	filters := listingFilters(q.Status, q.Account, q.Upgrade)
	limit, after, bad := pageArgs(q.Limit, q.Cursor, filters, bad)
	if len(bad) > 0 {
		return nil, tierup.Invalid(bad...)
	}
	f.After, f.Limit = after, limit+1
	ts, err := a.store.ListSupportTickets(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &TicketPage{Data: ts}
	if len(ts) > limit {
		last := ts[limit-1]
		page.Data, page.NextCursor = ts[:limit], encodeCursor(last.CreatedAt, last.ID, filters)
	}
	if page.Data == nil {
		page.Data = []*tierup.SupportTicket{}
	}
	return page, nil
}

// pageArgs checks a listing's limit and cursor, adding what is wrong to bad.
// A cursor continues only the listing it came from: under other filters its
// position would skip or repeat items silently, so it is refused.
func pageArgs(limit int, cursor, filters string, bad []tierup.FieldError) (int, *tierup.PageKey, []tierup.FieldError) {
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		bad = append(bad, tierup.FieldError{Location: "query.limit", Message: "limit must be between 1 and 200"})
	}
	var after *tierup.PageKey
	if cursor != "" {
		k, f, ok := decodeCursor(cursor)
		switch {
		case !ok:
			bad = append(bad, tierup.FieldError{Location: "query.cursor", Message: "the cursor is not one this API returned; start again without it"})
		case f != filters:
			bad = append(bad, tierup.FieldError{Location: "query.cursor", Message: "the cursor belongs to a listing with other filters; keep the first page's filters, or start again without it"})
		}
		after = k
	}
	return limit, after, bad
}

// listingFilters names a listing's filters in one string that a cursor
// carries (hashed), so that pageArgs can tell the listing it belongs to.
func listingFilters(values ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(values, "\x00")))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// cursor is a page position as clients carry it: opaque to them (base64 of
// this JSON), so that its form may change.
type cursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
	Filters   string    `json:"f"` // listingFilters of the listing
}

func encodeCursor(createdAt time.Time, id, filters string) string {
	b, _ := json.Marshal(cursor{CreatedAt: createdAt.UTC(), ID: id, Filters: filters}) // times and strings always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (key *tierup.PageKey, filters string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, "", false
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID == "" || c.CreatedAt.IsZero() {
		return nil, "", false
	}
	return &tierup.PageKey{CreatedAt: c.CreatedAt, ID: c.ID}, c.Filters, true
}

func joinStatuses[S ~string](ss []S) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
