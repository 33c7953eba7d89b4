package tierup

import "time"

// PageKey is where a listing sorted newest first stands: the creation time
// and ID of the last item a page showed. Keyed by position, not by offset,
// so that items created between two pages neither shift the next page (no
// item repeated) nor push one past it (none skipped).
type PageKey struct {
	CreatedAt time.Time
	ID        string
}

// UpgradeFilter narrows Store.ListUpgrades. Zero fields match everything.
type UpgradeFilter struct {
	AccountID string
	Status    UpgradeStatus
	// CreatedAfter and CreatedBefore bound the creation time, both
	// exclusive.
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// After continues a listing: only items older than it, by (CreatedAt,
	// ID), are returned.
	After *PageKey
	// Limit is the most items returned; 0 means no limit.
	Limit int
}

// SupportTicketFilter narrows Store.ListSupportTickets. Zero fields match
// everything.
type SupportTicketFilter struct {
	AccountID string
	UpgradeID string
	Status    TicketStatus
	After     *PageKey // as UpgradeFilter.After
	Limit     int      // 0 means no limit
}

// UpgradeStatuses lists every upgrade status.
func UpgradeStatuses() []UpgradeStatus {
	return []UpgradeStatus{UpgradeProcessing, UpgradePaymentFailed, UpgradePaymentActionRequired, UpgradePaused,
		UpgradeNeedsSupport, UpgradeCompleted, UpgradeCanceled}
}

// TicketStatuses lists every support ticket status.
func TicketStatuses() []TicketStatus { return []TicketStatus{TicketOpen, TicketResolved} }
