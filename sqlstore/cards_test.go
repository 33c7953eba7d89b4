package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/internal/dbtest"
)

// TestGatewayCustomerKeepsTheFirst: of two references written for one
// account and gateway, the first stays and both writers read it.
func TestGatewayCustomerKeepsTheFirst(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		expiringFixture(t, db, at)
		if _, err := db.GatewayCustomer(ctx, "acct_1", "stripe"); !errors.Is(err, tierup.ErrNotFound) {
			t.Fatalf("before any: %v, want not found", err)
		}
		for _, tt := range []struct{ gateway, ref, want string }{
			{"stripe", "cus_first", "cus_first"},
			{"stripe", "cus_second", "cus_first"},
			{"sandbox", "cus_sb_1", "cus_sb_1"}, // another gateway, another customer
		} {
			got, err := db.PutGatewayCustomer(ctx, "acct_1", tt.gateway, tt.ref, at)
			if err != nil || got != tt.want {
				t.Errorf("Put(%s, %s) = %q, %v; want %q", tt.gateway, tt.ref, got, err, tt.want)
			}
		}
	})
}
