package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/tierup/tierup"
	"github.com/tierup/tierup/app"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/stack"
)

func TestNewRefusesMissingDependencies(t *testing.T) {
	_, err := app.New(app.Deps{}, app.Config{})
	if err == nil {
		t.Fatal("New with no dependencies succeeded")
	}
	for _, name := range []string{"Store", "Catalog", "Clock", "Log", "Keys", "Engine", "Gateway", "Cluster"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestOptionalParts: what a configuration lacks answers with a code a
// client can act on, never a nil dereference.
func TestOptionalParts(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, sandbox := range []bool{false, true} {
		st, err := stack.Open(ctx, stack.Options{DB: dbtest.SQLite(t), App: app.Config{Sandbox: sandbox}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(ctx) })
		a := st.App
		tests := []struct {
			name string
			call func() error
			want tierup.Code
		}{
			{"faults", func() error { _, err := a.Faults(ctx); return err }, tierup.CodeSandboxDisabled},
			{"ledger", func() error { _, err := a.Ledger(ctx); return err }, tierup.CodeSandboxDisabled},
			{"stripe webhook", func() error { return a.StripeWebhook(ctx, []byte("{}"), "t=1,v1=00") }, tierup.CodeNotFound},
		}
		for _, tt := range tests {
			err := tt.call()
			switch {
			case !sandbox && !errors.Is(err, &tierup.Error{Code: tt.want}):
				t.Errorf("sandbox off: %s: %v, want %s", tt.name, err, tt.want)
			case sandbox && tt.want == tierup.CodeSandboxDisabled && err != nil:
				t.Errorf("sandbox on: %s: %v", tt.name, err)
			case sandbox && tt.want == tierup.CodeNotFound && !errors.Is(err, &tierup.Error{Code: tt.want}):
				t.Errorf("sandbox gateway: %s: %v, want %s", tt.name, err, tt.want)
			}
		}
	}
}
