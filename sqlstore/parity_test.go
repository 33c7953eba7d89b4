package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/sqlstore"
)

// schema is a database's tables as comparable lines, each keyed by what it
// describes ("upgrades.active", "upgrades index upgrades_one_active").
type schema map[string]string

// parityAllowed lists the intended differences between the dialects, by key,
// each with why. Anything else that differs fails TestSchemaParity. There is
// none today: types, nullability, keys and indexes all match once mapped
// (CHECK constraints and triggers are not compared).
var parityAllowed = map[string]string{
	// "table.column": "why the dialects differ here",
}

// pgTypes and sqliteTypes map each dialect's declared types to one name.
var (
	pgTypes = map[string]string{"text": "text", "bigint": "integer", "integer": "integer", "boolean": "boolean",
		"bytea": "blob", "timestamp with time zone": "timestamp"}
	sqliteTypes = map[string]string{"TEXT": "text", "INTEGER": "integer", "BOOLEAN": "boolean", "BLOB": "blob", "TIMESTAMP": "timestamp"}
)

func TestSchemaParity(t *testing.T) {
	ctx := context.Background()
	lite, pg := dbtest.SQLite(t), dbtest.Postgres(t)
	dbtest.OpenStore(t, lite)
	dbtest.OpenStore(t, pg)
	a, b := sqliteSchema(t, ctx, rawSQL(t, lite)), pgSchema(t, ctx, rawSQL(t, pg))
	if len(a) < 20 {
		t.Fatalf("read only %d schema lines from SQLite", len(a))
	}
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a[k] == b[k] {
			continue
		}
		if _, ok := parityAllowed[k]; ok {
			continue
		}
		t.Errorf("%s differs:\n\tsqlite:   %s\n\tpostgres: %s", k, orNone(a[k]), orNone(b[k]))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func ignored(table string) bool {
	return strings.HasPrefix(table, "river_") || table == "goose_db_version" || strings.HasPrefix(table, "sqlite_")
}

func queryLines(t *testing.T, ctx context.Context, db *sql.DB, query string, n int) [][]string {
	t.Helper()
	rs, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := make([]string, n)
		for i, v := range vals {
			line[i] = v.String
		}
		if !ignored(line[0]) {
			out = append(out, line)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// predicate normalises an index's WHERE clause: PostgreSQL writes it back
// parenthesised, SQLite as it was written.
func predicate(s string) string {
	s = strings.ToLower(s)
	s = regexp.MustCompile(`[()\s]+`).ReplaceAllString(s, " ")
	return strings.TrimSpace(s)
}

func sqliteSchema(t *testing.T, ctx context.Context, db *sql.DB) schema {
	s := schema{}
	for _, c := range queryLines(t, ctx, db, `SELECT m.name, c.name, c.type, c."notnull", c.pk, m.sql FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table'`, 6) {
		typ := sqliteTypes[c[2]]
		if c[4] == "1" && c[2] == "INTEGER" && strings.Contains(c[5], "AUTOINCREMENT") {
			typ = "serial" // INTEGER PRIMARY KEY AUTOINCREMENT is BIGSERIAL
		}
		if typ == "" {
			typ = "unmapped " + c[2]
		}
		// A primary key is NOT NULL in PostgreSQL whether said or not.
		notNull := c[3] == "1" || c[4] != "0"
		s[c[0]+"."+c[1]] = fmt.Sprintf("%s not null=%v", typ, notNull)
	}
	pks := map[string][]string{}
	for _, c := range queryLines(t, ctx, db, `SELECT m.name, c.name, c.pk FROM sqlite_master m, pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.pk > 0 ORDER BY m.name, c.pk`, 3) {
		pks[c[0]] = append(pks[c[0]], c[1])
	}
	for table, cols := range pks {
		s[table+" primary key"] = strings.Join(cols, ", ")
	}
	for _, ix := range queryLines(t, ctx, db, `SELECT m.name, il.name, il."unique", il.origin, il.partial, COALESCE(im.sql, ''),
			(SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno))
		FROM sqlite_master m, pragma_index_list(m.name) il LEFT JOIN sqlite_master im ON im.type = 'index' AND im.name = il.name
		WHERE m.type = 'table' AND il.origin <> 'pk'`, 7) {
		table, name, unique, origin, cols := ix[0], ix[1], ix[2] == "1", ix[3], ix[6]
		// The name a violation of the index gets: SQLite's message lists
		// "table.column, table.column".
		violation := sqlstore.SQLiteConstraint(table+"."+strings.ReplaceAll(cols, ", ", ", "+table+"."), false)
		if origin == "u" { // a UNIQUE constraint: named as PostgreSQL names it
			s[table+" unique "+violation] = cols
			continue
		}
		if unique && violation != name {
			t.Errorf("SQLite reports violations of unique index %s by its columns (%s): name it in sqliteConstraint", name, cols)
		}
		where := ""
		if _, w, ok := strings.Cut(strings.ToUpper(ix[5]), " WHERE "); ok {
			where = " where " + predicate(w)
		}
		s[table+" index "+name] = fmt.Sprintf("(%s) unique=%v%s", cols, unique, where)
	}
	for _, fk := range queryLines(t, ctx, db, `SELECT m.name, f."from", f."table", f."to" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table'`, 4) {
		s[fk[0]+"."+fk[1]+" references"] = fk[2] + "." + fk[3]
	}
	return s
}

func pgSchema(t *testing.T, ctx context.Context, db *sql.DB) schema {
	s := schema{}
	for _, c := range queryLines(t, ctx, db, `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable,
			COALESCE(c.column_default LIKE 'nextval(%', false)::text
		FROM information_schema.columns c JOIN information_schema.tables tb USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE'`, 5) {
		typ := pgTypes[c[2]]
		if c[4] == "true" {
			typ = "serial"
		}
		if typ == "" {
			typ = "unmapped " + c[2]
		}
		s[c[0]+"."+c[1]] = fmt.Sprintf("%s not null=%v", typ, c[3] == "NO")
	}
	for _, con := range queryLines(t, ctx, db, `SELECT tc.table_name, tc.constraint_name, tc.constraint_type,
			string_agg(k.column_name, ', ' ORDER BY k.ordinal_position)
		FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k
			USING (constraint_schema, constraint_name, table_name)
		WHERE tc.table_schema = current_schema() AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
		GROUP BY 1, 2, 3`, 4) {
		if con[2] == "PRIMARY KEY" {
			s[con[0]+" primary key"] = con[3]
		} else {
			s[con[0]+" unique "+con[1]] = con[3]
		}
	}
	for _, ix := range queryLines(t, ctx, db, `SELECT t.relname, i.relname, x.indisunique::text,
			(SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
			COALESCE(pg_get_expr(x.indpred, x.indrelid), '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`, 5) {
		where := ""
		if ix[4] != "" {
			where = " where " + predicate(ix[4])
		}
		s[ix[0]+" index "+ix[1]] = fmt.Sprintf("(%s) unique=%v%s", ix[3], ix[2] == "true", where)
	}
	for _, fk := range queryLines(t, ctx, db, `SELECT tc.table_name, k.column_name, ccu.table_name, ccu.column_name
		FROM information_schema.table_constraints tc
			JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
			JOIN information_schema.constraint_column_usage ccu USING (constraint_schema, constraint_name)
		WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'FOREIGN KEY'`, 4) {
		s[fk[0]+"."+fk[1]+" references"] = fk[2] + "." + fk[3]
	}
	return s
}
