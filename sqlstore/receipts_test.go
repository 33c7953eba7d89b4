package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

// receiptOf is a receipt of upgrade u issued at at, for payment ref.
func receiptOf(u *tierup.Upgrade, kind tierup.ReceiptKind, ref string, at time.Time) *tierup.Receipt {
	usd := func(n int64) tierup.Money { return tierup.Money{Amount: n, Currency: "USD"} }
	return &tierup.Receipt{ID: tierup.NewID("rcpt"), Kind: kind, AccountID: u.AccountID, UpgradeID: u.ID, QuoteID: u.QuoteID,
		PaymentRef: ref, IssuedAt: at, TimeZone: "Europe/Berlin", IssuedDate: "1 March 2026",
		Seller: tierup.Seller{Name: "Zoë Müller GmbH", Address: "Straße 1\nBerlin", TaxID: "DE123"},
		Buyer:  tierup.Buyer{Name: "Ada", Email: "ada@example.com"}, Lines: []tierup.Line{{Description: "Pro (1 month)", Amount: usd(2900)}},
		Adjustment: "None", Subtotal: usd(2417), TaxRate: "20%", Tax: usd(483), Total: usd(2900), Card: tierup.CardRef{Brand: "visa", Last4: "4242"}}
}

// upgrades stores n upgrades, each of a new account.
func (f fixture) upgrades(n int) []*tierup.Upgrade {
	f.t.Helper()
	var ups []*tierup.Upgrade
	for i := range n {
		u, err := f.upgrade(fmt.Sprintf("upg_%d", i), "", nil)
		if err != nil {
			f.t.Fatal(err)
		}
		ups = append(ups, u)
	}
	return ups
}

func TestReceiptNumbers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ups := fixture{t, db, at}.upgrades(4)
		issue := func(r *tierup.Receipt) string {
			t.Helper()
			if err := db.IssueReceipt(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r.Number
		}
		rollback := errors.New("roll back")

		first := receiptOf(ups[0], tierup.KindReceipt, "ch_0", at)
		steps := []struct {
			name string
			do   func() string
			want string
		}{
			{"the first number of the year", func() string { return issue(first) }, "TU-2026-000001"},
			{"the next", func() string { return issue(receiptOf(ups[1], tierup.KindReceipt, "ch_1", at.Add(time.Second))) }, "TU-2026-000002"},
			{"a rolled-back issue takes its number back", func() string {
				r := receiptOf(ups[2], tierup.KindReceipt, "ch_2", at.Add(2*time.Second))
				err := db.InTx(ctx, func(tx tierup.Store) error {
					if err := tx.IssueReceipt(ctx, r); err != nil {
						return err
					}
					return rollback
				})
				if !errors.Is(err, rollback) || r.Number != "TU-2026-000003" {
					t.Fatalf("%v, %s", err, r.Number)
				}
				if _, err := db.Receipt(ctx, r.ID); !errors.Is(err, tierup.ErrNotFound) {
					t.Errorf("rolled-back receipt: %v", err)
				}
				return issue(receiptOf(ups[2], tierup.KindReceipt, "ch_2", at.Add(2*time.Second)))
			}, "TU-2026-000003"},
			{"the same charge again is the same receipt", func() string {
				again := receiptOf(ups[0], tierup.KindReceipt, "ch_0", at.Add(time.Hour))
				issue(again)
				if again.ID != first.ID {
					t.Errorf("a second receipt %s for one charge", again.ID)
				}
				return again.Number
			}, "TU-2026-000001"},
			{"a credit note shares the series", func() string {
				cn := receiptOf(ups[0], tierup.KindCreditNote, "re_0", at.Add(3*time.Second))
				cn.Credits = &tierup.ReceiptRef{ID: first.ID, Number: first.Number}
				return issue(cn)
			}, "TU-2026-000004"},
			{"a new year starts again at 1", func() string {
				return issue(receiptOf(ups[3], tierup.KindReceipt, "ch_3", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
			}, "TU-2027-000001"},
		}
		for _, s := range steps {
			if got := s.do(); got != s.want {
				t.Errorf("%s: %s, want %s", s.name, got, s.want)
			}
		}

		got, err := db.Receipt(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, first)
		}
		list, err := db.Receipts(ctx, ups[0].AccountID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].Kind != tierup.KindCreditNote || list[1].ID != first.ID || list[0].Credits.Number != first.Number {
			t.Errorf("account's receipts, newest first: %+v", list)
		}
		byUpgrade, err := db.UpgradeReceipts(ctx, ups[0].ID)
		if err != nil || len(byUpgrade) != 2 || byUpgrade[0].ID != first.ID {
			t.Errorf("upgrade's receipts, oldest first: %+v, %v", byUpgrade, err)
		}
		if _, err := db.Receipt(ctx, "rcpt_none"); !errors.Is(err, tierup.ErrNotFound) {
			t.Errorf("missing receipt: %v", err)
		}
	})
}

// TestReceiptNumbersConcurrent issues receipts from many transactions at
// once: every number is used exactly once.
func TestReceiptNumbersConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		ups := fixture{t, db, at}.upgrades(12)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var numbers []string
		for i, u := range ups {
			wg.Go(func() {
				r := receiptOf(u, tierup.KindReceipt, fmt.Sprintf("ch_%d", i), at)
				err := db.InTx(ctx, func(tx tierup.Store) error { return tx.IssueReceipt(ctx, r) })
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				numbers = append(numbers, r.Number)
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(numbers)
		for i, got := range numbers {
			if want := tierup.ReceiptNumber("TU-2026", int64(i+1)); got != want {
				t.Fatalf("numbers %v: #%d is %s, want %s", numbers, i, got, want)
			}
		}
	})
}
