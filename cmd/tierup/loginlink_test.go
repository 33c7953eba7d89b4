package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

// TestLoginLinkPrintsAWholeLink: the link can be opened as printed, for
// the address given, and it signs in.
func TestLoginLinkPrintsAWholeLink(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.SQLite(t)
	var acct string
	withStack(t, dsn, func(st *stack.Stack) {
		a, _, err := st.App.CreateAccount(ctx, app.NewAccount{Email: "link@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		acct = a.ID
	})
	for _, tt := range []struct {
		args []string
		base string
	}{
		{nil, "http://127.0.0.1:8080"},
		{[]string{"--base-url", "https://billing.example.com/"}, "https://billing.example.com"},
	} {
		out, stderr, code := runCmd(t, append([]string{"login-link", acct, "--db", dsn}, tt.args...)...)
		if code != 0 {
			t.Fatalf("login-link: exit %d: %s", code, stderr)
		}
		m := regexp.MustCompile(`^` + regexp.QuoteMeta(tt.base) + `/login\?token=(\S+)\n\(works once, until `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("login-link printed %q, want a whole link at %s", out, tt.base)
		}
		withStack(t, dsn, func(st *stack.Stack) {
			if _, s, err := st.App.UseLoginLink(ctx, m[1]); err != nil || s.AccountID != acct {
				t.Errorf("the printed link does not sign in: %v", err)
			}
		})
	}
}
