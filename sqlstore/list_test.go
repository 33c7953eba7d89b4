package sqlstore_test

import (
	"context"
	"testing"

	"github.com/tierup/tierup/internal/dbtest"
)

func TestSchemaVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := context.Background()
		cur, latest, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// 00010 adds the listings' indexes; a newer migration raises both.
		if cur != latest || latest < 10 {
			t.Errorf("schema at %d, newest migration %d", cur, latest)
		}
		if _, err := db.SQLDB().ExecContext(ctx, `DELETE FROM goose_db_version WHERE version_id = $1`, latest); err != nil {
			t.Fatal(err)
		}
		if cur, _, err := db.SchemaVersion(ctx); err != nil || cur >= latest {
			t.Errorf("after forgetting %d: at %d, %v", latest, cur, err)
		}
	})
}
