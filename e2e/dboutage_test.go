package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tierup/tierup/internal/dbtest"
	"github.com/tierup/tierup/internal/tcpproxy"
	"github.com/tierup/tierup/sim"
	"github.com/tierup/tierup/stack"
)

// TestDatabaseOutage cuts tierup off from PostgreSQL for 10 seconds in the
// middle of 20 upgrades (a loopback proxy between them drops every
// connection and refuses new ones): the API answers 503
// database_unavailable in bounded time instead of hanging, /readyz says the
// database fails, and once it is back every upgrade completes with one
// charge and nothing refunded.
func TestDatabaseOutage(t *testing.T) {
	const n = 20
	dsn := dbtest.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr
	h := start(t, u.String(), func(o *stack.Options) {
		o.Sim = sim.Config{ProvisionDelay: 2 * time.Second, MigrateDelay: 200 * time.Millisecond, Capacity: 2 * n}
	})
	var ups []startedUpgrade
	for i := range n {
		_, token := hobby(h, fmt.Sprintf("outage%d@example.com", i))
		ups = append(ups, startedUpgrade{token, h.upgrade(token, "pro-1m", h.card(token, "4242 4242 4242 4242"))})
	}
	time.Sleep(time.Second) // steps are running: charges, nodes booting

	proxy.Cut()
	cutAt := time.Now()
	for _, path := range []string{"/v1/account", "/v1/upgrades/" + ups[0].id} {
		sent := time.Now()
		r, err := h.Try("GET", path, ups[0].token, nil)
		if err != nil {
			t.Fatalf("GET %s while the database is down: %v", path, err)
		}
		if r.Status != http.StatusServiceUnavailable || r.Str("code") != "database_unavailable" {
			t.Errorf("GET %s while the database is down: %d %s", path, r.Status, r.Raw)
		}
		// A bound on hanging, not a speed assertion: the connect time-out
		// is 5 s, and a request must not wait for the kernel's.
		if waited := time.Since(sent); waited > 15*time.Second {
			t.Errorf("GET %s answered after %s", path, waited)
		}
	}
	if r, _ := h.Try("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable || r.Str("checks.database") == "ok" {
		t.Errorf("readiness while the database is down: %d %s", r.Status, r.Raw)
	}
	time.Sleep(10*time.Second - time.Since(cutAt))
	proxy.Restore(t)

	outcome := h.endings(ups)
	for _, up := range ups {
		if outcome[up.id] != "completed" {
			t.Errorf("upgrade %s ended %s after the outage", up.id, outcome[up.id])
		}
	}
	charges, _, refunds := h.charges()
	if charges != n || refunds != 0 {
		t.Errorf("%d charges and %d refunds for %d upgrades", charges, refunds, n)
	}
	if r := h.Do("GET", "/readyz", "", nil); r.Status != http.StatusOK {
		t.Errorf("readiness after the outage: %s", r.Raw)
	}
}
