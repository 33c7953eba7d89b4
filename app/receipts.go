package app

import (
	"context"
	"strings"

	"github.com/tierup/tierup"
)

// maxIDLength bounds the IDs a caller sends, as the API's schema does.
const maxIDLength = 64

// Receipts lists the account's receipts and credit notes, newest first
// (never nil).
func (a *App) Receipts(ctx context.Context, accountID string) ([]*tierup.Receipt, error) {
	rs, err := a.store.Receipts(ctx, accountID)
	if rs == nil {
		rs = []*tierup.Receipt{}
	}
	return rs, err
}

// Receipt returns a receipt or credit note its account or the admin may
// see; another account's is not found, as for upgrades. Errors:
// CodeInvalid for an ID that cannot be one, CodeNotFound.
func (a *App) Receipt(ctx context.Context, p Principal, id string) (*tierup.Receipt, error) {
	if id == "" || len(id) > maxIDLength || strings.ContainsAny(id, "/. ") {
		return nil, tierup.Invalid(tierup.FieldError{Location: "path.id", Message: "a receipt ID looks like rcpt_… (at most 64 characters)"})
	}
	r, err := a.store.Receipt(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.sees(r.AccountID) {
		return nil, tierup.Errorf(tierup.CodeNotFound, "receipt %s not found", id)
	}
	return r, nil
}
