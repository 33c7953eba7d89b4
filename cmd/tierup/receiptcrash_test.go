package main

import (
	"fmt"
	"testing"

	"github.com/tierup/tierup/internal/apitest"
	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/proctest"
)

// paying is the moment the charge is in flight: the payment step runs and
// has not committed its outcome (the sandbox answers after 1.5 s).
func paying(r apitest.Response) bool {
	return r.Str("current_step") == "payment" && stepStatus(r, "payment") == "running"
}

// TestCrashKeepsReceiptNumbersGapless upgrades several accounts on one
// database, killing tierup with SIGKILL around their payments — while the
// charge is in flight, and just after the payment committed — and
// restarting it: the receipts are numbered 1…n in one series, each charge
// has exactly one, and no number is skipped or used twice.
func TestCrashKeepsReceiptNumbersGapless(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary several times")
	}
	bin := proctest.Build(t)
	kills := []struct {
		name string
		at   func(r apitest.Response) bool // nil: no crash
	}{
		{"while the charge is in flight", paying},
		{"just after the payment committed", func(r apitest.Response) bool { return stepStatus(r, "payment") == "succeeded" }},
		{"no crash", nil},
		{"while the next charge is in flight", paying},
	}
	dbtest.Each(t, func(t *testing.T, db string) {
		p := launch(t, bin, db)
		var tokens []string
		for i, k := range kills {
			c := apitest.Client{T: t, BaseURL: p.Base}
			_, token := newAccount(c, fmt.Sprintf("gapless%d@example.com", i))
			tokens = append(tokens, token)
			id := startUpgrade(c, token)
			if k.at != nil {
				poll(t, c, token, id, k.name, k.at)
				p.Kill()
				p = launch(t, bin, db)
				c.BaseURL = p.Base
			}
			poll(t, c, token, id, "completed", func(r apitest.Response) bool { return r.Str("status") == "completed" })
		}
		c := apitest.Client{T: t, BaseURL: p.Base}
		if n := len(c.Do("GET", "/v1/sandbox/ledger", "tu_admin_crash", nil).List("data")); n != len(kills) {
			t.Errorf("%d ledger entries for %d upgrades", n, len(kills))
		}
		checkReceiptNumbers(t, c, tokens, len(kills))
	})
}

// checkReceiptNumbers reads every receipt of the accounts and checks that
// there are want of them, one per account, numbered 1…want in one series.
func checkReceiptNumbers(t *testing.T, c apitest.Client, tokens []string, want int) {
	t.Helper()
	var numbers []string
	for _, token := range tokens {
		list := c.Do("GET", "/v1/receipts", token, nil)
		c.Expect(list, 200, "")
		if n := len(list.List("data")); n != 1 {
			t.Errorf("an account charged once has %d receipts: %s", n, list.Raw)
		}
		for _, r := range list.List("data") {
			number, _ := apitest.Dig(r, "number").(string)
			numbers = append(numbers, number)
		}
	}
	apitest.CheckReceiptNumbers(t, numbers, want)
}
